"""Training configs: a TOML file with ``[model]``, ``[data]``, ``[loss]`` and ``[train]`` tables.

Example (``pipelines/train/minilm-scifact.toml``)::

    [model]
    family = "cross-encoder"            # cross-encoder | bert-cat | rankt5 | monot5 | splade | bi-encoder
    name = "all-MiniLM-L6-v2"           # what the family's from_pretrained takes
    options = { num_labels = 1 }        # from_pretrained's keywords: here a new one-logit head
    # or, instead of name: train_config = "other.toml" starts from the model that config trains (trained first
    # when missing), e.g. to go on training it with other negatives or another loss

    [data]
    topics = "irds:beir/scifact/train"  # qrels and corpus default to the topics' dataset
    negatives = { component = "bm25", engine = "pisa" }   # any registered first stage; its model may be named
    # by the config that trains it: { component = "dense", train_config = "bi.toml" } (trained first when missing)
    depth = 100                         # sample negatives from its top-k, judged positives excluded
    group_size = 8                      # 1 positive + 7 negatives per query

    [loss]
    name = "grouped-softmax"            # or "margin-mse" with teacher scores:
    # [data] teacher = "scores.run"     # a file `transformers-ir predict` wrote, or
    # [data] teacher = { train_config = "minilm-scifact-top30.toml" }   # the pairs scored (and cached) first

    [train]
    epochs = 2
    learning_rate = 3e-5

Every key is checked: an unknown key or a value of the wrong type is a :class:`ConfigError` naming the key,
what it accepts and the fix. The config's hash (of the parsed values, not the text) keys the trained checkpoint.
"""
from __future__ import annotations

import dataclasses
import functools
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from transformers_ir import _checkpoint, _paths
from transformers_ir._identity import file_hash, json_hash, weights_hash
from transformers_ir._values import value_problem
from transformers_ir.errors import ConfigError
from transformers_ir.registry import CUTOFF_KEY, describe, fits, registry
from transformers_ir.training._tables import (
    DUAL_ENCODER_FAMILIES,
    FAMILIES,
    LOSSES,
    RERANKER_FAMILIES,
    Distillation,
    Family,
    losses_for,
)

#: The folder of the trained model inside a config's output folder, and the summary written when training ends.
MODEL_DIR = "model"
SUMMARY = "training.json"
#: ``[data] negatives = { component = "dense", train_config = "x.toml" }``: the model that config trains mines them.
NEGATIVES_TRAIN_CONFIG = "train_config"




@dataclass
class ModelConfig:
    family: Family = "cross-encoder"
    name: str = ""
    options: dict = field(default_factory=dict)
    train_config: str | None = None  # start from the model another training config trains (instead of name)


@dataclass
class DataConfig:
    topics: str = ""
    qrels: str | None = None
    corpus: str | None = None
    negatives: dict | None = None  # a pipeline stage: { component = "bm25", ... }
    depth: int = 100
    group_size: int = 8
    few_candidates: Literal["replace", "skip"] = "replace"
    triples: str | None = None  # qid \t pos docno \t neg docno (or query \t pos text \t neg text)
    # teacher scores: a run file written by `transformers-ir predict`, or a table (TeacherConfig) naming the
    # re-ranker that scores the training pairs before training
    teacher: str | dict | None = None
    max_queries: int | None = None
    seed: int = 42


@dataclass
class TeacherConfig:
    """``[data] teacher = { ... }``: the re-ranker whose scores the student learns from. It scores every pair the
    training groups can draw (each judged positive and every candidate negative of ``[data] negatives``), once:
    the scores are cached under ``<cache>/teachers`` by everything that decides them."""

    train_config: str | None = None  # the model a training config trains (trained first when missing)
    model: str | None = None  # or a checkpoint folder, alias or hub name
    family: Family = "cross-encoder"  # the family of `model`
    max_length: int | None = None  # tokens per pair (default: the teacher's own)
    batch_size: int = 32


