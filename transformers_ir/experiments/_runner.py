"""Run a pipeline file: build its systems, run them once, compare them with ``pt.Experiment``."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import pyterrier as pt

from transformers_ir import training
from transformers_ir._quiet import SCREEN
from transformers_ir._ranking import check_finite, check_unique, evaluation_frame, rank_results
from transformers_ir.caching import cache_key, canonical
from transformers_ir.data import get_dataset
from transformers_ir.errors import SystemFailed, TransformersIRError, UsageError
from transformers_ir.experiments._cache import StageCaches, default_root, stage_id, stage_label, with_cutoff
from transformers_ir.experiments._efficiency import StageTiming, qps, sparsity
from transformers_ir.experiments._pipeline_file import (
    PipelineFileError,
    PipelineSpec,
    Stage,
    SystemSpec,
    parse_pipeline,
)
from transformers_ir.registry import Context, registry
from transformers_ir.scale import RayStage

_log = logging.getLogger(__name__)


@dataclass
class SystemRun:
    name: str
    pipeline: pt.Transformer
    results: pd.DataFrame
    seconds: float  # the sum of its stages' seconds
    stages: list[StageTiming] = field(default_factory=list)
    sparsity: dict = field(default_factory=dict)  # query_nnz / doc_nnz for sparse systems
    caches: list[str | None] = field(default_factory=list)  # each stage's cache folder (None: uncached)
    transformers: list[pt.Transformer] = field(default_factory=list)  # each stage's, without its cutoff


@dataclass
class ExperimentResult:
    """What a run of a pipeline file gives.

    Attributes:
        spec: the pipeline file.
        topics, qrels: the evaluation data.
        runs: each system's results, timings and stages.
        table: ``pt.Experiment``'s table with the efficiency columns.
        perquery: ``pt.Experiment(perquery=True)``'s frame (``name, qid, measure, value``).
    """

    spec: PipelineSpec
    topics: pd.DataFrame
    qrels: pd.DataFrame
    runs: list[SystemRun]
    table: pd.DataFrame  # pt.Experiment's table, with efficiency columns
    perquery: pd.DataFrame  # pt.Experiment(perquery=True): name, qid, measure, value

    def metrics_by_system(self) -> list[dict]:
        """``[{"name": ..., "<metric as written>": value, ...}, ...]``."""
        rows = []
        for _, row in self.table.iterrows():
            entry = {"name": row["name"]}
            for written, measure in zip(self.spec.metrics, self.spec.measures):
                entry[written] = float(row[str(measure)])
            rows.append(entry)
        return rows


def build_stages(spec: SystemSpec, ctx: Context, pipeline_path: Path,
                 built: dict | None = None, trained: dict | None = None) -> list[pt.Transformer]:
    """Each stage's transformer, without its cutoff; ``built`` memoises them by component and parameters, so a
    model named by several systems is loaded once; ``trained`` receives each ``train_config``'s model folder."""
    components = registry()
    built = {} if built is None else built
    trained = {} if trained is None else trained
    transformers = []
    for stage in spec.stages:
        memo = canonical({**_run_identity(stage), "cutoff": None})  # built without its cutoff
        try:
            if memo not in built:
                params = stage.params
                if stage.train_config is not None:  # the model its training config trains, trained when missing
                    trained[stage.train_config] = training.ensure_trained(stage.train_config, verbose=ctx.verbose)
                    params = {**params, "model": str(trained[stage.train_config])}
                built[memo] = components[stage.component].build(ctx, params)
                if stage.scale is not None:  # the same output, computed on Ray
                    built[memo] = RayStage(built[memo], **{k: v for k, v in stage.scale.items() if k != "backend"})
            transformers.append(built[memo])
        except PipelineFileError:
            raise  # names the file and the system already
        except TransformersIRError as e:
            _in_context(e, f"system {spec.name!r}: component {stage.component!r}")
            raise
        except Exception as e:  # noqa: BLE001 - Java, pandas, Hugging Face: named by system and component
            raise PipelineFileError(
                pipeline_path, f"system {spec.name!r}: component {stage.component!r} could not be built: "
                               f"{type(e).__name__}: {_first_line(e)}"
            ) from e
    return transformers


def compose(spec: SystemSpec, transformers: list[pt.Transformer]) -> pt.Transformer:
    pipeline = None
    for stage, transformer in zip(spec.stages, transformers):
        transformer = with_cutoff(transformer, stage.cutoff)
        pipeline = transformer if pipeline is None else pipeline >> transformer
    return pipeline


class RunOf(pt.Transformer):
    """A system the runner has already run on the topics: for those queries, its results as computed then (so
    fusing it with another system re-runs nothing, however costly it was); other queries run the system.
    Its ``repr`` and cache key are the system's own."""

    def __init__(self, system: pt.Transformer, qids, results: pd.DataFrame):
        self.system = system
        self.qids = frozenset(qids)
        self.results = results

    def transform(self, queries: pd.DataFrame) -> pd.DataFrame:
        if len(queries) and set(queries["qid"]) <= self.qids:
            return self.results[self.results["qid"].isin(set(queries["qid"]))].reset_index(drop=True)
        return self.system(queries)

    def cache_key(self) -> dict | None:
        return cache_key(self.system)

    def __repr__(self) -> str:
        return repr(self.system)


