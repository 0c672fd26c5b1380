"""One tie-break for the whole library: score descending, then docno ascending.

Evaluators disagree on tied scores (trec_eval breaks ties by docno descending, others by input order), so a run
with ties can get different RR@10 from different tools, and a constant scorer can look good. We rank once, here,
and evaluate on ``-rank`` so every evaluator sees the same order.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from transformers_ir._errors import TransformersIRError


class RankingError(TransformersIRError, ValueError):
    """Scores or rows that cannot be ranked or evaluated correctly (NaN/inf scores, a pair ranked twice)."""


def rank_results(results: pd.DataFrame) -> pd.DataFrame:
    """Sort each query's results by score (descending) then docno (ascending) and set ``rank`` from 0."""
    if len(results) == 0:
        return results.assign(rank=pd.Series(dtype="int64"))
    out = results.sort_values(["qid", "score", "docno"], ascending=[True, False, True], kind="stable")
    out = out.reset_index(drop=True)
    out["rank"] = out.groupby("qid", sort=False).cumcount().astype("int64")
    return out


def check_finite(results: pd.DataFrame, source: str) -> None:
    """Refuse NaN or infinite scores, naming the source and rows, rather than rank them silently."""
    scores = pd.to_numeric(results["score"], errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(scores)
    if bad.any():
        rows = results.loc[bad, ["qid", "docno"]].head(5).to_dict("records")
        raise RankingError(f"{source} produced {int(bad.sum())} NaN or infinite scores, e.g. {rows}: check its "
                           f"weights (a damaged checkpoint) and precision (fp16 overflows; score in fp32)")


def check_unique(results: pd.DataFrame, source: str) -> None:
    """Refuse a ranking holding the same (qid, docno) twice: evaluators would drop one copy or count it twice,
    and the positions after it would differ between them."""
    repeated = results.duplicated(["qid", "docno"])
    if repeated.any():
        rows = results.loc[repeated, ["qid", "docno"]].head(5).to_dict("records")
        raise RankingError(f"{source} ranks {int(repeated.sum())} (qid, docno) pairs more than once, e.g. {rows}: "
                         f"keep one row per document and query (frame.drop_duplicates(['qid', 'docno']))")


def evaluation_frame(results: pd.DataFrame, source: str = "the run") -> pd.DataFrame:
    """Results ranked by :func:`rank_results`, with ``score = -rank`` so evaluators cannot re-break ties
    (a (qid, docno) pair ranked twice is refused: :func:`check_unique`)."""
    check_unique(results, source)
    ranked = rank_results(results)
    return ranked.assign(score=-ranked["rank"].astype("float64"))