@dataclass
class LossConfig:
    name: str = "grouped-softmax"  # a dual encoder's (splade, bi-encoder) default: "rank-ibn"
    # multiplies the teacher's scores before any distillation loss (Margin-MSE: its margins' scale; KL: 1 / the
    # teacher's temperature); None: 1, and absent from the config hash so configs without it keep their hashes
    teacher_scale: float | None = None
    flops_query: float = 0.0  # lambda_q of SPLADE's FLOPS regulariser
    flops_doc: float = 0.0  # lambda_d
    flops_warmup_steps: int = 0  # quadratic warm-up of both lambdas over T steps
    distill: Distillation | None = None  # dual encoders: add a distillation term from teacher scores
    distill_weight: float = 1.0
    in_batch_negatives: bool = True  # rank-IBN: other queries' documents as extra negatives
    # dual encoders: every loss sees q . d / temperature (default: the family's, bi-encoder 0.05, SPLADE 1)
    temperature: float | None = None

    def effective_temperature(self, family: str) -> float:
        """``temperature``, or the family's default (:data:`~transformers_ir.training._tables.FAMILIES`)."""
        return self.temperature if self.temperature is not None else FAMILIES[family].temperature


@dataclass
class TrainConfig:
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 4  # groups per step and process
    gradient_accumulation: int = 1
    learning_rate: float = 3e-5
    head_learning_rate: float | None = None  # parameters named in the family's new head (default: learning_rate)
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    scheduler: Literal["linear", "cosine", "constant_with_warmup"] = "linear"
    query_max_length: int = 32
    max_length: int = 192  # pair length for cross-encoders, document length for SPLADE
    seed: int = 42
    save_steps: int = 200
    save_total_limit: int = 2
    logging_steps: int = 10
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"  # auto: bf16/fp16 on GPU, fp32 on CPU
    dataloader_workers: int = 0
    output: str | None = None  # default: <cache>/training/<config name>-<hash>


@dataclass
class TrainingSpec:
    """A checked training config (what :func:`parse_training_config` returns).

    Attributes:
        path: the file (None for a config given as a dict).
        name: the config's ``name`` (default: the file's stem).
        model, data, loss, train: its four tables.
    """

    path: Path | None
    name: str
    model: ModelConfig
    data: DataConfig
    loss: LossConfig
    train: TrainConfig

    def to_dict(self) -> dict:
        """The four tables as plain dicts (what ``training.json`` records)."""
        return {k: dataclasses.asdict(getattr(self, k)) for k in ("model", "data", "loss", "train")}

    @property
    def teacher(self) -> TeacherConfig | None:
        """The ``[data] teacher`` table (None for a teacher-score file, or no teacher)."""
        return self.data.teacher if isinstance(self.data.teacher, TeacherConfig) else None

    def config_hash(self) -> str:
        """A hash of everything that changes the trained weights (not ``output``, logging or the worker count)."""
        values = self.to_dict()
        for key in ("output", "logging_steps", "save_steps", "save_total_limit", "dataloader_workers"):
            values["train"].pop(key)
        if self.loss.teacher_scale is None:  # absent at its default: configs written before it keep their hashes
            del values["loss"]["teacher_scale"]
        if self.model.train_config is None:  # absent from the hash: configs without it keep their cached models
            del values["model"]["train_config"]
        else:  # the parent's weights, not where its file lies
            values["model"]["train_config"] = self.parent().config_hash()
        values["data"]["teacher"] = self.teacher_identity
        values["data"]["negatives"] = self.negatives_identity
        if self.loss.temperature is None:  # absent at its default: configs written before it keep their hashes
            del values["loss"]["temperature"]
        return json_hash(values)[:12]

    def output_dir(self) -> Path:
        """Where training writes: ``[train] output``, else ``<cache>/training/<name>-<config hash>``.

        Returns:
            The folder (checkpoints, the final model, the loss log and plot, the summary).
        """
        if self.train.output:
            out = Path(self.train.output).expanduser()
            return out if out.is_absolute() or self.path is None else self.path.parent / out
        return _paths.home() / "training" / f"{self.name}-{self.config_hash()}"

    def model_dir(self) -> Path:
        """The trained model's folder (what the family's ``from_pretrained`` loads).

        Returns:
            ``<output_dir>/model``.
        """
        return self.output_dir() / MODEL_DIR

    def trained(self) -> bool:
        """Whether training finished: the model and its summary are written (a killed run leaves no summary).

        Returns:
            True when :meth:`model_dir` can be loaded as the trained model.
        """
        return self.model_dir().is_dir() and (self.output_dir() / SUMMARY).is_file()

    @functools.cached_property
    def teacher_identity(self):
        """What decides the teacher's scores, for :meth:`config_hash`: a teacher file's content, a teacher config's
        hash, a teacher model's weights (not where they lie). Computed once per spec: a model teacher's weights
        are read to hash them, and the hash is asked for several times per command (each ``output_dir``)."""
        teacher = self.data.teacher
        if isinstance(teacher, str):
            path = Path(self.resolve(teacher))
            return {"file": file_hash(path)} if path.is_file() else teacher
        if teacher is None:
            return None
        identity = dataclasses.asdict(teacher)
        if teacher.train_config is not None:
            identity["train_config"] = self.teacher_spec().config_hash()
        else:
            try:
                identity["weights"] = weights_hash(_checkpoint.checkpoint_dir(teacher.model))[:16]
            except FileNotFoundError as e:
                raise ConfigError(f"{self.path or self.name}: [data] teacher model {teacher.model!r}: {e}") from None
        return identity

    @property
    def negatives_identity(self) -> dict | None:
        """``[data] negatives`` with a ``train_config`` replaced by that config's hash (the weights it trains, not
        where its file lies): what decides the negatives, for :meth:`config_hash` and the teacher table's key."""
        negatives = self.data.negatives
        if negatives is None or NEGATIVES_TRAIN_CONFIG not in negatives:
            return negatives
        return {**negatives, NEGATIVES_TRAIN_CONFIG: self.negatives_spec().config_hash()}

    def negatives_spec(self) -> TrainingSpec:
        """The training config whose model mines the negatives (``[data] negatives``' ``train_config``)."""
        if self.data.negatives is None or NEGATIVES_TRAIN_CONFIG not in self.data.negatives:
            raise ValueError(f"{self.name}: [data] negatives names no train_config")
        return parse_training_config(self.resolve(self.data.negatives[NEGATIVES_TRAIN_CONFIG]))

    def teacher_spec(self) -> TrainingSpec:
        """The training config whose model scores the training pairs (``[data] teacher.train_config``)."""
        if self.teacher is None or self.teacher.train_config is None:
            raise ValueError(f"{self.name}: [data] teacher names no train_config")
        return parse_training_config(self.resolve(self.teacher.train_config))

    def parent(self) -> TrainingSpec:
        """The training config whose trained model this one starts from (``[model] train_config``)."""
        if self.model.train_config is None:
            raise ValueError(f"{self.name}: [model] names no train_config")
        return parse_training_config(self.resolve(self.model.train_config))

    def resolve(self, value: str | None) -> str | None:
        """A path written in the config, relative to the config file."""
        if value is None or self.path is None or value.startswith("irds:") or Path(value).is_absolute():
            return value
        return str(self.path.parent / value)


