"""Teacher scores: a re-ranker's scores for the (query, document) pairs of a run, plus the judged positives a
first stage may miss, written as a TREC run file with a provenance JSON beside it (``<file>.json``: teacher
name, checkpoint hash, max lengths, counts). Training reads them back for Margin-MSE or KL distillation.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pyterrier as pt

from transformers_ir import _checkpoint
from transformers_ir._atomic import atomic_file
from transformers_ir._identity import weights_hash
from transformers_ir._jsonfile import read_json
from transformers_ir._ranking import top_k, write_run
from transformers_ir.data import text_loader
from transformers_ir.errors import BadTeacherScores, UsageError


def pairs_to_score(run: pd.DataFrame, topics: pd.DataFrame, qrels: pd.DataFrame | None = None, *,
                   depth: int = 100) -> pd.DataFrame:
    """The pairs a teacher scores: each query's top ``depth`` documents of ``run`` (ranked by score, then docno)
    and its judged positives.

    Args:
        run: a result frame (``qid, docno, score``).
        topics: ``qid, query``.
        qrels: the judgments whose positives are added (None: none).
        depth: documents per query from the run.

    Returns:
        ``qid, query, docno``, each pair once.
    """
    pt.validate.columns(run, includes=["qid", "docno", "score"])
    ranked = top_k(run[["qid", "docno", "score"]].astype({"qid": str, "docno": str}), depth)
    pairs = ranked[["qid", "docno"]]  # ties at the cut broken by docno, as everywhere
    if qrels is not None:
        positives = qrels[qrels["label"] > 0].astype({"qid": str, "docno": str})[["qid", "docno"]]
        pairs = pd.concat([pairs, positives], ignore_index=True)
    queries = topics[["qid", "query"]].astype({"qid": str})
    pairs = pairs.merge(queries, on="qid").drop_duplicates(["qid", "docno"])
    return pairs[["qid", "query", "docno"]].reset_index(drop=True)


def score_with_teacher(reranker, corpus, pairs: pd.DataFrame, *, name: str, model: str,
                       **provenance) -> tuple[pd.DataFrame, dict]:
    """The teacher's scores of ``pairs`` (``qid, query, docno``; texts from ``corpus``) and their provenance (the
    teacher, its checkpoint and hash, its max lengths, then ``provenance``): what ``transformers-ir predict``
    writes, and what a training config's ``[data] teacher = { ... }`` caches."""
    scored = (text_loader(corpus) >> reranker)(pairs)
    folder = _checkpoint.checkpoint_dir(model)
    return scored, {"teacher": name, "checkpoint": str(folder), "checkpoint_hash": weights_hash(folder)[:16],
                    "max_length": reranker.max_length, "query_max_length": reranker.query_max_length, **provenance}


def write_teacher_scores(scored: pd.DataFrame, path: str | Path, provenance: dict) -> Path:
    """Write ``qid, docno, score`` as a TREC run (tag = teacher name) and ``<path>.json`` with the provenance,
    each atomically, the provenance last (so a file without it is an interrupted write).

    Args:
        scored: the scored pairs.
        path: the run file.
        provenance: who scored what (see ``score_with_teacher``).

    Returns:
        ``path``.
    """
    path = Path(path)
    pt.validate.columns(scored, includes=["qid", "docno", "score"])
    with atomic_file(path) as f:
        write_run(scored, f, tag=str(provenance.get("teacher", "teacher")) or "teacher")
    meta = {**provenance, "pairs": len(scored), "queries": int(scored["qid"].nunique())}
    with atomic_file(provenance_path(path)) as f:
        json.dump(meta, f, indent=2)
    return path


def provenance_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".json")


def read_teacher_scores(path: str | Path) -> tuple[dict[tuple[str, str], float], dict]:
    """A teacher-score file read back.

    Args:
        path: the run file.

    Returns:
        ``({(qid, docno): score}, provenance)``; the provenance is empty when its JSON is absent.

    Raises:
        UsageError: no such file.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"teacher-score file {path} does not exist: write it with `transformers-ir predict`")
    frame = pt.io.read_results(str(path))
    scores = {(str(q), str(d)): float(s) for q, d, s in zip(frame["qid"], frame["docno"], frame["score"])}
    meta_file = provenance_path(path)
    meta = read_json(meta_file, fix="write the scores again with `transformers-ir predict`") if meta_file.is_file() \
        else {}
    return scores, meta


def check_teacher_scores(teacher: dict[tuple[str, str], float], pairs: list[tuple[str, str]], path) -> None:
    """Refuse, before training, teacher scores a student cannot learn from: training pairs without a score,
    NaN or infinite scores, or scores constant within every query's pairs (every margin 0: nothing to learn).

    Args:
        teacher: ``{(qid, docno): score}``.
        pairs: every (qid, docno) the training groups can draw (each positive and every candidate negative).
        path: the teacher-score file, for the messages.

    Raises:
        BadTeacherScores: naming how many pairs are at fault, an example, and the fix.
    """
    pairs = list(dict.fromkeys(pairs))
    missing = [p for p in pairs if p not in teacher]
    if missing:
        raise BadTeacherScores(
            f"teacher-score file {path} does not match the training pairs: {len(missing)} of "
            f"{len(pairs)} (query, document) pairs have no score (e.g. {missing[:3]}); re-run "
            f"`transformers-ir predict` on the same topics, first stage and depth as the training config"
        )
    bad = [(p, teacher[p]) for p in pairs if not math.isfinite(teacher[p])]
    if bad:
        raise BadTeacherScores(
            f"teacher-score file {path} has {len(bad)} NaN or infinite scores among the {len(pairs)} training "
            f"pairs (e.g. {bad[:3]}): the teacher overflowed or the file is damaged; score the pairs again "
            f"(`transformers-ir predict`, fp32 precision)"
        )
    by_query: dict[str, set[float]] = {}
    for qid, docno in pairs:
        by_query.setdefault(qid, set()).add(teacher[(qid, docno)])
    if pairs and all(len(scores) == 1 for scores in by_query.values()):
        raise BadTeacherScores(
            f"teacher-score file {path} gives every document of each query the same score ({len(by_query)} "
            f"queries, e.g. {next(iter(by_query))!r}: {next(iter(next(iter(by_query.values()))))}): every "
            f"teacher margin is 0 and a student has nothing to learn; the teacher is untrained or broken, score "
            f"the pairs with a trained re-ranker"
        )
