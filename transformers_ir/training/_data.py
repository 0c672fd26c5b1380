"""Training data from PyTerrier objects: topics + qrels + a first stage's run give groups of one judged
positive and ``group_size - 1`` hard negatives; triples files and teacher-score files are read too.

Behaviour on awkward input, counted in :class:`DataReport` (and logged):

* a query with no judged positive is skipped (``no_positive``);
* an empty query or document text is skipped (``empty_query`` / ``empty_docs``);
* a query with fewer candidate negatives than ``group_size - 1``: ``few_candidates = "replace"`` (default)
  samples negatives with replacement (``resampled``), ``"skip"`` drops the query (``few_candidates``); a query
  with no candidate negative at all is always skipped.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyterrier as pt
import torch

from transformers_ir._ranking import rank_results
from transformers_ir.data import text_loader
from transformers_ir.errors import UsageError

_log = logging.getLogger(__name__)


@dataclass
class TrainingGroup:
    """One query with its positive first, then candidate negatives to sample from.

    Attributes:
        qid, query: the query.
        positive: the judged positive's docno.
        candidates: the negatives' docnos, best first.
        label: the positive's label.
    """

    qid: str
    query: str
    positive: str  # docno
    candidates: list[str]  # negative docnos, best first
    label: float = 1.0


@dataclass
class Group:
    """One training example: a query, ``docs[0]`` its positive, the rest negatives; labels and teacher scores
    align with ``docs``.

    Attributes:
        qid, query: the query.
        docnos, docs: the documents' ids and texts, the positive first.
        labels: one per document.
        teacher: the teacher's scores, one per document (None without a teacher).
    """

    qid: str
    query: str
    docnos: list[str]
    docs: list[str]
    labels: list[float]
    teacher: list[float] | None = None


@dataclass
class DataReport:
    """What building the training data kept and skipped, and why (logged, and recorded in ``training.json``).

    Attributes:
        queries, groups: queries read, groups kept.
        no_positive, empty_query, empty_docs, few_candidates: what was skipped for each reason.
        resampled: queries whose negatives are sampled with replacement (fewer candidates than the group needs).
        extra: anything else worth recording (the teacher's provenance).
    """

    queries: int = 0
    groups: int = 0
    no_positive: int = 0
    empty_query: int = 0
    empty_docs: int = 0
    few_candidates: int = 0
    resampled: int = 0
    extra: dict = field(default_factory=dict)

    def log(self) -> None:
        """Log the report at INFO level."""
        _log.info("training data: %s", self)


def _positives(qrels: pd.DataFrame) -> dict[str, dict[str, float]]:
    pos = qrels[qrels["label"] > 0]
    out: dict[str, dict[str, float]] = {}
    for qid, docno, label in zip(pos["qid"].astype(str), pos["docno"].astype(str), pos["label"]):
        out.setdefault(qid, {})[docno] = float(label)
    return out


def build_groups(topics: pd.DataFrame, qrels: pd.DataFrame, run: pd.DataFrame, *, group_size: int,
                 depth: int = 100, few_candidates: str = "replace",
                 report: DataReport | None = None) -> list[TrainingGroup]:
    """One :class:`TrainingGroup` per judged positive: candidates are the run's top ``depth`` documents of the
    query minus every judged positive, in the library's one ranking order (score, then docno).

    Args:
        topics: ``qid, query``.
        qrels: ``qid, docno, label``.
        run: a first stage's results (``qid, docno, score``).
        group_size: documents per training example (1 positive + ``group_size - 1`` negatives).
        depth: candidates taken from each query's top.
        few_candidates: ``"replace"`` (sample with replacement) or ``"skip"`` for queries with too few.
        report: counts what is skipped (a new one when None).

    Returns:
        The groups.
    """
    report = report if report is not None else DataReport()
    pt.validate.columns(topics, includes=["qid", "query"])
    pt.validate.columns(qrels, includes=["qid", "docno", "label"])
    positives = _positives(qrels)
    ranked = rank_results(run[["qid", "docno", "score"]])  # the library's one order: score, then docno
    by_query = {str(qid): list(group["docno"].astype(str))[: depth + 50]
                for qid, group in ranked.groupby("qid", sort=False)}
    groups = []
    for qid, query in zip(topics["qid"].astype(str), topics["query"].astype(str)):
        report.queries += 1
        judged = positives.get(qid)
        if not judged:
            report.no_positive += 1
            continue
        if not query.strip():
            report.empty_query += 1
            continue
        candidates = [d for d in by_query.get(qid, []) if d not in judged][:depth]
        if not candidates or (len(candidates) < group_size - 1 and few_candidates == "skip"):
            report.few_candidates += 1
            continue
        if len(candidates) < group_size - 1:
            report.resampled += 1
        groups.extend(TrainingGroup(qid, query, docno, candidates, label) for docno, label in judged.items())
    report.groups = len(groups)
    return groups


def read_triples(path: str | Path, topics: pd.DataFrame | None = None) -> tuple[list[TrainingGroup], bool]:
    """A tab-separated triples file: ``qid, positive docno, negative docno`` (when ``topics`` knows the qids),
    else ``query text, positive text, negative text``.

    Args:
        path: the file.
        topics: the topics whose qids the file may use.

    Returns:
        ``(groups, ids)``: groups of size 2, and whether they hold ids (else texts).

    Raises:
        UsageError: no such file, or not three columns.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"triples file {path} does not exist: give a TSV with query, positive, negative columns")
    frame = pd.read_csv(path, sep="\t", header=None, dtype=str, keep_default_na=False, quoting=3)
    if frame.shape[1] != 3:
        raise UsageError(f"triples file {path} has {frame.shape[1]} columns; it needs 3 (query, positive, negative)")
    queries = dict(zip(topics["qid"].astype(str), topics["query"].astype(str))) if topics is not None else {}
    ids = bool(queries) and frame[0].isin(queries.keys()).all()
    groups = [TrainingGroup(q, queries[q] if ids else q, p, [n]) for q, p, n in frame.itertuples(index=False)]
    return groups, ids