def build_system(spec: SystemSpec, ctx: Context, pipeline_path: Path) -> pt.Transformer:
    """One system of a pipeline file as a PyTerrier pipeline (its stages composed with ``>>``, cut-offs applied).

    Args:
        spec: the system.
        ctx: the dataset and the systems built so far.
        pipeline_path: the pipeline file (for error messages).

    Returns:
        The pipeline.
    """
    return compose(spec, build_stages(spec, ctx, pipeline_path))


def _load_evaluation_data(spec: PipelineSpec) -> tuple[pd.DataFrame, pd.DataFrame, pt.datasets.Dataset]:
    topics = get_dataset(spec.topics).get_topics()
    if len(topics) == 0:
        raise PipelineFileError(spec.path, f"the topics of {spec.topics!r} are empty: choose a dataset with queries")
    qrels = get_dataset(spec.qrels).get_qrels()
    if len(qrels) == 0:
        raise PipelineFileError(spec.path, f"the qrels of {spec.qrels!r} are empty: choose a dataset with judgments")
    unjudged = set(topics["qid"]) - set(qrels["qid"])
    if unjudged and len(unjudged) == len(set(topics["qid"])):
        raise PipelineFileError(
            spec.path, f"none of the {len(unjudged)} topics of {spec.topics!r} has a judgment in the qrels of "
                       f"{spec.qrels!r} (topics e.g. {sorted(unjudged)[:3]}, qrels e.g. "
                       f"{sorted(set(qrels['qid']))[:3]}): the qrels belong to another collection; set [dataset] "
                       f"qrels to the topics' own judgments")
    if unjudged:
        _log.warning("%d of %d topics of %s have no judgments in %s (e.g. %s): they are not evaluated",
                     len(unjudged), len(topics), spec.topics, spec.qrels, sorted(unjudged)[:3])
    corpus = get_dataset(spec.corpus)
    _check_qrels_in_corpus(qrels, corpus, spec)
    return topics, qrels, corpus


def _check_qrels_in_corpus(qrels: pd.DataFrame, corpus, spec: PipelineSpec) -> None:
    """Judged documents missing from the corpus: a warning with a count; all of them missing is an error."""
    if not hasattr(corpus, "irds_ref") or not corpus.irds_ref().has_docs():
        return
    docnos = {doc.doc_id for doc in corpus.irds_ref().docs_iter()}
    judged = set(qrels["docno"])
    missing = judged - docnos
    if missing and len(missing) == len(judged):
        raise PipelineFileError(
            spec.path,
            f"none of the {len(judged)} documents judged in {spec.qrels!r} is in the corpus of {spec.corpus!r}: "
            f"the qrels belong to another collection; set [dataset] qrels/corpus to matching ids",
        )
    if missing:
        _log.warning("%d of %d judged documents of %s are not in the corpus %s (e.g. %s); they can never be "
                     "retrieved", len(missing), len(judged), spec.qrels, spec.corpus, sorted(missing)[:3])


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else repr(error)


def _in_context(error: TransformersIRError, where: str) -> None:
    """Put ``where`` (the system and stage) before ``error``'s message, keeping its type and exit code."""
    if error.args and isinstance(error.args[0], str) and where not in error.args[0]:
        error.args = (f"{where}: {error.args[0]}", *error.args[1:])


def _run_identity(stage: Stage) -> dict:
    """What makes two systems' stages the same within one run: the stage (component, parameters, cutoff) and the
    training config naming its model (two configs give two models for the same parameters). The disk caches key
    on the built transformer's weights instead, so they need no config path."""
    return {**stage_id(stage), "train": stage.train_config, "scale": stage.scale}


