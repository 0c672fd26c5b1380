"""Seismic: the scores it returns are the exact dot product within the fp16 rounding of its stored weights; with
its knobs wide open it finds the exact top-k; builds are atomic; bad knobs are refused clearly."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("seismic")

from transformers_ir.indexes import ExactSparseIndex, SeismicSparseIndex, sparse_index  # noqa: E402
from transformers_ir.indexes._seismic import FP16_EPS  # noqa: E402


def _corpus(n_docs=400, n_queries=30, vocab=300, seed=0):
    """SPLADE-like weights: Zipf-distributed terms, log1p-shaped weights, a few dozen terms per document."""
    rng = np.random.default_rng(seed)
    terms = [f"t{i}" for i in range(vocab)]
    probs = 1.0 / np.arange(1, vocab + 1) ** 0.8
    probs /= probs.sum()

    def vec(k):
        ids = rng.choice(vocab, size=k, replace=False, p=probs)
        return {terms[i]: float(np.log1p(rng.gamma(1.5, 0.8))) for i in ids}

    docs = [{"docno": f"doc{i:04d}", "toks": vec(int(rng.integers(5, 40)))} for i in range(n_docs)]
    queries = pd.DataFrame({"qid": [f"q{i}" for i in range(n_queries)],
                            "query_toks": [vec(int(rng.integers(3, 12))) for _ in range(n_queries)]})
    return docs, queries


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    docs, queries = _corpus()
    root = tmp_path_factory.mktemp("seismic")
    exact = sparse_index(root / "exact", "exact").indexer().index(iter(docs))
    seismic = sparse_index(root / "seismic", "seismic", n_postings=1000).indexer().index(iter(docs))
    return docs, queries, exact, seismic


def _dot(query: dict, doc: dict) -> float:
    return sum(w * doc.get(t, 0.0) for t, w in query.items())


def test_scores_are_the_exact_dot_product_within_fp16(built):
    docs, queries, _, seismic = built
    assert type(seismic) is SeismicSparseIndex and seismic.num_docs() == len(docs)
    by_docno = {d["docno"]: d["toks"] for d in docs}
    qtoks = dict(zip(queries["qid"], queries["query_toks"]))
    for knobs in ({"query_cut": 3, "heap_factor": 0.5}, {"query_cut": 50, "heap_factor": 1.0}):
        out = seismic.retriever(num_results=10, **knobs)(queries)
        assert len(out) > 0
        want = np.array([_dot(qtoks[q], by_docno[d]) for q, d in zip(out["qid"], out["docno"])])
        # each stored weight is within a relative 2^-11 of ours, so the sum within that of sum |q_t d_t|
        bound = np.array([sum(w * by_docno[d].get(t, 0.0) for t, w in qtoks[q].items())
                          for q, d in zip(out["qid"], out["docno"])]) * FP16_EPS * 1.01 + 1e-6
        assert np.all(np.abs(out["score"].to_numpy() - want) <= bound)


def test_wide_open_knobs_find_the_exact_top_k(built, tmp_path):
    """Nothing pruned (n_postings above the corpus), summaries keeping all their energy (an upper bound of every
    block's scores) and heap_factor 1: Seismic's search is exact."""
    docs, queries, exact, _ = built
    seismic = SeismicSparseIndex(tmp_path / "full", n_postings=1000, summary_energy=1.0).indexer().index(iter(docs))
    got = seismic.retriever(num_results=10, query_cut=100, heap_factor=1.0)(queries)
    want = exact.retriever(num_results=10)(queries)
    for qid, group in want.groupby("qid"):
        found = got[got["qid"] == qid]
        # ties within fp16 rounding may swap the last place; the 9 best are the same documents
        assert set(group["docno"].head(9)) <= set(found["docno"]), qid
        assert found["score"].to_numpy() == pytest.approx(group["score"].to_numpy(), rel=2 * FP16_EPS)


def test_tight_knobs_trade_recall(built):
    _, queries, exact, seismic = built
    want = exact.retriever(num_results=10)(queries)
    loose = seismic.retriever(num_results=10, query_cut=1, heap_factor=0.1)(queries)

    def recall(got):
        return np.mean([len(set(g["docno"]) & set(got[got["qid"] == q]["docno"])) / len(g)
                        for q, g in want.groupby("qid")])
    assert recall(loose) < 1.0


def test_reopened_index_keeps_its_build_knobs(built):
    _, queries, _, seismic = built
    reopened = SeismicSparseIndex(seismic.path)
    assert reopened.metadata["n_postings"] == 1000 and reopened.metadata["doc_cut"] == 15
    pd.testing.assert_frame_equal(reopened.retriever(num_results=5)(queries), seismic.retriever(num_results=5)(queries))
    assert "n_postings=1000" in repr(seismic)
    assert repr(seismic.retriever(num_results=5, query_cut=7)) == \
        f"{seismic!r}.retriever(num_results=5, query_cut=7, heap_factor=0.9)"


def test_an_interrupted_build_leaves_nothing(tmp_path):
    docs, _ = _corpus(n_docs=20)

    def failing():
        yield from docs[:10]
        raise RuntimeError("corpus read failed")

    index = SeismicSparseIndex(tmp_path / "idx")
    with pytest.raises(RuntimeError, match="corpus read failed"):
        index.indexer().index(failing())
    assert not index.built() and not (tmp_path / "idx").exists()
    (tmp_path / "idx").mkdir()  # a folder without the marker is an interrupted build: never opened
    with pytest.raises(FileNotFoundError, match="build it first"):
        SeismicSparseIndex(tmp_path / "idx").retriever()


def test_a_damaged_index_file_is_refused(tmp_path):
    from transformers_ir.indexes import CorruptIndex

    docs, queries = _corpus(n_docs=50)
    index = SeismicSparseIndex(tmp_path / "idx").indexer().index(iter(docs))
    stored = tmp_path / "idx" / "seismic.index.seismic"
    stored.write_bytes(b"\0" * stored.stat().st_size)
    with pytest.raises(CorruptIndex, match="rebuild"):
        index.retriever()


@pytest.mark.parametrize("knob, value, match", [
    ("n_postings", 0, "n_postings must be a positive int"),
    ("summary_energy", 1.5, r"summary_energy must be a number in \(0, 1\]"),
    ("centroid_fraction", -0.1, "centroid_fraction"),
    ("doc_cut", 2.5, "doc_cut must be a positive int"),
])
def test_bad_build_knobs_are_refused(tmp_path, knob, value, match):
    with pytest.raises(ValueError, match=match):
        SeismicSparseIndex(tmp_path / "idx", **{knob: value})


@pytest.mark.parametrize("knob, value, match", [
    ("query_cut", 0, "query_cut must be a positive int"),
    ("heap_factor", 0.0, r"heap_factor must be a number in \(0, 1\]"),
    ("heap_factor", 1.5, "heap_factor"),
])
def test_bad_search_knobs_are_refused(built, knob, value, match):
    with pytest.raises(ValueError, match=match):
        built[3].retriever(**{knob: value})


def test_exact_and_seismic_agree_on_the_index_statistics(built):
    _, queries, exact, seismic = built
    assert isinstance(exact, ExactSparseIndex)
    assert seismic.document_frequencies() == exact.document_frequencies()
    assert seismic.stats(queries["query_toks"])["flops"] == pytest.approx(exact.stats(queries["query_toks"])["flops"])
