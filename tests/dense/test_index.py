"""The family with the vector index: indexer and retriever agree with brute force over encode(); an index of
another model is refused naming both; a dataset's index is built once, reopened, rebuilt when interrupted; the
components build working systems."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import tiny_models

from transformers_ir.dense import BiEncoder, dataset_dense_index
from transformers_ir.errors import IndexMismatch
from transformers_ir.indexes import VectorIndex
from transformers_ir.registry import Context, registry

from .conftest import DOCS, TinyDataset


@pytest.fixture(scope="module")
def built(tmp_path_factory, bi_encoder):
    index = VectorIndex(tmp_path_factory.mktemp("vectors") / "index")
    return bi_encoder.indexer(index, hnsw=True).index(iter([dict(d) for d in DOCS]))


def _other(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return BiEncoder.from_pretrained(str(tiny_models.bert_encoder(tmp_path / "other", seed=1)),
                                         query_max_length=16, doc_max_length=24)


def test_indexer_records_the_model_and_stores_its_vectors(built, bi_encoder):
    assert built.model_id == bi_encoder.identity and len(built) == len(DOCS)
    expected = bi_encoder.encode([d["text"] for d in DOCS], "doc")
    assert np.abs(np.asarray(built.vectors()) - expected).max() <= 1e-5
    assert built.docnos.tolist() == [d["docno"] for d in DOCS]


@pytest.mark.parametrize("method", ["exact", "hnsw"])
def test_retriever_is_brute_force_over_encode(built, bi_encoder, queries, method):
    out = bi_encoder.retriever(built, num_results=len(DOCS), method=method)(queries)
    q = bi_encoder.encode(queries["query"].tolist(), "query")
    d = bi_encoder.encode([doc["text"] for doc in DOCS], "doc")
    for i, qid in enumerate(queries["qid"]):
        got = out[out.qid == qid]
        assert got["rank"].tolist() == list(range(len(DOCS)))
        scores = dict(zip(got["docno"], got["score"]))
        for j, doc in enumerate(DOCS):
            assert scores[doc["docno"]] == pytest.approx(float(q[i] @ d[j]), abs=1e-5)
    assert {"qid", "query", "query_vec", "docno", "score", "rank"} <= set(out.columns)


def test_an_index_of_another_model_is_refused_naming_both(built, bi_encoder, tmp_path):
    other = _other(tmp_path)
    with pytest.raises(IndexMismatch) as error:
        other.retriever(built)
    assert bi_encoder.identity in str(error.value) and other.identity in str(error.value)
    with pytest.raises(IndexMismatch):
        other.scorer(doc_index=built)


def test_scorer_reads_the_indexed_vectors(built, bi_encoder, queries):
    texts = {d["docno"]: d["text"] for d in DOCS}
    res = pd.DataFrame([{"qid": q.qid, "query": q.query, "docno": d, "score": 0.0, "rank": 0}
                        for q in queries.itertuples() for d in ["d6", "d0", "d3"]])
    stored = bi_encoder.scorer(doc_index=built)(res)  # no text needed: every document is in the index
    encoded = bi_encoder.scorer()(res.assign(text=res["docno"].map(texts)))
    assert stored["docno"].tolist() == encoded["docno"].tolist()
    assert stored["score"].to_numpy() == pytest.approx(encoded["score"].to_numpy(), abs=1e-5)


def test_dataset_index_is_built_once_reopened_and_rebuilt_when_interrupted(tmp_path, bi_encoder, caplog):
    dataset = TinyDataset()
    index = dataset_dense_index(dataset, bi_encoder, root=tmp_path)
    assert index.built and len(index) == len(DOCS)
    # the text fields joined, as BEIR's title + abstract
    expected = bi_encoder.encode([f"title {d['text']}".strip() for d in DOCS], "doc")
    assert np.abs(np.asarray(index.vectors()) - expected).max() <= 1e-5
    build_id = index.build_id
    assert dataset_dense_index(dataset, bi_encoder, root=tmp_path).build_id == build_id
    graph = dataset_dense_index(dataset, bi_encoder, hnsw={"M": 8}, root=tmp_path)
    assert graph.has_hnsw() and graph.path.parent == index.path.parent and graph.model_id == bi_encoder.identity
    assert np.array_equal(np.asarray(graph.vectors()), np.asarray(index.vectors()))  # not encoded again
    (graph.path / "transformers_ir.json").unlink()  # as if killed before the marker was written
    again = dataset_dense_index(dataset, bi_encoder, hnsw={"M": 8}, root=tmp_path)
    assert again.built and "interrupted" in caplog.text
    assert dataset_dense_index(dataset, _other(tmp_path), root=tmp_path).path != index.path


def test_components_build_working_systems(tmp_path, monkeypatch, tiny_encoder_path):
    monkeypatch.setenv("TRANSFORMERS_IR_HOME", str(tmp_path))
    components = registry()
    ctx = Context(dataset=TinyDataset())
    params = {"model": str(tiny_encoder_path), "batch_size": 3, "doc_max_length": 24, "query_max_length": 16,
              "pooling": "mean"}
    topics = TinyDataset().get_topics()
    exact = components["dense"].build(ctx, dict(params, num_results=5))(topics)
    hnsw = components["dense"].build(ctx, dict(params, num_results=5, method="hnsw", hnsw_m=8))(topics)
    assert len(exact) == 3 * 5 and set(exact.groupby("qid")["rank"].max()) == {4}
    assert set(hnsw["qid"]) == set(topics["qid"])
    scorer = components["dense-scorer"].build(ctx, params)
    assert scorer.doc_index is not None  # the corpus's index, built above, serves the document vectors
    rescored = scorer(exact.drop(columns=["query_vec"]))
    assert rescored["score"].to_numpy() == pytest.approx(np.sort(exact["score"].to_numpy())[::-1], abs=1e-5) \
        or set(rescored["docno"]) == set(exact["docno"])
    merged = rescored.merge(exact, on=["qid", "docno"], suffixes=("", "_exact"))
    assert merged["score"].to_numpy() == pytest.approx(merged["score_exact"].to_numpy(), abs=1e-5)
