"""SPLADE indexes: PISA and Terrier return the brute-force top-k of the same integer impacts; bad input fails
clearly and leaves no index behind."""
from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from transformers_ir.indexes import (
    DEFAULT_SCALE,
    CorruptIndex,
    ExactSparseIndex,
    PisaSparseIndex,
    pisa_term,
    quantise_toks,
    sparse_index,
)

ENGINES = ["pisa", pytest.param("terrier", marks=pytest.mark.java), "exact", "seismic"]


def _build(tmp_path, engine, docs, **kwargs):
    return sparse_index(tmp_path / engine, engine, **kwargs).indexer().index(iter(docs))


def _by_query(results):
    return {qid: list(zip(g["docno"], g["score"])) for qid, g in results.groupby("qid")}


@pytest.mark.parametrize("engine", ["pisa", pytest.param("terrier", marks=pytest.mark.java)])
def test_engine_returns_the_bruteforce_ranking_of_its_impacts(tmp_path, splade, encoded, queries, engine):
    index = _build(tmp_path, engine, encoded)
    exact = _build(tmp_path, "exact", encoded)
    q = splade.query_encoder()(queries)
    got = _by_query(index.retriever(num_results=5)(q))
    want = _by_query(exact.retriever(num_results=5, quantised=True)(q))
    assert got.keys() == want.keys() and len(got) == 3
    for qid in want:
        assert [d for d, _ in got[qid]] == [d for d, _ in want[qid]]
        assert [s for _, s in got[qid]] == pytest.approx([s for _, s in want[qid]], rel=1e-6)


def test_pisa_inverting_in_batches_gives_the_same_index(tmp_path, splade, encoded, queries):
    # pyterrier-pisa inverts invert_batch documents at a time in memory, then merges the batches on disk
    q = splade.query_encoder()(queries)
    whole = _by_query(_build(tmp_path / "whole", "pisa", encoded).retriever(num_results=5)(q))
    batched_index = _build(tmp_path / "batched", "pisa", encoded, invert_batch=2)
    assert batched_index.num_docs() == len(encoded) > 2
    assert _by_query(batched_index.retriever(num_results=5)(q)) == whole
    with pytest.raises(ValueError, match="invert_batch must be a positive int"):
        PisaSparseIndex(tmp_path / "bad", invert_batch=0)


def test_a_sharded_pisa_index_ranks_as_one_index(tmp_path, splade, encoded, queries):
    """shard_docs bounds a build's memory by the shard: one PISA index per shard_docs documents, searched
    together; the merged top-k is the unsharded one, the statistics count every shard, corrupting a shard's file
    is caught on open."""
    q = splade.query_encoder()(queries)
    whole = _build(tmp_path / "whole", "pisa", encoded)
    sharded = _build(tmp_path / "sharded", "pisa", encoded, shard_docs=2)
    assert sharded.metadata["shards"] == math.ceil(len(encoded) / 2) > 1 and sharded.num_docs() == len(encoded)
    assert "shard_docs=2" in repr(sharded)
    for k in (2, 100):
        assert _by_query(sharded.retriever(num_results=k)(q)) == _by_query(whole.retriever(num_results=k)(q))
    assert sharded.stats()["docs"] == len(encoded) and sharded.document_frequencies() == whole.document_frequencies()
    reopened = PisaSparseIndex(sharded.path)  # the sharding is read from the index, not the constructor
    assert _by_query(reopened.retriever(num_results=100)(q)) == _by_query(whole.retriever(num_results=100)(q))
    part = next(p for p in sorted((sharded.path / "shards").rglob("*")) if p.is_file() and p.stat().st_size > 8)
    part.write_bytes(b"x" * part.stat().st_size)
    with pytest.raises(CorruptIndex):
        PisaSparseIndex(sharded.path).retriever()
    with pytest.raises(ValueError, match="shard_docs must be a positive int"):
        PisaSparseIndex(tmp_path / "bad", shard_docs=0)


def test_a_source_failing_in_a_later_shard_leaves_nothing(tmp_path, encoded):
    def docs():
        yield from encoded[:3]
        raise RuntimeError("corpus read failed")

    with pytest.raises(RuntimeError, match="corpus read failed"):
        PisaSparseIndex(tmp_path / "pisa", shard_docs=2).indexer().index(docs())
    assert not (tmp_path / "pisa").exists()