_SECTIONS = {"model": ModelConfig, "data": DataConfig, "loss": LossConfig, "train": TrainConfig}


def _build(cls, raw: dict, section: str, where: str):
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: [{section}] must be a table, got {raw!r}")
    for key, value in raw.items():
        if key not in fields:
            raise ConfigError(f"{where}: unknown key {key!r} in [{section}] (valid: {', '.join(sorted(fields))}); "
                              f"fix the spelling or remove it")
        if not fits(value, hints[key]):
            raise ConfigError(f"{where}: [{section}] {key} must be {describe(hints[key])}, got {value!r}")
        problem = value_problem(key, value)
        if problem:
            raise ConfigError(f"{where}: [{section}] {problem}")
    if section == "model" and isinstance(raw.get("options"), dict):
        for key, value in raw["options"].items():
            problem = value_problem(key, value)
            if problem:
                raise ConfigError(f"{where}: [model] options: {problem}")
    return cls(**raw)


def _check(spec: TrainingSpec, where: str) -> None:
    m, d, loss, t = spec.model, spec.data, spec.loss, spec.train
    if bool(m.name) == (m.train_config is not None):
        raise ConfigError(f'{where}: [model] needs either name = "..." (an alias such as "all-MiniLM-L6-v2" or a '
                          f'path) or train_config = "other.toml" (start from the model it trains), not both')
    if not d.topics and not d.triples:
        raise ConfigError(f'{where}: [data] needs topics = "irds:..." (with qrels), or triples = "file.tsv"')
    if d.group_size < 1 or d.depth < 1:
        raise ConfigError(f"{where}: [data] group_size and depth must be at least 1")
    if d.group_size > d.depth + 1 and d.negatives is not None:
        raise ConfigError(f"{where}: [data] group_size {d.group_size} needs depth >= {d.group_size - 1}")
    if d.negatives is not None:
        _check_negatives(d.negatives, where)
    allowed = losses_for(m.family)
    if loss.name not in allowed:
        raise ConfigError(f"{where}: [loss] name {loss.name!r} does not train the {m.family!r} family "
                          f"(valid: {', '.join(allowed)})")
    if m.family not in DUAL_ENCODER_FAMILIES:
        for key in ("distill", "temperature"):
            if getattr(loss, key) is not None:
                raise ConfigError(f"{where}: [loss] {key} trains a dual encoder ({', '.join(DUAL_ENCODER_FAMILIES)}), "
                                  f"not a {m.family!r}: remove it (a re-ranker distils with name = \"margin-mse\" "
                                  f"or \"kl\")")
    if m.family != "splade" and (loss.flops_query or loss.flops_doc or loss.flops_warmup_steps):
        raise ConfigError(f"{where}: [loss] flops_query, flops_doc and flops_warmup_steps regularise SPLADE, not a "
                          f"{m.family!r}: remove them")
    needs_teacher = LOSSES[loss.name].teacher or loss.distill is not None
    if needs_teacher and not d.teacher:
        raise ConfigError(f"{where}: [loss] {loss.name!r}{' with distill' if loss.distill else ''} needs teacher "
                          f'scores: set [data] teacher = "scores.run" (write it with `transformers-ir predict`) '
                          f'or teacher = {{ train_config = "teacher.toml" }}')
    if loss.teacher_scale is not None and not needs_teacher:
        raise ConfigError(f"{where}: [loss] teacher_scale scales teacher scores, but {loss.name!r} learns from none: "
                          f'remove it, or distil (name = "margin-mse" or "kl", or a dual encoder\'s distill = ...)')
    if spec.teacher is not None:
        if (spec.teacher.train_config is None) == (spec.teacher.model is None):
            raise ConfigError(f'{where}: [data] teacher needs exactly one of: either train_config = "teacher.toml" '
                              f'(the model it trains) or model = "..." (a checkpoint or alias), not both')
        if d.negatives is None:
            raise ConfigError(f'{where}: [data] teacher = {{ ... }} scores the candidates of [data] negatives: set '
                              f'negatives = {{ component = "bm25" }}, or give a teacher-score file instead')
        if spec.teacher.family not in RERANKER_FAMILIES:
            raise ConfigError(f"{where}: [data] teacher family {spec.teacher.family!r} does not re-rank (valid: "
                              f"{', '.join(RERANKER_FAMILIES)})")
    for key in ("batch_size", "gradient_accumulation", "query_max_length", "max_length", "save_steps",
                "logging_steps"):
        if getattr(t, key) < 1:
            raise ConfigError(f"{where}: [train] {key} must be at least 1, got {getattr(t, key)}")
    if t.epochs <= 0 and t.max_steps <= 0:
        raise ConfigError(f"{where}: [train] set epochs > 0 or max_steps > 0")
    if not 0 <= t.warmup_ratio < 1:
        raise ConfigError(f"{where}: [train] warmup_ratio must be in [0, 1), got {t.warmup_ratio}")