class GroupDataset(torch.utils.data.Dataset):
    """``epochs`` passes over the groups, each pass in its own seeded order with freshly sampled negatives.

    Item ``i`` depends only on ``(seed, i)``, so a run resumed from a checkpoint sees the same examples as an
    uninterrupted one; the trainer reads it in order (one pass of this dataset is the whole training).

    Args:
        groups: the training groups.
        texts: docno -> text.
        group_size: documents per example.
        epochs: passes over the groups (fractions allowed).
        seed: decides the orders and the negatives.
        teacher: ``{(qid, docno): score}`` (None without a teacher).
    """

    def __init__(self, groups: list[TrainingGroup], texts: dict[str, str], *, group_size: int, epochs: float = 1.0,
                 seed: int = 42, teacher: dict[tuple[str, str], float] | None = None):
        if not groups:
            raise UsageError("no training groups: every query was skipped (see the data report: no judged "
                             "positive, empty texts or too few candidates); check topics, qrels and the first stage")
        self.groups, self.texts, self.group_size = groups, texts, group_size
        self.seed, self.teacher = seed, teacher
        self.length = max(1, int(round(len(groups) * epochs)))

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> Group:
        n = len(self.groups)
        epoch, j = divmod(i, n)
        order = np.random.default_rng([self.seed, epoch]).permutation(n)
        g = self.groups[order[j]]
        rng = np.random.default_rng([self.seed, epoch, int(order[j])])
        k = self.group_size - 1
        negatives = list(rng.choice(g.candidates, size=k, replace=len(g.candidates) < k)) if k else []
        docnos = [g.positive] + [str(d) for d in negatives]
        teacher = [self.teacher[(g.qid, d)] for d in docnos] if self.teacher is not None else None
        return Group(g.qid, g.query, docnos, [self.texts[d] for d in docnos], [g.label] + [0.0] * k, teacher)


def doc_texts(dataset, docnos, report: DataReport | None = None) -> dict[str, str]:
    """``docno -> text`` for the given documents (title and body joined), via the dataset's text loader."""
    frame = pd.DataFrame({"qid": "0", "docno": sorted(set(docnos))})
    if frame.empty:
        return {}
    texts = text_loader(dataset)(frame)
    out = {d: t for d, t in zip(texts["docno"].astype(str), texts["text"].fillna("").astype(str))}
    empty = {d for d, t in out.items() if not t.strip()}
    if report is not None:
        report.empty_docs += len(empty)
    return {d: t for d, t in out.items() if d not in empty}


def drop_missing_texts(groups: list[TrainingGroup], texts: dict[str, str], report: DataReport) -> list[TrainingGroup]:
    """Drop groups whose positive has no text, and negatives without text (a group left with none is dropped)."""
    kept = []
    for g in groups:
        candidates = [d for d in g.candidates if d in texts]
        if g.positive not in texts or not candidates:
            report.few_candidates += g.positive in texts
            continue
        kept.append(TrainingGroup(g.qid, g.query, g.positive, candidates, g.label))
    report.groups = len(kept)
    return kept
