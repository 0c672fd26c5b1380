"""Run a pipeline file: build its systems, run them once, compare them with ``pt.Experiment``."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyterrier as pt

from transformers_ir._errors import TransformersIRError, UsageError
from transformers_ir._ranking import check_finite, evaluation_frame, rank_results
from transformers_ir.data import get_dataset
from transformers_ir.experiments._pipeline_file import PipelineFileError, PipelineSpec, SystemSpec, parse_pipeline
from transformers_ir.experiments._registry import Context, registry

_log = logging.getLogger(__name__)


@dataclass
class SystemRun:
    name: str
    pipeline: pt.Transformer
    results: pd.DataFrame
    seconds: float


@dataclass
class ExperimentResult:
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


def build_system(spec: SystemSpec, ctx: Context, pipeline_path: Path) -> pt.Transformer:
    components = registry()
    pipeline = None
    for stage in spec.stages:
        try:
            transformer = components[stage.component].build(ctx, stage.params)
        except TransformersIRError:
            raise
        except (ValueError, TypeError, FileNotFoundError, KeyError) as e:
            raise PipelineFileError(
                pipeline_path, f"system {spec.name!r}: component {stage.component!r} could not be built: {e}"
            ) from e
        if stage.cutoff is not None:
            transformer = transformer % stage.cutoff
        pipeline = transformer if pipeline is None else pipeline >> transformer
    return pipeline


def _load_evaluation_data(spec: PipelineSpec) -> tuple[pd.DataFrame, pd.DataFrame, pt.datasets.Dataset]:
    topics = get_dataset(spec.topics).get_topics()
    if len(topics) == 0:
        raise PipelineFileError(spec.path, f"the topics of {spec.topics!r} are empty: choose a dataset with queries")
    qrels = get_dataset(spec.qrels).get_qrels()
    if len(qrels) == 0:
        raise PipelineFileError(spec.path, f"the qrels of {spec.qrels!r} are empty: choose a dataset with judgments")
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


def run_experiment(spec: PipelineSpec | str | Path, *, verbose: bool = True) -> ExperimentResult:
    """Run every system of a pipeline file on its topics and compare them with ``pt.Experiment``."""
    if not isinstance(spec, PipelineSpec):
        spec = parse_pipeline(spec)
    topics, qrels, corpus = _load_evaluation_data(spec)
    ctx = Context(dataset=corpus, base_dir=spec.path.parent, verbose=verbose)
    runs = []
    for system in pt.tqdm(spec.systems, desc=f"{spec.name}: systems", unit="system", disable=not verbose):
        pipeline = build_system(system, ctx, spec.path)
        ctx.systems[system.name] = pipeline
        start = time.perf_counter()
        results = pipeline(topics)
        seconds = time.perf_counter() - start
        if "score" not in results.columns or "docno" not in results.columns:
            raise UsageError(f"system {system.name!r} does not produce a ranking (no docno/score columns): its last "
                             f"stage must be a retriever or re-ranker")
        check_finite(results, f"system {system.name!r}")
        runs.append(SystemRun(system.name, pipeline, rank_results(results), seconds))

    names = [r.name for r in runs]
    frames = [evaluation_frame(r.results) for r in runs]
    common = dict(names=names, eval_metrics=spec.measures, verbose=False)
    baseline = names.index(spec.baseline) if spec.baseline else None
    table = pt.Experiment(frames, topics, qrels, baseline=baseline, test=spec.test,
                          correction=None if spec.correction == "none" else spec.correction, **common)
    perquery = pt.Experiment(frames, topics, qrels, perquery=True, **common)
    n_queries = len(topics)
    table["qps"] = [n_queries / max(r.seconds, 1e-9) for r in runs]
    table["ms/query"] = [1000 * r.seconds / n_queries for r in runs]
    return ExperimentResult(spec, topics, qrels, runs, table, perquery)
