"""Pipeline files: TOML naming a dataset, systems built from registered components, metrics and the baseline.

Example (``pipelines/vaswani.toml``)::

    [dataset]
    topics = "irds:vaswani"          # qrels default to the topics' dataset, the corpus too

    [evaluation]
    metrics = ["AP", "nDCG"]         # ir_measures names (trec_eval ones too: "map", "ndcg_cut_10")
    baseline = "terrier-bm25"        # significance tests against this system
    correction = "holm"              # multiple-testing correction (statsmodels' names, or "none")

    [[systems]]
    name = "terrier-bm25"
    pipeline = [{ component = "bm25", engine = "terrier" }]

A stage is ``{ component = NAME, <parameters>... }``; the key ``"%" = K`` cuts its output to the top K per
query (PyTerrier's ``%``); ``scale = { backend = "ray", concurrency = N, num_gpus = G, batch_size = B }`` runs a
re-ranking or encoding stage on Ray (:class:`transformers_ir.scale.RayStage`: the same output). Stages are
composed left to right with ``>>``. No code lives in a pipeline file.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from transformers_ir._values import file_name, metric_problem, parse_metric, system_name_problem, value_problem
from transformers_ir.errors import PipelineFileError, UsageError
from transformers_ir.registry import CUTOFF_KEY, registry
from transformers_ir.scale import scale_problems
from transformers_ir.training import parse_training_config

CORRECTIONS = ("none", "bonferroni", "sidak", "holm-sidak", "holm", "simes-hochberg", "hommel", "fdr_bh", "fdr_by",
               "fdr_tsbh", "fdr_tsbky")
TESTS = ("t", "wilcoxon")
TRAIN_CONFIG_KEY = "train_config"  # a stage's model named by its training config (trained when missing)
# a stage run on Ray: scale = { backend = "ray", concurrency = 2, num_gpus = 1, batch_size = 256 } (a table; a number
# is the component's own `scale`, e.g. SPLADE's quantisation scale)
SCALE_KEY = "scale"
_TOP_KEYS = {"name", "description", "dataset", "evaluation", "systems"}
_DATASET_KEYS = {"topics", "qrels", "corpus"}
_EVALUATION_KEYS = {"metrics", "baseline", "correction", "test"}
_SYSTEM_KEYS = {"name", "pipeline", "description"}


@dataclass(frozen=True)
class Stage:
    component: str
    params: dict
    cutoff: int | None = None
    train_config: str | None = None  # path of a training config; its trained model becomes the ``model`` parameter
    scale: dict | None = None  # ``scale = { backend = "ray", ... }``: where the stage runs (not what it outputs)


@dataclass(frozen=True)
class SystemSpec:
    name: str
    stages: tuple[Stage, ...]


@dataclass
class PipelineSpec:
    """A checked pipeline file (what :func:`parse_pipeline` returns).

    Attributes:
        path: the file.
        name: its ``name`` (default: the file's stem).
        topics, qrels, corpus: the dataset ids (qrels and corpus default to the topics').
        metrics: the measure names as written (ir_measures or trec_eval); ``measures`` the parsed measures.
        systems: the systems, each a tuple of stages.
        baseline: the system the others are tested against (None: no tests).
        correction: the multiple-testing correction (statsmodels' name, or ``"none"``).
        test: ``"t"`` (paired t-test) or ``"wilcoxon"``.
    """

    path: Path
    name: str
    topics: str
    qrels: str
    corpus: str
    metrics: list[str]
    measures: list = field(repr=False)
    systems: list[SystemSpec]
    baseline: str | None = None
    correction: str = "holm"
    test: str = "t"




class _Lines:
    """Finds the line a value was written on, for error messages (tomllib keeps no positions)."""

    def __init__(self, text: str):
        self.lines = text.splitlines()

    def find(self, *needles: str, after: int = 0) -> int | None:
        for needle in needles:
            pattern = re.compile(re.escape(needle))
            for i in range(after, len(self.lines)):
                if pattern.search(self.lines[i]):
                    return i + 1
        return None

    def system(self, index: int) -> int:
        """The 0-based line of the ``index``-th ``[[systems]]`` header (0 when systems are written inline)."""
        headers = [i for i, line in enumerate(self.lines) if re.match(r"\s*\[\[\s*systems\s*\]\]", line)]
        return headers[index] if index < len(headers) else 0


def _check_train_config(path: Path, value, component, params: dict, fail, start: int) -> str:
    """``train_config = "train/x.toml"`` names a stage's model by the config that trains it: the component must
    take ``model`` (and not be given one too), and the config must parse. Returns its path (absolute)."""
    where = f'{TRAIN_CONFIG_KEY} = "{value}"'
    if not isinstance(value, str):
        fail(f"{TRAIN_CONFIG_KEY} must be the path of a training .toml (relative to this file), got {value!r}",
             TRAIN_CONFIG_KEY, after=start)
    if "model" not in component.parameters() or "model" in params:
        fail(f"{TRAIN_CONFIG_KEY} replaces the model parameter: use it on a component with 'model' and drop "
             f"'model' from the stage", TRAIN_CONFIG_KEY, after=start)
    config = (path.parent / value).resolve()
    try:
        parse_training_config(config)
    except UsageError as e:
        fail(f"{where}: {e}", TRAIN_CONFIG_KEY, after=start)
    return str(config)


def parse_pipeline(path: str | Path) -> PipelineSpec:
    """Read and check a pipeline file against the registry.

    Args:
        path: the ``.toml`` file.

    Returns:
        The checked specification.

    Raises:
        UsageError: the file does not exist.
        PipelineFileError: any problem in it (the message names the line and the fix).
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"pipeline file {path} does not exist: give the path of a .toml file (see pipelines/)")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise PipelineFileError(path, f"byte {data[e.start:e.start + 1]!r} is not UTF-8 text: save the file as "
                                      f"UTF-8", line) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"at line (\d+)", str(e))
        raise PipelineFileError(path, f"not valid TOML: {e}", int(m.group(1)) if m else None) from None
    lines = _Lines(text)

    def fail(message: str, *needles: str, after: int = 0):
        raise PipelineFileError(path, message, lines.find(*needles, after=after) if needles else None)

    for key in doc.keys() - _TOP_KEYS:
        fail(f"unknown top-level key {key!r} (valid: {', '.join(sorted(_TOP_KEYS))})", key)
    for key in ("name", "description"):
        if key in doc and (not isinstance(doc[key], str) or value_problem("name", doc[key])):
            fail(f"{key} must be a line of text, got {doc[key]!r}", key)

    dataset = doc.get("dataset")
    if not isinstance(dataset, dict) or "topics" not in dataset:
        fail('missing dataset: add [dataset] with topics = "irds:..." (e.g. "irds:vaswani")', "[dataset]", "dataset")
    for key in dataset.keys() - _DATASET_KEYS:
        fail(f"unknown key {key!r} in [dataset] (valid: {', '.join(sorted(_DATASET_KEYS))})", key)
    for key, value in dataset.items():
        if not isinstance(value, str) or value_problem(key, value):
            fail(f'[dataset] {key} must be a dataset id such as "irds:vaswani", got {value!r}', key)
    topics = dataset["topics"]
    qrels = dataset.get("qrels", topics)
    corpus = dataset.get("corpus", topics)

    evaluation = doc.get("evaluation", {})
    if not isinstance(evaluation, dict):
        fail(f"evaluation must be a table ([evaluation] with metrics = [...]), got {evaluation!r}", "evaluation")
    for key in evaluation.keys() - _EVALUATION_KEYS:
        fail(f"unknown key {key!r} in [evaluation] (valid: {', '.join(sorted(_EVALUATION_KEYS))})", key)
    metrics = evaluation.get("metrics")
    if not metrics or not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        fail('[evaluation] needs metrics = [...], ir_measures names such as "nDCG@10", "AP", "RR@10", "R@100" '
             '(or trec_eval names such as "ndcg_cut_10", "map")',
             "metrics", "[evaluation]")
    measures = []
    for metric in metrics:
        try:
            measure = parse_metric(metric)
        except ValueError as e:
            fail(str(e), f'"{metric}"', "metrics")
        problem = metric_problem(measure)
        if problem:
            fail(f"metric {metric!r} cannot be evaluated: {problem}", f'"{metric}"', "metrics")
        if str(measure) in map(str, measures):
            fail(f"metric {metric!r} is listed twice: list each metric once", f'"{metric}"', "metrics")
        measures.append(measure)
    correction = evaluation.get("correction", "holm")
    if not isinstance(correction, str) or correction not in CORRECTIONS:
        fail(f"unknown correction {correction!r} (valid: {', '.join(CORRECTIONS)})", "correction")
    test = evaluation.get("test", "t")
    if not isinstance(test, str) or test not in TESTS:
        fail(f"unknown test {test!r} (valid: {', '.join(TESTS)})", "test")

    raw_systems = doc.get("systems")
    if not isinstance(raw_systems, list) or not raw_systems:
        fail("no systems: add at least one [[systems]] table with name and pipeline")
    components = registry()
    systems: list[SystemSpec] = []
    files: dict[str, str] = {}
    for i, raw in enumerate(raw_systems):
        start = lines.system(i)
        if not isinstance(raw, dict):
            fail(f"system #{i + 1} must be a table ([[systems]] with name and pipeline), got {raw!r}", "systems")
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            fail(f"system #{i + 1} has no name: add name = \"...\" (text) to its [[systems]] table", "[[systems]]",
                 after=start)
        problem = system_name_problem(name)
        if problem:
            fail(f"system name {name!r} {problem}: choose a short name of letters, digits, '-', '_', '.' or '+'",
                 "name", after=start)
        if name in {s.name for s in systems}:
            fail(f"two systems are named {name!r}: system names must be unique", f'"{name}"', after=start)
        if file_name(name).lower() in files:
            fail(f"systems {files[file_name(name).lower()]!r} and {name!r} would write the same run file "
                 f"({file_name(name)}.run, its name as a file and a TREC run tag): rename one", "name", after=start)
        files[file_name(name).lower()] = name
        if "description" in raw and not isinstance(raw["description"], str):
            fail(f"the description of system {name!r} must be text, got {raw['description']!r}", "description",
                 after=start)
        for key in raw.keys() - _SYSTEM_KEYS:
            fail(f"unknown key {key!r} in system {name!r} (valid: {', '.join(sorted(_SYSTEM_KEYS))})", key,
                 after=start)
        pipeline = raw.get("pipeline")
        if not isinstance(pipeline, list) or not pipeline or not all(isinstance(s, dict) for s in pipeline):
            fail(f"system {name!r} needs pipeline = [{{ component = \"...\" }}, ...]", "pipeline", after=start)
        stages = []
        for stage in pipeline:
            params = dict(stage)
            comp_name = params.pop("component", None)
            cutoff = params.pop(CUTOFF_KEY, None)
            if not isinstance(comp_name, str) or comp_name not in components:
                known = ", ".join(sorted(components))
                fail(f"unknown component {comp_name!r} in system {name!r} (registered: {known})",
                     f'"{comp_name}"', after=start)
            if cutoff is not None and (not isinstance(cutoff, int) or isinstance(cutoff, bool) or cutoff < 1):
                fail(f'"%" must be a positive whole number (the rank cutoff), got {cutoff!r}', '"%"', after=start)
            # a table is the Ray key; anything else is the component's own parameter (SPLADE's quantisation scale)
            scale = params.pop(SCALE_KEY, None) if isinstance(params.get(SCALE_KEY), dict) or \
                "scale" not in components[comp_name].parameters() else None
            for problem in ([] if scale is None else scale_problems(scale)):
                fail(f"{problem}, in system {name!r}", SCALE_KEY, after=start)
            train_config = params.pop(TRAIN_CONFIG_KEY, None)
            if train_config is not None:
                train_config = _check_train_config(path, train_config, components[comp_name], params, fail, start)
            checked = params if train_config is None else {**params, "model": train_config}
            for problem in components[comp_name].check_params(checked):
                bad = next((k for k in params if repr(k) in problem), comp_name)
                fail(f"{problem}, in system {name!r}", bad, after=start)
            stages.append(Stage(comp_name, params, cutoff, train_config, scale))
        systems.append(SystemSpec(name, tuple(stages)))

    baseline = evaluation.get("baseline")
    names = [s.name for s in systems]
    if baseline is not None and (not isinstance(baseline, str) or baseline not in names):
        fail(f"baseline {baseline!r} is not one of the systems ({', '.join(names)})", "baseline")
    return PipelineSpec(path=path, name=doc.get("name", path.stem), topics=topics, qrels=qrels, corpus=corpus,
                        metrics=metrics, measures=measures, systems=systems, baseline=baseline,
                        correction=correction, test=test)