def test_quantised_scores_approximate_the_float_dot_product(tmp_path, splade, encoded, queries):
    exact = _build(tmp_path, "exact", encoded)
    q = splade.query_encoder()(queries)
    floats = exact.retriever()(q).set_index(["qid", "docno"])["score"]
    ints = exact.retriever(quantised=True)(q).set_index(["qid", "docno"])["score"]
    common = floats.index.intersection(ints.index)
    assert len(common) > 0
    # each of the <= n shared terms is off by at most (q + d) / (2 scale) + 1 / (4 scale^2)
    assert (floats[common] - ints[common]).abs().max() < 0.05


@pytest.mark.parametrize("engine", ENGINES)
def test_retriever_contract(tmp_path, splade, encoded, engine):
    retriever = _build(tmp_path, engine, encoded).retriever(num_results=3)
    empty = retriever(pd.DataFrame(columns=["qid", "query", "query_toks"]))
    assert len(empty) == 0 and {"qid", "query", "query_toks", "docno", "score", "rank"} <= set(empty.columns)
    q = pd.DataFrame({"qid": ["a", "b", "c"], "query": ["x", "y", "z"],
                      "query_toks": [{"zzz-not-in-index": 1.0}, {}, {"cells": 1.0, "brain": 0.5}]})
    out = retriever(q)
    assert set(out["qid"]) == {"c"}  # no shared term -> no result, not an error
    assert out["rank"].tolist() == list(range(len(out))) and len(out) <= 3
    assert out["score"].is_monotonic_decreasing and (out["score"] > 0).all()
    assert out["query"].eq("z").all() and out["query_toks"].map(len).eq(2).all()


def test_pisa_stores_terms_it_would_otherwise_mangle(tmp_path):
    terms = ["[CLS]", "Paris", "a b", "line\nbreak", "\u00a7xabc", "café", "##ing", ","]
    docs = [{"docno": f"d{i}", "toks": {t: 1.0 + i}} for i, t in enumerate(terms)]
    index = _build(tmp_path, "pisa", docs)
    out = index.retriever()(pd.DataFrame({"qid": [str(i) for i in range(len(terms))],
                                          "query_toks": [{t: 1.0} for t in terms]}))
    assert dict(zip(out["qid"], out["docno"])) == {str(i): f"d{i}" for i in range(len(terms))}
    assert len({pisa_term(t) for t in terms}) == len(terms)


@pytest.mark.parametrize("bad, match", [
    ({"cells": float("nan")}, "finite"),
    ({"cells": -0.5}, "negative"),
    ({"cells": "heavy"}, "not a number"),
    (["cells"], "dict"),
])
@pytest.mark.parametrize("engine", ["pisa", "exact", "seismic"])
def test_bad_weights_fail_clearly_and_leave_no_index(tmp_path, encoded, bad, match, engine):
    docs = encoded[:3] + [{"docno": "bad", "toks": bad}] + encoded[3:]
    index = sparse_index(tmp_path / "idx", engine)
    with pytest.raises((ValueError, TypeError), match=match):
        index.indexer().index(iter(docs))
    assert not index.built() and not (tmp_path / "idx").exists()


def test_existing_index_is_refused_unless_overwrite(tmp_path, encoded):
    index = _build(tmp_path, "pisa", encoded)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        index.indexer().index(iter(encoded))
    index.indexer(overwrite=True).index(iter(encoded[:2]))
    assert PisaSparseIndex(index.path).num_docs() == 2


def test_interrupted_build_is_detected_and_never_opened(tmp_path, encoded):
    path = tmp_path / "pisa"
    path.mkdir()
    (path / "inv.docs").write_bytes(b"half")  # what a killed process leaves: files, no completion marker
    index = PisaSparseIndex(path)
    assert index.incomplete()
    with pytest.raises(FileNotFoundError, match="build it first"):
        index.retriever()
    with pytest.raises(FileExistsError, match="incomplete index"):
        index.indexer().index(iter(encoded))
    index.indexer(overwrite=True).index(iter(encoded))
    assert index.built() and index.num_docs() == len(encoded)


