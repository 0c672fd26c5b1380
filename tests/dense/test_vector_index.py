"""The vector index: built atomically, reopened as a PyTerrier artifact, exact search equal to a plain NumPy ranking
(scores and ties), HNSW close to exact, and every kind of bad input refused with an error naming it."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyterrier as pt
import pytest

from transformers_ir import VectorIndex
from transformers_ir.errors import IndexMismatch
from transformers_ir.indexes import IndexArtifact, VectorIndexer, VectorRetriever

DIM = 16


def _docs(vectors, prefix="d"):
    return [{"docno": f"{prefix}{i}", "doc_vec": v} for i, v in enumerate(vectors)]


def _queries(vectors, **columns):
    return pd.DataFrame({"qid": [f"q{i}" for i in range(len(vectors))], "query_vec": list(vectors), **columns})


def _reference(queries: np.ndarray, docs: np.ndarray, docnos: list[str], k: int) -> list[list[tuple[str, float]]]:
    """Each query's top k by a plain full ranking: float32 matrix product, score descending then docno."""
    scores = queries @ docs.T
    out = []
    for row in scores:
        order = sorted(range(len(docnos)), key=lambda j: (-row[j], docnos[j]))[:k]
        out.append([(docnos[j], float(row[j])) for j in order])
    return out


def _as_lists(results: pd.DataFrame, qids) -> list[list[tuple[str, float]]]:
    return [[(d, s) for d, s in zip(g["docno"], g["score"])]
            for g in (results[results["qid"] == q].sort_values("rank") for q in qids)]


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(7)
    return rng.standard_normal((1000, DIM)).astype(np.float32), rng.standard_normal((12, DIM)).astype(np.float32)


@pytest.fixture(scope="module")
def built(tmp_path_factory, corpus):
    docs, _ = corpus
    return VectorIndex(tmp_path_factory.mktemp("vec") / "index").indexer(model_id="model-a", hnsw=True).index(
        _docs(docs))


def test_build_records_what_it_holds(built, corpus):
    docs, _ = corpus
    assert built.built and built.built() and len(built) == 1000 and built.dim == DIM
    assert built.model_id == "model-a" and built.docnos[:2].tolist() == ["d0", "d1"]
    vectors = built.vectors()
    assert isinstance(vectors, np.memmap) and vectors.dtype == np.float32 and not vectors.flags.writeable
    np.testing.assert_array_equal(vectors, docs)
    assert np.load(built.path / "docnos.npy", allow_pickle=False).dtype.kind == "U"  # no pickle: fixed-width text
    meta = json.loads((built.path / "pt_meta.json").read_text())
    assert (meta["type"], meta["format"]) == ("dense_index", "transformers-ir.vectors")
    reopened = pt.Artifact.load(str(built.path)) if _entry_point_installed() else VectorIndex(built.path)
    assert type(reopened) is VectorIndex and isinstance(reopened, IndexArtifact) and reopened == built


def _entry_point_installed() -> bool:
    from importlib.metadata import entry_points

    return any(e.name == "dense_index.transformers-ir.vectors" for e in entry_points(group="pyterrier.artifact"))


@pytest.mark.parametrize("block_size", [None, 1, 7, 333, 5000])
def test_exact_search_equals_a_full_numpy_ranking(built, corpus, block_size):
    docs, queries = corpus
    results = built.retriever(25, block_size=block_size)(_queries(queries, query=["text"] * len(queries)))
    expected = _reference(queries, docs, [f"d{i}" for i in range(len(docs))], 25)
    got = _as_lists(results, [f"q{i}" for i in range(len(queries))])
    assert [[d for d, _ in q] for q in got] == [[d for d, _ in q] for q in expected]
    np.testing.assert_allclose([[s for _, s in q] for q in got], [[s for _, s in q] for q in expected], rtol=1e-5,
                               atol=1e-5)
    assert list(results.columns) == ["qid", "query_vec", "query", "docno", "score", "rank"]
    assert results.groupby("qid")["rank"].apply(list).map(lambda r: r == list(range(25))).all()