def _check_negatives(negatives: dict, where: str) -> None:
    """``[data] negatives = { component = ..., <parameters>, "%" = K }``: a registered first stage, checked as a
    pipeline file's stage is (names, types, ranges)."""
    params = dict(negatives)
    name = params.pop("component", None)
    cutoff = params.pop(CUTOFF_KEY, None)
    train_config = params.pop(NEGATIVES_TRAIN_CONFIG, None)
    components = registry()
    if not isinstance(name, str) or name not in components:
        raise ConfigError(f'{where}: [data] negatives must name a registered first stage, e.g. {{ component = '
                          f'"bm25" }}, got {name!r} (registered: {", ".join(sorted(components))})')
    if train_config is not None:
        if not isinstance(train_config, str):
            raise ConfigError(f"{where}: [data] negatives train_config must be the path of a training .toml "
                              f"(relative to this file), got {train_config!r}")
        if "model" not in components[name].parameters() or "model" in params:
            raise ConfigError(f"{where}: [data] negatives train_config replaces the model parameter: use it on a "
                              f"component with 'model' (dense, splade) and drop 'model'")
    if cutoff is not None and (isinstance(cutoff, bool) or not isinstance(cutoff, int) or cutoff < 1):
        raise ConfigError(f'{where}: [data] negatives "%" must be a positive whole number, got {cutoff!r}')
    problems = components[name].check_params(params)
    if problems:
        raise ConfigError(f"{where}: [data] negatives: {'; '.join(problems)}")


