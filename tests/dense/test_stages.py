"""The stages of the family: encoders and scorer keep their input, accept empty frames, stream, rank by the
similarity of the vectors, refuse what they cannot encode by name."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyterrier as pt
import pytest

from transformers_ir.dense import BiEncoder


def test_query_encoder_adds_query_vec_and_keeps_columns(bi_encoder, queries):
    out = bi_encoder.query_encoder()(queries.assign(extra=[1, 2, 3]))
    assert list(out.columns) == ["qid", "query", "extra", "query_vec"]
    expected = bi_encoder.encode(queries["query"].tolist(), "query")
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float32 and v.shape == (32,) for v in out["query_vec"])
    assert np.abs(np.stack(out["query_vec"]) - expected).max() <= 1e-6


def test_doc_encoder_frame_and_stream_agree(bi_encoder, docs):
    frame = bi_encoder.doc_encoder()(pd.DataFrame(docs))
    stream = bi_encoder.doc_encoder(batch_size=2).transform_iter(iter(docs))
    first = next(stream)  # a generator: documents are encoded as they are read, a chunk at a time
    rest = list(stream)
    assert [d["docno"] for d in [first, *rest]] == [d["docno"] for d in docs]
    assert np.abs(np.stack(frame["doc_vec"]) - np.stack([d["doc_vec"] for d in [first, *rest]])).max() <= 1e-5
    assert set(first) == {"docno", "text", "doc_vec"}


def test_doc_encoder_reads_another_text_field(bi_encoder, docs):
    body = bi_encoder.doc_encoder(text_field="body")(pd.DataFrame(docs).rename(columns={"text": "body"}))
    assert np.abs(np.stack(body["doc_vec"]) - bi_encoder.encode([d["text"] for d in docs], "doc")).max() <= 1e-6
    with pytest.raises(KeyError, match="text_field"):
        list(bi_encoder.doc_encoder().transform_iter(iter([{"docno": "a", "body": "x"}])))


@pytest.mark.parametrize("stage", ["query_encoder", "doc_encoder", "scorer"])
def test_every_stage_accepts_an_empty_frame(bi_encoder, stage):
    columns = {"query_encoder": ["qid", "query"], "doc_encoder": ["docno", "text"],
               "scorer": ["qid", "query", "docno", "text", "score", "rank"]}[stage]
    out = getattr(bi_encoder, stage)()(pd.DataFrame(columns=columns))
    added = {"query_encoder": ["query_vec"], "doc_encoder": ["doc_vec"], "scorer": []}[stage]
    assert len(out) == 0 and set(out.columns) == set(columns) | set(added)


def test_scorer_ranks_by_the_similarity(bi_encoder, docs, queries):
    texts = {d["docno"]: d["text"] for d in docs}
    chosen = ["d0", "d1", "d3", "d6", "d7"]
    res = pd.DataFrame([{"qid": q.qid, "query": q.query, "docno": d, "text": texts[d], "score": 0.0, "rank": 0}
                        for q in queries.itertuples() for d in chosen])
    out = bi_encoder.scorer()(res)
    q_vecs = dict(zip(queries["qid"], bi_encoder.encode(queries["query"].tolist(), "query")))
    d_vecs = dict(zip(texts, bi_encoder.encode(list(texts.values()), "doc")))
    for row in out.itertuples():
        assert row.score == pytest.approx(float(q_vecs[row.qid] @ d_vecs[row.docno]), rel=1e-5, abs=1e-5)
    for _, group in out.groupby("qid"):
        assert group["rank"].tolist() == list(range(len(group)))
        assert group["score"].is_monotonic_decreasing
    assert len(out) == len(res) and out["score"].dtype == np.float64


def test_scorer_fetches_missing_text_or_says_how(bi_encoder, docs):
    texts = pd.DataFrame(docs)
    loader = pt.apply.generic(lambda df: df.merge(texts, on="docno"))
    res = pd.DataFrame({"qid": ["q1", "q1"], "query": ["capital of france"] * 2, "docno": ["d0", "d1"],
                        "score": [0.0, 0.0], "rank": [0, 1]})
    with pytest.raises(pt.validate.InputValidationError, match="text_loader"):
        bi_encoder.scorer()(res)
    fetched = bi_encoder.scorer(text_loader=loader)(res)
    assert "text" not in fetched.columns
    expected = bi_encoder.scorer()(res.merge(texts, on="docno"))
    assert fetched["score"].tolist() == pytest.approx(expected["score"].tolist())


def test_scorer_uses_vectors_already_in_the_frame(bi_encoder):
    res = pd.DataFrame({"qid": ["q1", "q1"], "query": ["x", "x"], "docno": ["a", "b"], "score": [0.0, 0.0],
                        "rank": [0, 1], "query_vec": [np.array([1.0, 2.0])] * 2,
                        "doc_vec": [np.array([0.5, 0.0]), np.array([1.0, 1.0])]})
    out = bi_encoder.scorer()(res)
    assert dict(zip(out["docno"], out["score"])) == {"b": 3.0, "a": 0.5}
    with pytest.raises(ValueError, match="dimensions"):
        bi_encoder.scorer()(res.assign(doc_vec=[np.ones(3)] * 2))


def test_a_missing_query_is_refused_by_name(bi_encoder):
    with pytest.raises(ValueError, match="missing.*q2"):
        bi_encoder.query_encoder()(pd.DataFrame({"qid": ["q1", "q2"], "query": ["cells", None]}))
    res = pd.DataFrame({"qid": ["q2"], "query": [float("nan")], "docno": ["a"], "text": ["cells"]})
    with pytest.raises(ValueError, match="missing.*q2"):
        bi_encoder.scorer()(res)
    empty = bi_encoder.query_encoder()(pd.DataFrame({"qid": ["q1"], "query": [""]}))  # a defined vector
    assert np.isfinite(empty["query_vec"].iloc[0]).all()


def test_encoders_say_what_is_missing(bi_encoder):
    with pytest.raises(pt.validate.InputValidationError, match="text_loader"):
        bi_encoder.doc_encoder()(pd.DataFrame({"docno": ["a"], "body": ["x"]}))
    with pytest.raises(pt.validate.InputValidationError):
        bi_encoder.query_encoder()(pd.DataFrame({"qid": ["1"]}))


def test_stage_equality_hash_and_repr(bi_encoder, tiny_encoder_path):
    other = BiEncoder.from_pretrained(str(tiny_encoder_path), batch_size=3, query_max_length=16, doc_max_length=24,
                                      pooling="mean")
    assert bi_encoder.query_encoder() == other.query_encoder()
    assert hash(bi_encoder.scorer()) == hash(other.scorer())
    assert bi_encoder.query_encoder() != bi_encoder.doc_encoder()
    assert repr(bi_encoder.doc_encoder(text_field="body")).endswith(".doc_encoder(text_field='body')")
    assert bi_encoder.doc_encoder().cache_key()["rep"] == "doc"
    assert "query_weights" not in bi_encoder.doc_encoder().cache_key()