def test_ties_are_broken_by_docno_across_blocks(tmp_path):
    """Integer vectors make exact, massive ties: the kept documents at the cut are the smallest docnos, whatever
    block they sit in or the order they were indexed in."""
    rng = np.random.default_rng(3)
    docs = rng.integers(0, 2, size=(300, 4)).astype(np.float32)  # 16 distinct vectors, many ties
    docnos = [f"doc{n:03d}" for n in rng.permutation(300)]
    index = VectorIndex(tmp_path / "i").indexer(model_id="m").index(
        [{"docno": d, "doc_vec": v} for d, v in zip(docnos, docs)])
    queries = rng.integers(0, 3, size=(5, 4)).astype(np.float32)
    expected = _reference(queries, docs, docnos, 40)
    for block_size in (1, 16, 64, 1000):
        got = _as_lists(index.retriever(40, block_size=block_size)(_queries(queries)), [f"q{i}" for i in range(5)])
        assert got == expected


def test_hnsw_recall_against_exact(built, corpus):
    docs, _ = corpus
    queries = np.random.default_rng(11).standard_normal((50, DIM)).astype(np.float32)
    exact = built.retriever(10)(_queries(queries))
    approx = built.retriever(10, method="hnsw", ef_search=64)(_queries(queries))
    hits = sum(len(set(e["docno"]) & set(a["docno"]))
               for (_, e), (_, a) in zip(exact.groupby("qid"), approx.groupby("qid")))
    assert hits / (10 * len(queries)) >= 0.95
    row = approx.merge(exact, on=["qid", "docno"], suffixes=("", "_exact"))
    np.testing.assert_allclose(row["score"], row["score_exact"], rtol=1e-5, atol=1e-5)  # the same inner products


def test_hnsw_needs_the_graph_at_build(tmp_path, corpus):
    index = VectorIndex(tmp_path / "i").indexer(model_id="m").index(_docs(corpus[0][:20]))
    with pytest.raises(ValueError, match="built without HNSW.*hnsw=True"):
        index.retriever(method="hnsw")
    with pytest.raises(ValueError, match="unknown HNSW settings"):
        VectorIndex(tmp_path / "j").indexer(model_id="m", hnsw={"m": 16})


def test_a_frame_builds_the_same_index(tmp_path, corpus):
    docs = corpus[0][:50]
    index = VectorIndex(tmp_path / "i").indexer(model_id="m").index(pd.DataFrame(_docs(docs)))
    np.testing.assert_array_equal(index.vectors(), docs)
    assert index.docnos.tolist() == [f"d{i}" for i in range(50)]


def test_num_results_beyond_the_corpus_and_empty_queries(tmp_path, corpus):
    index = VectorIndex(tmp_path / "i").indexer(model_id="m", hnsw=True).index(_docs(corpus[0][:5]))
    for method in ("exact", "hnsw"):
        out = index.retriever(100, method=method)(_queries(corpus[1][:2]))
        assert out.groupby("qid").size().tolist() == [5, 5] and sorted(out["rank"].unique()) == list(range(5))
        empty = index.retriever(10, method=method)(_queries(corpus[1][:0], query=[]))
        assert len(empty) == 0 and list(empty.columns) == ["qid", "query_vec", "query", "docno", "score", "rank"]


def test_stages_round_trip_through_pt_inspect(built):
    for stage in (built.retriever(7, method="hnsw", ef_search=40, block_size=100),
                  VectorIndex(built.path.parent / "other").indexer(model_id="m", hnsw={"M": 8})):
        attributes = pt.inspect.transformer_attributes(stage)  # strict: every constructor argument is found
        assert all(a.value is not pt.inspect.TransformerAttribute.MISSING for a in attributes)
        assert not any(callable(a.value) for a in attributes), "a method read as an attribute"
        rebuilt = pt.inspect.transformer_apply_attributes(stage)
        assert rebuilt is not stage and rebuilt == stage and hash(rebuilt) == hash(stage)
        assert repr(rebuilt) == repr(stage)
    assert isinstance(built.retriever(), VectorRetriever) and repr(built.retriever(5)).endswith(
        ".retriever(num_results=5)")
    assert isinstance(built.indexer(model_id="m"), VectorIndexer)


# ---------------------------------------------------------------- bad input


def test_an_index_of_another_model_is_refused(built):
    built.check_model("model-a")
    with pytest.raises(IndexMismatch, match=r"'model-a', not of 'model-b': rebuild it with this model.*the model "
                                            r"that built it"):
        built.check_model("model-b")