def _check_chained(spec: TrainingSpec, key: str, value: str, families: tuple[str, ...], where: str,
                   chain: tuple[Path, ...]) -> None:
    """A config another one names (``[model] train_config``, ``[data] teacher.train_config``) must parse, train one
    of ``families`` and not lead back to a config of the chain; checked now, so that a broken one fails before any
    training."""
    other_path = Path(spec.resolve(value)).resolve()
    if other_path in chain:
        raise ConfigError(f"{where}: {key} {value!r} leads back to {other_path}: a config cannot start from its "
                          f"own model (nor learn from its own scores)")
    other = parse_training_config(other_path, _chain=chain)
    if other.model.family not in families:
        fix = f"set family = {other.model.family!r}" if len(families) == 1 else "name a re-ranker's config"
        raise ConfigError(f"{where}: {key} {value!r} trains a {other.model.family!r} model, not "
                          f"{' or '.join(map(repr, families))}: {fix}")


def parse_training_config(source: str | Path | dict, *, name: str | None = None,
                          _chain: tuple[Path, ...] = ()) -> TrainingSpec:
    """Read and check a training config (a TOML path, or the same content as a dict).

    Args:
        source: the ``.toml`` file, or its content as a dict.
        name: the config's name (default: its ``name`` key, else the file's stem).

    Returns:
        The checked config; configs it names (``[model] train_config``, a teacher's) are checked too.

    Raises:
        ConfigError: a missing file, invalid TOML, an unknown key, a wrong type or a bad combination (the message
            names the key and the fix).
    """
    if isinstance(source, dict):
        raw, path, where = source, None, "training config"
    else:
        path = Path(source)
        where = str(path)
        if not path.is_file():
            raise ConfigError(f"training config {path} does not exist: give the path of a .toml file "
                              f"(see pipelines/train/)")
        data = path.read_bytes()
        try:
            raw = tomllib.loads(data.decode("utf-8"))
        except UnicodeDecodeError as e:
            line = data[: e.start].count(b"\n") + 1
            raise ConfigError(f"{where}:{line}: byte {data[e.start:e.start + 1]!r} is not UTF-8 text: save the file "
                              f"as UTF-8") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{where}: not valid TOML: {e}") from None
    raw = dict(raw)
    top_name = raw.pop("name", None)
    if top_name is not None and not isinstance(top_name, str):
        raise ConfigError(f"{where}: name must be a string, got {top_name!r}")
    for key in raw.keys() - _SECTIONS.keys():
        raise ConfigError(f"{where}: unknown top-level key {key!r} (valid: name, {', '.join(_SECTIONS)})")
    parts = {key: _build(cls, raw.get(key, {}), key, where) for key, cls in _SECTIONS.items()}
    if "name" not in raw.get("loss", {}) and parts["model"].family in DUAL_ENCODER_FAMILIES:
        parts["loss"].name = "rank-ibn"  # what trains a dual encoder without a teacher
    if isinstance(parts["data"].teacher, dict):
        parts["data"].teacher = _build(TeacherConfig, parts["data"].teacher, "data.teacher", where)
    spec = TrainingSpec(path=path, name=name or top_name or (path.stem if path else "model"), **parts)
    _check(spec, where)
    chain = _chain + ((path.resolve(),) if path else ())
    if spec.model.train_config is not None:
        _check_chained(spec, "[model] train_config", spec.model.train_config, (spec.model.family,), where, chain)
    if spec.teacher is not None and spec.teacher.train_config is not None:
        _check_chained(spec, "[data] teacher.train_config", spec.teacher.train_config, RERANKER_FAMILIES,
                       where, chain)
    if spec.data.negatives is not None and NEGATIVES_TRAIN_CONFIG in spec.data.negatives:
        _check_chained(spec, "[data] negatives train_config", spec.data.negatives[NEGATIVES_TRAIN_CONFIG],
                       tuple(FAMILIES), where, chain)
    return spec
