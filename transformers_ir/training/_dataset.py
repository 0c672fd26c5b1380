"""A training config's data: groups from its topics, qrels and first stage (or a triples file, or a teacher
file's candidates), with their texts and teacher scores; a teacher table's scores computed once and cached."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from transformers_ir import _paths
from transformers_ir._cutoff import Cutoff
from transformers_ir._identity import json_hash
from transformers_ir._ranking import check_cutoff
from transformers_ir.data import get_dataset
from transformers_ir.errors import UsageError
from transformers_ir.registry import CUTOFF_KEY, Context, registry
from transformers_ir.training._config import NEGATIVES_TRAIN_CONFIG, TrainingSpec
from transformers_ir.training._data import (
    DataReport,
    GroupDataset,
    TrainingGroup,
    build_groups,
    doc_texts,
    drop_missing_texts,
    read_triples,
)
from transformers_ir.training._families import load_reranker
from transformers_ir.training._teacher import (
    check_teacher_scores,
    provenance_path,
    read_teacher_scores,
    score_with_teacher,
    write_teacher_scores,
)

_log = logging.getLogger(__name__)


def teacher_scores_path(spec: TrainingSpec) -> Path:
    """Where ``[data] teacher = { ... }``'s scores are cached: named by the teacher, keyed by everything that
    decides them (the teacher's weights or config hash and settings, and what decides the training pairs).

    Args:
        spec: a training config with a teacher table.

    Returns:
        ``<cache>/teachers/<teacher>-<key>.run``.
    """
    d = spec.data
    decided_by = {"teacher": spec.teacher_identity, "negatives": spec.negatives_identity, **{k: getattr(d, k) for k in (
        "topics", "qrels", "corpus", "depth", "group_size", "few_candidates", "max_queries")}}
    return _paths.home() / "teachers" / f"{_teacher_name(spec)}-{json_hash(decided_by)[:12]}.run"


def teacher_scores_cached(spec: TrainingSpec) -> bool:
    """Whether the teacher table's scores are cached complete (the provenance is written last).

    Args:
        spec: a training config with a teacher table.

    Returns:
        True when :func:`teacher_scores_path` and its provenance exist.
    """
    path = teacher_scores_path(spec)
    return path.is_file() and provenance_path(path).is_file()


def _teacher_name(spec: TrainingSpec) -> str:
    teacher = spec.teacher
    return spec.teacher_spec().name if teacher.train_config else Path(teacher.model).name


def _teacher_model(spec: TrainingSpec, teacher_model: str | None) -> str:
    teacher = spec.teacher
    if teacher.model is not None:
        return teacher.model
    if teacher_model is not None:
        return teacher_model
    return _trained_model(spec.teacher_spec(), f"{spec.name}: [data] teacher")


def _trained_model(other: TrainingSpec, where: str) -> str:
    """The model folder of a config another one names, refused when it is not trained yet."""
    if not other.trained():
        raise UsageError(f"{where}: train_config {str(other.path)!r} is not trained yet: train it first "
                         f"(transformers-ir train {other.path}), or use training.train, which does")
    return str(other.model_dir())


def ensure_teacher_scores(spec: TrainingSpec, groups: list[TrainingGroup], corpus, *, teacher_model: str | None = None,
                          verbose: bool = True) -> Path:
    """The teacher-score file of ``[data] teacher = { ... }``: read from the cache, or scored now (every pair the
    training groups can draw: each positive and every candidate negative) and written atomically, provenance
    last, so an interrupted scoring is never read back as complete.

    Args:
        spec: a training config with a teacher table.
        groups: the training groups.
        corpus: the dataset holding the documents' texts.
        teacher_model: the teacher's folder when its config was just trained (default: the table's ``model``, or
            the trained model of its ``train_config``).
        verbose: show progress.

    Returns:
        The teacher-score file.
    """
    path = teacher_scores_path(spec)
    if teacher_scores_cached(spec):
        return path
    teacher = spec.teacher
    model = _teacher_model(spec, teacher_model)
    reranker = load_reranker(teacher.family if teacher.model else spec.teacher_spec().model.family, model,
                             max_length=teacher.max_length, batch_size=teacher.batch_size, verbose=verbose)
    pairs = pd.DataFrame([(g.qid, g.query, docno) for g in groups for docno in [g.positive, *g.candidates]],
                         columns=["qid", "query", "docno"]).drop_duplicates(["qid", "docno"], ignore_index=True)
    _log.info("scoring %d training pairs with the teacher %s", len(pairs), model)
    scored, provenance = score_with_teacher(reranker, corpus, pairs, name=_teacher_name(spec), model=model,
                                            topics=spec.data.topics, depth=spec.data.depth, judged_positives=True,
                                            source_run=json.dumps(spec.negatives_identity))
    write_teacher_scores(scored, path, provenance)
    return path


def negatives_stage(spec: TrainingSpec, corpus, *, model: str | None = None):
    """The first stage ``[data] negatives`` names (a registered component, with ``"%"`` as its cutoff, and its
    ``model`` the one a ``train_config`` trains).

    Args:
        spec: the training config.
        corpus: the dataset the stage retrieves from.
        model: the folder of the negatives' ``train_config`` model, when the caller trained it (default: that
            config's trained model).

    Returns:
        The transformer.

    Raises:
        UsageError: an unknown component or bad parameters, or a ``train_config`` not trained yet.
    """
    params = dict(spec.data.negatives)
    name = params.pop("component")
    cutoff = params.pop(CUTOFF_KEY, None)
    if params.pop(NEGATIVES_TRAIN_CONFIG, None) is not None:
        params["model"] = model or _trained_model(spec.negatives_spec(), f"{spec.name}: [data] negatives")
    components = registry()
    if name not in components:
        raise UsageError(f"[data] negatives names unknown component {name!r} (registered: {', '.join(components)})")
    problems = components[name].check_params(params)
    if problems:
        raise UsageError(f"[data] negatives: {'; '.join(problems)}")
    stage = components[name].build(Context(dataset=corpus, base_dir=spec.path.parent if spec.path else Path(".")),
                                   params)
    if cutoff is None:
        return stage
    return stage >> Cutoff(check_cutoff(cutoff, f"[data] negatives {CUTOFF_KEY!r}"))  # ties cut by docno


def build_dataset(spec: TrainingSpec, *, verbose: bool = False, teacher_model: str | None = None,
                  negatives_model: str | None = None) -> tuple[GroupDataset, DataReport]:
    """Groups of 1 positive + ``group_size - 1`` negatives from the config's topics, qrels and first stage (or
    triples file, or the teacher file's candidates), with their texts and teacher scores.

    Args:
        spec: the training config.
        verbose: show progress.
        teacher_model: the folder of a teacher table's ``train_config`` model, when the caller trained it (see
            :func:`ensure_teacher_scores`); only needed when its scores are not cached yet.
        negatives_model: the folder of the negatives' ``train_config`` model, when the caller trained it.

    Returns:
        ``(dataset, report)``: the groups as a torch dataset, and what was skipped and why.

    Raises:
        UsageError: no way to find negatives, a teacher file that misses pairs, or no group left.
    """
    d = spec.data
    report = DataReport()
    dataset = get_dataset(d.topics) if d.topics else None
    corpus = get_dataset(spec.resolve(d.corpus)) if d.corpus else dataset
    topics = dataset.get_topics() if dataset is not None else None
    if topics is not None and d.max_queries:
        topics = topics.head(d.max_queries)
    teacher_file = spec.resolve(d.teacher) if isinstance(d.teacher, str) else None
    teacher, teacher_meta = read_teacher_scores(teacher_file) if teacher_file else (None, {})
    group_size = d.group_size
    if d.triples:
        groups, ids = read_triples(spec.resolve(d.triples), topics)
        group_size = 2
        report.queries = report.groups = len(groups)
        texts = doc_texts(corpus, [x for g in groups for x in [g.positive, *g.candidates]], report) if ids else \
            {x: x for g in groups for x in [g.positive, *g.candidates]}
    else:
        qrels = get_dataset(spec.resolve(d.qrels)).get_qrels() if d.qrels else dataset.get_qrels()
        if d.negatives is not None:
            run = negatives_stage(spec, corpus, model=negatives_model)(topics)
        elif teacher is not None:
            run = pd.DataFrame([(q, doc, s) for (q, doc), s in teacher.items()], columns=["qid", "docno", "score"])
        else:
            raise UsageError('[data] needs negatives = { component = "bm25" } (a first stage to mine hard negatives '
                             'from), a teacher file, or a triples file')
        groups = build_groups(topics, qrels, run, group_size=group_size, depth=d.depth,
                              few_candidates=d.few_candidates, report=report)
        texts = doc_texts(corpus, [x for g in groups for x in [g.positive, *g.candidates]], report)
    groups = drop_missing_texts(groups, texts, report)
    if spec.teacher is not None:
        teacher_file = ensure_teacher_scores(spec, groups, corpus, teacher_model=teacher_model,
                                             verbose=verbose)
        teacher, teacher_meta = read_teacher_scores(teacher_file)
    if teacher is not None:
        check_teacher_scores(teacher, [(g.qid, x) for g in groups for x in [g.positive, *g.candidates]], teacher_file)
    report.extra["teacher"] = teacher_meta
    if teacher is not None and spec.loss.teacher_scale is not None:  # the losses see the scaled scores
        teacher = {pair: score * spec.loss.teacher_scale for pair, score in teacher.items()}
    dataset_ = GroupDataset(groups, texts, group_size=group_size, epochs=spec.train.epochs, seed=d.seed,
                            teacher=teacher)
    report.log()
    return dataset_, report