@pytest.mark.parametrize("docs, error, match", [
    ([], ValueError, "the corpus is empty"),
    ([{"docno": "a", "doc_vec": np.ones(4)}, {"docno": "b", "doc_vec": np.ones(5)}], ValueError,
     "document 'b' has 5 values, the documents before it 4"),
    ([{"docno": "a", "doc_vec": np.ones(4)}, {"docno": "b", "doc_vec": [1.0, np.nan, 0, 0]}], ValueError,
     "document 'b' holds NaN or infinite"),
    ([{"docno": "a", "doc_vec": np.array([1.0, np.inf])}], ValueError, "document 'a' holds NaN or infinite"),
    ([{"docno": "a", "doc_vec": np.array([1e300, 1.0])}], ValueError, "document 'a' holds NaN or infinite.*float32"),
    ([{"docno": "a", "doc_vec": np.ones(4)}, {"docno": "a", "doc_vec": np.ones(4)}], ValueError,
     "duplicate docno 'a'"),
    ([{"docno": "a", "doc_vec": np.ones((2, 2))}], ValueError, "document 'a' must be a 1-D array"),
    ([{"docno": "a", "doc_vec": "text"}], ValueError, "document 'a' must be a 1-D array of numbers"),
    ([{"docno": "a", "toks": {"x": 1.0}}], KeyError, "document 'a' has no 'doc_vec'.*doc_encoder"),
    ([{"docno": 1, "doc_vec": np.ones(2)}], TypeError, "docno 1 is a int"),
])
def test_bad_documents_are_refused_and_nothing_is_left(tmp_path, docs, error, match):
    index = VectorIndex(tmp_path / "i")
    with pytest.raises(error, match=match):
        index.indexer(model_id="m").index(iter(docs))
    assert not index.built and not (tmp_path / "i").exists() and list(tmp_path.iterdir()) == []


def test_a_killed_build_is_never_read_back(tmp_path, corpus):
    """A source failing mid-stream (after several blocks were written) leaves no index, and an earlier complete
    index at the same path stays as it was."""
    def failing(n):
        for i, v in enumerate(np.random.default_rng(0).standard_normal((n, DIM)).astype(np.float32)):
            if i == n - 1:
                raise RuntimeError("encoder died")
            yield {"docno": f"x{i}", "doc_vec": v}

    index = VectorIndex(tmp_path / "i")
    with pytest.raises(RuntimeError, match="encoder died"):
        index.indexer(model_id="m").index(failing(9000))
    assert not index.built and not (tmp_path / "i").exists()
    with pytest.raises(FileNotFoundError, match="no complete vectors index"):
        index.retriever()
    index.indexer(model_id="m").index(_docs(corpus[0][:10]))
    with pytest.raises(RuntimeError, match="encoder died"):
        index.indexer(model_id="other", overwrite=True).index(failing(9000))
    assert index.built and len(index) == 10 and index.model_id == "m"
    (tmp_path / "half").mkdir()  # a folder without the marker: an interrupted build of another kind
    half = VectorIndex(tmp_path / "half")
    assert half.incomplete() and not half.built and half.model_id is None
    with pytest.raises(FileExistsError, match="incomplete index"):
        half.indexer(model_id="m").index(_docs(corpus[0][:3]))


def test_a_built_index_is_not_overwritten_silently(built):
    with pytest.raises(FileExistsError, match="overwrite=True"):
        built.indexer(model_id="model-a").index(_docs(np.ones((2, DIM), np.float32)))


def test_a_damaged_vector_file_is_refused(tmp_path, corpus):
    index = VectorIndex(tmp_path / "i").indexer(model_id="m").index(_docs(corpus[0][:10]))
    with open(index.path / "vectors.npy", "ab") as f:
        f.write(b"\0" * 8)
    with pytest.raises(Exception, match="vectors.npy is"):
        index.retriever()


def test_bad_queries_are_refused(built, corpus):
    retriever = built.retriever(5)
    with pytest.raises(pt.validate.InputValidationError, match=r"\['query_vec'\] missing.*query_encoder\(\)"):
        retriever(pd.DataFrame({"qid": ["q1"], "query": ["text"]}))
    with pytest.raises(ValueError, match="query 'q0' has 3 values, the index's vectors 16"):
        retriever(_queries([np.ones(3, np.float32)]))
    with pytest.raises(ValueError, match="query 'q1' holds NaN"):
        retriever(_queries([np.ones(DIM), np.full(DIM, np.nan)]))
    with pytest.raises(ValueError, match="num_results must be a positive whole number"):
        built.retriever(0)
    with pytest.raises(ValueError, match="ef_search must be a positive whole number"):
        built.retriever(5, method="hnsw", ef_search=0)
    with pytest.raises(ValueError, match="unknown method 'ivf'"):
        built.retriever(5, method="ivf")
    with pytest.raises(ValueError, match="model_id must name the model"):
        built.indexer(model_id="", overwrite=True).index(_docs(corpus[0][:2]))
