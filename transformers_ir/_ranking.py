"""One tie-break for the whole library: score descending, then docno ascending.

Evaluators disagree on tied scores (trec_eval breaks ties by docno descending, others by input order), so a run
with ties can get different RR@10 from different tools, and a constant scorer can look good. We rank once, here,
and evaluate on ``-rank`` so every evaluator sees the same order.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from transformers_ir.errors import RankingError


def rank_results(results: pd.DataFrame) -> pd.DataFrame:
    """Sort each query's results by score (descending) then docno (ascending) and set ``rank`` from 0.

    Queries come in qid order. Memory beyond the sorted copy is a few integer arrays of the frame's length: the
    docnos are compared only where a query has tied scores (a whole-frame sort on the docno strings held about
    90 bytes a row at 1M rows)."""
    if len(results) == 0:
        return results.assign(rank=pd.Series(dtype="int64"))
    codes = pd.factorize(results["qid"], sort=True)[0]
    scores = results["score"].to_numpy(dtype="float64", na_value=np.nan)
    order = np.lexsort((-scores, codes))  # stable; NaN scores last in their query
    codes = codes[order]
    _order_ties_by_docno(order, codes, scores[order], results["docno"])
    out = results.take(order).reset_index(drop=True)
    first = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])  # where each query starts
    out["rank"] = np.arange(len(out), dtype="int64") - np.repeat(first, np.diff(np.r_[first, len(out)]))
    return out


def _order_ties_by_docno(order: np.ndarray, codes: np.ndarray, scores: np.ndarray, docnos: pd.Series) -> None:
    """Within each run of equal (qid, score) in ``order``, put the rows in docno order (in place, stable)."""
    same = (codes[1:] == codes[:-1]) & ((scores[1:] == scores[:-1]) | (np.isnan(scores[1:]) & np.isnan(scores[:-1])))
    if not same.any():
        return
    tied = np.zeros(len(order), dtype=bool)
    tied[1:] |= same
    tied[:-1] |= same
    where = np.flatnonzero(tied)
    run = np.cumsum(np.r_[True, ~same])[where]  # one id per run of ties
    names = pd.factorize(docnos.to_numpy()[order[where]], sort=True)[0]
    order[where] = order[where][np.lexsort((names, run))]


def minmax(scores, qids) -> np.ndarray:
    """Each query's scores mapped to [0, 1]: ``(s - min) / (max - min)`` within the query.

    The one tie rule: a query whose scores are all equal (a single result, or ties only) maps every score to
    1.0, because each is that query's best score and a query's best always maps to 1. NaN stays NaN (and is
    refused by :func:`check_finite`).

    Args:
        scores: the scores (any array-like of numbers).
        qids: each score's query, aligned with ``scores``.

    Returns:
        The normalised scores (float64), in the input order.
    """
    values = pd.Series(np.asarray(scores, dtype="float64"))
    by_query = values.groupby(np.asarray(qids), sort=False)
    low, high = by_query.transform("min").to_numpy(), by_query.transform("max").to_numpy()
    spread = high - low
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(spread > 0, (values.to_numpy() - low) / np.where(spread > 0, spread, 1.0),
                        np.where(np.isnan(values.to_numpy()), np.nan, 1.0))


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


def top_k(results: pd.DataFrame, k: int) -> pd.DataFrame:
    """Each query's ``k`` best rows by :func:`rank_results` (score descending, then docno), ranked: which of
    several documents tied at the cut survive follows the tie-break, not the order they came in."""
    ranked = rank_results(results)
    return ranked[ranked["rank"] < k].reset_index(drop=True)


def check_cutoff(k, name: str = "cutoff") -> int:
    """``k`` as a cutoff (results kept per query): a positive whole number, else a ``ValueError`` naming ``name``."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{name} must be a positive whole number (results kept per query), got {k!r}")
    return int(k)



def write_run(results: pd.DataFrame, file, *, tag: str) -> None:
    """Write a TREC run (``qid Q0 docno rank score tag``) the one way the library writes runs: ranked by
    :func:`rank_results` (score, then docno), ranks from 0 as PyTerrier numbers them, scores at full precision,
    through ``pt.io.write_results``. Run files from ``run --out`` and teacher files from ``predict`` both come
    from here, so they agree on ranks and ties.

    Args:
        results: ``qid, docno, score`` (other columns are ignored).
        file: a path, or an open text file (e.g. one from ``atomic_file``).
        tag: the run tag (the sixth column); white space in it would add columns, so it is replaced by ``_``.
    """
    import pyterrier as pt

    ranked = rank_results(results[["qid", "docno", "score"]])
    pt.io.write_results(ranked, file, format="trec", run_name="_".join(str(tag).split()) or "run")
