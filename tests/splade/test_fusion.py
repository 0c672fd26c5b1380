"""Fusion of first stages: reciprocal rank fusion and normalised-score interpolation, computed by hand."""
from __future__ import annotations

import pandas as pd
import pyterrier as pt
import pytest

from transformers_ir.first_stage._fusion import Fusion, fuse, tune_interpolation

QUERIES = pd.DataFrame({"qid": ["1", "2"], "query": ["a", "b"]})
RUN_A = pd.DataFrame({"qid": ["1", "1", "1", "2"], "docno": ["x", "y", "z", "x"], "score": [3.0, 2.0, 1.0, 5.0]})
RUN_B = pd.DataFrame({"qid": ["1", "1"], "docno": ["z", "w"], "score": [10.0, 0.0]})


def _system(run):
    return pt.Transformer.from_df(run.merge(QUERIES, on="qid"), uniform=False)


def test_rrf_by_hand():
    out = Fusion([_system(RUN_A), _system(RUN_B)], method="rrf", k=60)(QUERIES)
    scores = {(r.qid, r.docno): r.score for r in out.itertuples()}
    assert scores[("1", "z")] == pytest.approx(1 / 63 + 1 / 61)
    assert scores[("1", "x")] == pytest.approx(1 / 61)
    assert scores[("1", "w")] == pytest.approx(1 / 62)
    assert scores[("2", "x")] == pytest.approx(1 / 61)
    assert out[out.qid == "1"]["docno"].tolist() == ["z", "x", "w", "y"]
    assert out["query"].tolist() == ["a"] * 4 + ["b"]


def test_interpolation_of_min_max_normalised_scores_by_hand():
    out = fuse([RUN_A, RUN_B], QUERIES, method="interpolate", weights=[0.25, 0.75])
    scores = {(r.qid, r.docno): r.score for r in out.itertuples()}
    # A: x 1, y 0.5, z 0; B: z 1, w 0; a single result normalises to 1
    assert scores == pytest.approx({("1", "x"): 0.25, ("1", "y"): 0.125, ("1", "z"): 0.75, ("1", "w"): 0.0,
                                    ("2", "x"): 0.25})


def test_fusion_contract():
    fusion = Fusion([_system(RUN_A), _system(RUN_B)], num_results=2)
    empty = fusion(pd.DataFrame(columns=["qid", "query"]))
    assert len(empty) == 0 and {"qid", "query", "docno", "score", "rank"} <= set(empty.columns)
    assert fusion(QUERIES).groupby("qid").size().max() == 2
    with pytest.raises(ValueError, match="at least two"):
        Fusion([_system(RUN_A)])
    with pytest.raises(ValueError, match="one weight per system"):
        Fusion([_system(RUN_A), _system(RUN_B)], method="interpolate", weights=[1.0])
    with pytest.raises(ValueError, match="method"):
        Fusion([_system(RUN_A), _system(RUN_B)], method="max")


def test_tuning_picks_the_weight_that_ranks_the_relevant_document_first():
    qrels = pd.DataFrame({"qid": ["1"], "docno": ["w"], "label": [1]})
    run_b = pd.DataFrame({"qid": ["1", "1"], "docno": ["w", "x"], "score": [10.0, 0.0]})
    weights, value = tune_interpolation([RUN_A, run_b], QUERIES[:1], qrels, metric="RR@10", grid=[0.0, 0.5, 1.0])
    assert weights == [0.0, 1.0] and value == 1.0
    # the trec_eval spelling is the same measure
    assert tune_interpolation([RUN_A, run_b], QUERIES[:1], qrels, metric="recip_rank", grid=[0.0, 0.5, 1.0]) == (
        [0.0, 1.0], 1.0)