def test_source_failing_midway_leaves_nothing(tmp_path, encoded):
    def docs():
        yield from encoded[:3]
        raise RuntimeError("corpus read failed")

    index = PisaSparseIndex(tmp_path / "pisa")
    with pytest.raises(RuntimeError, match="corpus read failed"):
        index.indexer().index(docs())
    assert not (tmp_path / "pisa").exists()


def test_damaged_index_is_refused(tmp_path, encoded):
    index = _build(tmp_path, "exact", encoded)
    (index.path / "docnos.json").write_text(json.dumps(["x"] * len(encoded)))
    with pytest.raises(CorruptIndex):
        ExactSparseIndex(index.path).retriever()


def test_scale_is_one_setting_kept_by_the_index(tmp_path, encoded):
    index = _build(tmp_path, "pisa", encoded, scale=10)
    assert PisaSparseIndex(index.path).scale == 10 and index.metadata["scale"] == 10
    with pytest.raises(ValueError, match="built with scale=10"):
        PisaSparseIndex(index.path, scale=DEFAULT_SCALE)
    with pytest.raises(ValueError, match="positive"):
        PisaSparseIndex(tmp_path / "other", scale=0)
    assert quantise_toks({"a": 0.004, "b": 0.005, "c": 1.234}, 100) == {"b": 1, "c": 123}


def test_statistics(tmp_path):
    docs = [{"docno": "a", "toks": {"x": 1.0, "y": 2.0}}, {"docno": "b", "toks": {"x": 1.0}},
            {"docno": "c", "toks": {"z": 0.001}}]  # z rounds to 0 at scale 100: not stored
    index = _build(tmp_path, "pisa", docs)
    retriever = index.retriever()
    retriever(pd.DataFrame({"qid": ["1", "2"], "query_toks": [{"x": 1.0, "y": 1.0}, {"z": 1.0, "w": 3.0}]}))
    stats = retriever.stats()
    assert stats["docs"] == 3 and stats["avg_doc_nnz"] == pytest.approx(3 / 3)
    assert stats["avg_query_nnz"] == pytest.approx(2.0)
    # FLOPS: query 1 shares x with 2 of 3 docs and y with 1 of 3: 1.0; query 2 shares nothing: 0
    assert stats["flops"] == pytest.approx(0.5)
    assert stats["index_mb"] > 0 and stats["build_s"] >= 0
    runner = retriever.sparsity_stats()
    assert runner["query_nnz"] == 2.0 and runner["flops"] == pytest.approx(0.5) and runner["doc_nnz"] == 1.0
    # the retriever keeps counts per term, not the queries: the same query again changes neither figure
    retriever(pd.DataFrame({"qid": ["3"], "query_toks": [{"x": 1.0, "y": 1.0}]}))
    assert retriever.query_terms.queries == 3 and retriever.query_terms.terms["x"] == 2
    again = retriever.stats()
    assert again["queries"] == 3 and again["avg_query_nnz"] == pytest.approx(2.0)
    assert again["flops"] == pytest.approx((1.0 + 0 + 1.0) / 3)


def test_stats_from_cached_frames(tmp_path):
    index = _build(tmp_path, "exact", [{"docno": "a", "toks": {"x": 1.0}}, {"docno": "b", "toks": {"y": 1.0}}])
    frame = pd.DataFrame({"qid": ["1", "1"], "docno": ["a", "b"], "query_toks": [{"x": 1.0, "y": 2.0}] * 2})
    assert index.retriever().sparsity_stats([frame])["flops"] == pytest.approx(1.0)


def test_reprs_read_like_the_calls(tmp_path, encoded):
    index = _build(tmp_path, "exact", encoded)
    assert repr(index) == f"ExactSparseIndex({str(index.path)!r})"
    assert repr(index.retriever(num_results=5, quantised=True)) == f"{index!r}.retriever(num_results=5, quantised=True)"
    assert index.retriever() == ExactSparseIndex(index.path).retriever()
    assert math.isclose(PisaSparseIndex(tmp_path / "new", scale=50).scale, 50)
    assert "scale=50" in repr(PisaSparseIndex(tmp_path / "new", scale=50))

