"""The stages of the family: encoders and scorer keep their input, accept empty frames, rank by the dot product."""
from __future__ import annotations

import pandas as pd
import pyterrier as pt
import pytest

from transformers_ir.splade import Splade


def _dot(q: dict, d: dict) -> float:
    return sum(w * d[t] for t, w in q.items() if t in d)


def test_query_encoder_adds_query_toks_and_keeps_columns(splade, queries):
    out = splade.query_encoder()(queries.assign(extra=[1, 2, 3]))
    assert list(out.columns) == ["qid", "query", "extra", "query_toks"]
    assert out["query_toks"].tolist() == splade.encode_toks(queries["query"].tolist(), "query")
    assert all(isinstance(t, dict) and t for t in out["query_toks"])


def test_doc_encoder_frame_and_stream_agree(splade, docs):
    frame = splade.doc_encoder()(pd.DataFrame(docs))
    stream = list(splade.doc_encoder(batch_size=2).transform_iter(iter(docs)))
    assert [d["docno"] for d in stream] == [d["docno"] for d in docs]
    for row, doc in zip(frame["toks"], stream):
        assert row == pytest.approx(doc["toks"], abs=1e-6)
    assert stream[-1]["toks"] == {}  # the empty document


@pytest.mark.parametrize("stage", ["query_encoder", "doc_encoder", "scorer"])
def test_every_stage_accepts_an_empty_frame(splade, stage):
    columns = {"query_encoder": ["qid", "query"], "doc_encoder": ["docno", "text"],
               "scorer": ["qid", "query", "docno", "text", "score", "rank"]}[stage]
    out = getattr(splade, stage)()(pd.DataFrame(columns=columns))
    added = {"query_encoder": ["query_toks"], "doc_encoder": ["toks"], "scorer": []}[stage]
    assert len(out) == 0 and set(out.columns) == set(columns) | set(added)


def test_scorer_ranks_by_the_sparse_dot_product(splade, docs, queries):
    texts = {d["docno"]: d["text"] for d in docs}
    res = pd.DataFrame([{"qid": q.qid, "query": q.query, "docno": d, "text": texts[d], "score": 0.0, "rank": 0}
                        for q in queries.itertuples() for d in ["d0", "d1", "d3", "d6", "d7"]])
    out = splade.scorer()(res)
    q_toks = dict(zip(queries["qid"], splade.encode_toks(queries["query"].tolist(), "query")))
    d_toks = dict(zip(texts, splade.encode_toks(list(texts.values()), "doc")))
    for row in out.itertuples():
        assert row.score == pytest.approx(_dot(q_toks[row.qid], d_toks[row.docno]), rel=1e-5, abs=1e-6)
    for _, group in out.groupby("qid"):
        assert group["rank"].tolist() == list(range(len(group)))
        assert group["score"].is_monotonic_decreasing
    assert len(out) == len(res) and out[out.docno == "d7"]["score"].eq(0).all()


def test_scorer_fetches_missing_text_or_says_how(splade, docs, queries):
    texts = pd.DataFrame(docs)
    loader = pt.apply.generic(lambda df: df.merge(texts, on="docno"))
    res = pd.DataFrame({"qid": ["q1", "q1"], "query": ["capital of france"] * 2, "docno": ["d0", "d1"],
                        "score": [0.0, 0.0], "rank": [0, 1]})
    with pytest.raises(pt.validate.InputValidationError, match="text_loader"):
        splade.scorer()(res)
    fetched = splade.scorer(text_loader=loader)(res)
    assert "text" not in fetched.columns
    expected = splade.scorer()(res.merge(texts, on="docno"))
    assert fetched["score"].tolist() == pytest.approx(expected["score"].tolist())


def test_scorer_uses_toks_already_in_the_frame(splade, queries):
    res = pd.DataFrame({"qid": ["q1", "q1"], "query": ["x", "x"], "docno": ["a", "b"], "score": [0.0, 0.0],
                        "rank": [0, 1], "query_toks": [{"paris": 2.0}] * 2,
                        "toks": [{"paris": 1.5, "city": 9.0}, {"city": 1.0}]})
    out = splade.scorer()(res)
    assert dict(zip(out["docno"], out["score"])) == {"a": 3.0, "b": 0.0}


def test_encoders_say_what_is_missing(splade):
    with pytest.raises(pt.validate.InputValidationError, match="text_loader"):
        splade.doc_encoder()(pd.DataFrame({"docno": ["a"], "body": ["x"]}))
    with pytest.raises(pt.validate.InputValidationError):
        splade.query_encoder()(pd.DataFrame({"qid": ["1"]}))


def test_stage_equality_and_hash(splade, tiny_mlm_path):
    other = Splade.from_pretrained(str(tiny_mlm_path), batch_size=3, query_max_length=16, doc_max_length=24)
    assert splade.query_encoder() == other.query_encoder()
    assert hash(splade.scorer()) == hash(other.scorer())
    assert splade.query_encoder() != splade.doc_encoder()