def _run_system(system: SystemSpec, transformers: list[pt.Transformer], topics: pd.DataFrame,
                caches: StageCaches | None, done: dict) -> SystemRun:
    """Run a system stage by stage, timing each; a prefix already run for an earlier system (``done``:
    canonical prefix -> (frame, timing, cache folder)) is reused, not recomputed."""
    frame, timings, folders, frames = topics, [], [], []
    for i, stage in enumerate(system.stages):
        prefix = canonical({"stages": [_run_identity(s) for s in system.stages[: i + 1]]})
        if prefix in done:
            frame, timing, folder = done[prefix]
            timings.append(replace(timing, source="shared"))
        else:
            runnable, cache = (caches.wrap(list(system.stages), transformers, i, frame) if caches
                               else (with_cutoff(transformers[i], stage.cutoff), None))
            hits, misses = (cache.hits, cache.misses) if cache else (0, 0)
            start = time.perf_counter()
            where = f"system {system.name!r}, stage {i + 1} ({stage_label(stage)})"
            try:
                frame = runnable(frame)
            except TransformersIRError as e:
                _in_context(e, where)
                raise
            except Exception as e:  # noqa: BLE001 - PyTerrier, Java, pandas: named by system and stage
                raise SystemFailed(f"{where} failed: {type(e).__name__}: {_first_line(e)}") from e
            seconds = time.perf_counter() - start
            timing = StageTiming(stage_label(stage), seconds, "cache" if cache else "computed")
            if cache:
                timing.computed_rows, timing.cached_rows = cache.misses - misses, cache.hits - hits
            folder = str(cache.path) if cache else None
            done[prefix] = (frame, timing, folder)
            timings.append(timing)
        folders.append(folder)
        frames.append(frame)
    if "score" not in frame.columns or "docno" not in frame.columns:
        raise UsageError(f"system {system.name!r} does not produce a ranking (no docno/score columns): its last "
                         f"stage must be a retriever or re-ranker")
    check_finite(frame, f"system {system.name!r}")
    check_unique(frame, f"system {system.name!r}")
    return SystemRun(system.name, compose(system, transformers), rank_results(frame),
                     sum(t.seconds for t in timings), timings, sparsity(frames, transformers), folders, transformers)


def run_experiment(spec: PipelineSpec | str | Path, *, verbose: bool = True, cache: bool = True,
                   cache_dir: str | Path | None = None) -> ExperimentResult:
    """Run every system of a pipeline file on its topics and compare them with ``pt.Experiment``.

    Systems sharing their first stages (same components, same parameters) run those stages once. With
    ``cache``, each stage's output is also kept on disk, keyed on its configuration (model weights included),
    under ``cache_dir`` (default ``$TRANSFORMERS_IR_HOME/caches``): a second run re-computes nothing.

    Args:
        spec: a pipeline file, or what :func:`parse_pipeline` gave.
        verbose: show progress.
        cache: keep and reuse each stage's output on disk.
        cache_dir: the caches' folder.

    Returns:
        The results, tables and timings.
    """
    if not isinstance(spec, PipelineSpec):
        spec = parse_pipeline(spec)
    topics, qrels, corpus = _load_evaluation_data(spec)
    ctx = Context(dataset=corpus, base_dir=spec.path.parent, verbose=verbose)
    caches = StageCaches(cache_dir or default_root(), spec.corpus) if cache else None
    runs, done, built, trained = [], {}, {}, {}
    for system in pt.tqdm(spec.systems, desc=f"{spec.name}: systems", unit="system", disable=not verbose,
                          file=SCREEN):
        transformers = build_stages(system, ctx, spec.path, built, trained)
        run = _run_system(system, transformers, topics, caches, done)
        ctx.systems[system.name] = RunOf(run.pipeline, topics["qid"], run.results)  # fusion reads it
        runs.append(run)

    names = [r.name for r in runs]
    frames = [evaluation_frame(r.results) for r in runs]
    common = dict(names=names, eval_metrics=spec.measures, verbose=False)
    baseline = names.index(spec.baseline) if spec.baseline else None
    # a correction without a baseline makes pt.Experiment raise: there are no tests to correct
    correction = None if spec.correction == "none" or baseline is None else spec.correction
    table = pt.Experiment(frames, topics, qrels, baseline=baseline, test=spec.test, correction=correction, **common)
    perquery = pt.Experiment(frames, topics, qrels, perquery=True, **common)
    n_queries = len(topics)
    table["qps"] = [qps(r.seconds, n_queries) for r in runs]
    table["ms/query"] = [1000 * r.seconds / n_queries for r in runs]
    table["stages"] = ["; ".join(t.describe(n_queries) for t in r.stages) for r in runs]
    for column in ("query_nnz", "doc_nnz", "flops"):
        if any(column in r.sparsity for r in runs):
            table[column] = [r.sparsity.get(column) for r in runs]
    result = ExperimentResult(spec, topics, qrels, runs, table, perquery)
    _record_in_model_cards(result, trained)
    return result


def _record_in_model_cards(result: ExperimentResult, trained: dict) -> None:
    """Each trained model's card gets the figures of the systems it is a stage of (a shared folder says how good
    it is); a folder that cannot be written loses nothing but the record, said in a warning. ``trained``: each
    ``train_config``'s model folder, as the systems were built with it."""
    figures = {row["name"]: row for row in result.metrics_by_system()}
    for system in result.spec.systems:
        for stage in system.stages:
            if stage.train_config not in trained:
                continue
            model_dir = trained[stage.train_config]
            try:
                training.record_figures(model_dir, pipeline=result.spec.name, system=system.name,
                                        topics=result.spec.topics,
                                        figures={k: v for k, v in figures[system.name].items() if k != "name"})
            except (OSError, TransformersIRError) as e:
                _log.warning("the figures of system %r were not recorded in %s: %s", system.name, model_dir, e)
