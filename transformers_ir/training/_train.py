"""``train(config)``: data from PyTerrier objects -> the family's own modules -> the trainer -> a checkpoint that
the family's ``from_pretrained`` reloads. Checkpoints are cached by the config's hash: ``ensure_trained`` trains
only when the final model is missing, and a killed run resumes from its last checkpoint.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import torch
import transformers

from transformers_ir import _paths
from transformers_ir._atomic import atomic_file
from transformers_ir._device import infer_device, resolve_precision
from transformers_ir._errors import UsageError
from transformers_ir.data import get_dataset
from transformers_ir.models import resolve_model
from transformers_ir.registry import CUTOFF_KEY, Context, registry
from transformers_ir.training._config import CROSS_ENCODER_FAMILIES, TrainingSpec, parse_training_config
from transformers_ir.training._data import (
    DataReport,
    GroupDataset,
    TrainingGroup,
    build_groups,
    doc_texts,
    drop_missing_texts,
    read_triples,
)
from transformers_ir.training._modules import (
    CrossEncoderTrainingModule,
    PairCollator,
    SpladeCollator,
    SpladeTrainingModule,
)
from transformers_ir.training._teacher import (
    check_teacher_covers,
    provenance_path,
    read_teacher_scores,
    score_with_teacher,
    write_teacher_scores,
)
from transformers_ir.training._trainer import (
    LOSS_LOG,
    LOSS_PLOT,
    RankingTrainer,
    barrier,
    last_checkpoint,
    plot_loss,
)

_log = logging.getLogger(__name__)
MODEL_DIR = "model"
SUMMARY = "training.json"

#: family -> (module, class)
FAMILIES = {
    "cross-encoder": ("transformers_ir.cross_encoders", "CrossEncoder"),
    "bert-cat": ("transformers_ir.cross_encoders", "BertCat"),
    "rankt5": ("transformers_ir.cross_encoders", "RankT5Encoder"),
    "monot5": ("transformers_ir.cross_encoders", "MonoT5"),
    "splade": ("transformers_ir.splade", "Splade"),
}


def family_class(family: str):
    module, name = FAMILIES[family]
    return getattr(importlib.import_module(module), name)


def source_model(spec: TrainingSpec, *, verbose: bool = True) -> str:
    """What training starts from: ``[model] name``, or the model ``[model] train_config`` trains (trained first
    when it is missing)."""
    if spec.model.train_config is None:
        return spec.model.name
    return str(ensure_trained(spec.parent(), verbose=verbose))


def load_family(spec: TrainingSpec, name: str | None = None):
    """The family object to train (or a trained one, from ``name``), built by its own ``from_pretrained``."""
    cls = family_class(spec.model.family)
    options = dict(spec.model.options)
    options.setdefault("doc_max_length" if spec.model.family == "splade" else "max_length", spec.train.max_length)
    options.setdefault("query_max_length", spec.train.query_max_length)
    try:
        return cls.from_pretrained(resolve_model(name or source_model(spec)), **options)
    except TypeError as e:
        raise UsageError(f"[model] options {spec.model.options} do not fit {cls.__name__}.from_pretrained: {e}") from e


def load_reranker(family: str, model: str | None, spec: TrainingSpec | None = None, *,
                  max_length: int | None = None, batch_size: int | None = None,
                  verbose: bool = True) -> tuple[object, str]:
    """A re-ranker to score with and where it was loaded from: ``model`` of ``family``, or the model the training
    config ``spec`` trains (trained first when missing)."""
    if spec is not None:
        family, model = spec.model.family, str(ensure_trained(spec, verbose=verbose))
    if family not in CROSS_ENCODER_FAMILIES:
        raise UsageError(f"teacher scores come from a re-ranker: family {family!r} is not one of "
                         f"{', '.join(CROSS_ENCODER_FAMILIES)}")
    kwargs = {k: v for k, v in {"max_length": max_length, "batch_size": batch_size}.items() if v}
    return family_class(family).from_pretrained(model, verbose=verbose, **kwargs), model


def teacher_scores_path(spec: TrainingSpec) -> Path:
    """Where ``[data] teacher = { ... }``'s scores are cached: named by the teacher, keyed by everything that
    decides them (the teacher's weights or config hash and settings, and what decides the training pairs)."""
    d = spec.data
    decided_by = {"teacher": spec.teacher_identity, **{k: getattr(d, k) for k in (
        "topics", "qrels", "corpus", "negatives", "depth", "group_size", "few_candidates", "max_queries")}}
    key = hashlib.sha256(json.dumps(decided_by, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return _paths.home() / "teachers" / f"{_teacher_name(spec)}-{key}.run"


def _teacher_name(spec: TrainingSpec) -> str:
    teacher = spec.teacher
    return spec.teacher_spec().name if teacher.train_config else Path(teacher.model).name


def ensure_teacher_scores(spec: TrainingSpec, groups: list[TrainingGroup], corpus, *, verbose: bool = True) -> Path:
    """The teacher-score file of ``[data] teacher = { ... }``: read from the cache, or scored now (every pair the
    training groups can draw: each positive and every candidate negative) and written atomically, provenance
    last, so an interrupted scoring is never read back as complete."""
    path = teacher_scores_path(spec)
    if path.is_file() and provenance_path(path).is_file():
        return path
    teacher = spec.teacher
    reranker, model = load_reranker(teacher.family, teacher.model,
                                    spec.teacher_spec() if teacher.train_config else None,
                                    max_length=teacher.max_length, batch_size=teacher.batch_size, verbose=verbose)
    pairs = pd.DataFrame([(g.qid, g.query, docno) for g in groups for docno in [g.positive, *g.candidates]],
                         columns=["qid", "query", "docno"]).drop_duplicates(["qid", "docno"], ignore_index=True)
    _log.info("scoring %d training pairs with the teacher %s", len(pairs), model)
    scored, provenance = score_with_teacher(reranker, corpus, pairs, name=_teacher_name(spec), model=model,
                                            topics=spec.data.topics, depth=spec.data.depth, judged_positives=True,
                                            source_run=json.dumps(spec.data.negatives))
    write_teacher_scores(scored, path, provenance)
    return path


def new_parameters(module: torch.nn.Module, source: str) -> set[str]:
    """Names of ``module``'s parameters that the source checkpoint does not hold (a new head): a parameter is old
    when one of its dotted suffixes (``parts.model.bert.encoder.x`` -> ``encoder.x``) is a checkpoint key."""
    folder = Path(resolve_model(source))
    keys: set[str] = set()
    for file in folder.glob("*.safetensors"):
        with safe_open(file) as f:
            keys |= set(f.keys())
    if not keys:
        return set()
    return {n for n, _ in module.named_parameters()
            if not any(n.split(".", i)[-1] in keys for i in range(n.count(".") + 1))}


def safe_open(file):
    import safetensors

    return safetensors.safe_open(str(file), framework="pt")


def _first_stage(spec: TrainingSpec, corpus):
    params = dict(spec.data.negatives)
    name = params.pop("component")
    cutoff = params.pop(CUTOFF_KEY, None)
    components = registry()
    if name not in components:
        raise UsageError(f"[data] negatives names unknown component {name!r} (registered: {', '.join(components)})")
    problems = components[name].check_params(params)
    if problems:
        raise UsageError(f"[data] negatives: {'; '.join(problems)}")
    stage = components[name].build(Context(dataset=corpus, base_dir=spec.path.parent if spec.path else Path(".")),
                                   params)
    return stage % cutoff if cutoff else stage


def build_dataset(spec: TrainingSpec, *, verbose: bool = False) -> tuple[GroupDataset, DataReport]:
    """Groups of 1 positive + ``group_size - 1`` negatives from the config's topics, qrels and first stage (or
    triples file, or the teacher file's candidates), with their texts and teacher scores."""
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
            run = _first_stage(spec, corpus)(topics)
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
        teacher_file = ensure_teacher_scores(spec, groups, corpus, verbose=verbose)
        teacher, teacher_meta = read_teacher_scores(teacher_file)
    if teacher is not None:
        check_teacher_covers(teacher, [(g.qid, x) for g in groups for x in [g.positive, *g.candidates]], teacher_file)
    report.extra["teacher"] = teacher_meta
    dataset_ = GroupDataset(groups, texts, group_size=group_size, epochs=spec.train.epochs, seed=d.seed,
                            teacher=teacher)
    report.log()
    return dataset_, report


def _precision(choice: str) -> dict:
    """The Trainer's precision flags, decided by the one :func:`resolve_precision` inference uses: ``auto`` is the
    device default; bf16 on a CPU without native bf16 warns and trains in fp32 (emulated bf16 autocast ran a
    MiniLM step about 14x slower than fp32 on an AVX2-only CPU)."""
    device = infer_device()
    resolved = resolve_precision(None if choice == "auto" else choice, device)
    if resolved == "fp32":
        return {}
    return {resolved: True, **({"use_cpu": True} if device.type == "cpu" else {})}


def _ddp_backend() -> str | None:
    """gloo for ``torchrun`` on CPU; the Trainer's default (NCCL) on GPU; nothing for a single process."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available():
        return "gloo"
    return None


def training_arguments(spec: TrainingSpec, output: Path, *, verbose: bool = True) -> transformers.TrainingArguments:
    t = spec.train
    return transformers.TrainingArguments(
        output_dir=str(output), num_train_epochs=1, max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size, gradient_accumulation_steps=t.gradient_accumulation,
        learning_rate=t.learning_rate, weight_decay=t.weight_decay, warmup_steps=t.warmup_ratio,
        lr_scheduler_type=t.scheduler, seed=t.seed, data_seed=t.seed, save_strategy="steps",
        save_steps=t.save_steps, save_total_limit=t.save_total_limit, logging_steps=t.logging_steps,
        logging_first_step=True, report_to=[], disable_tqdm=not verbose, remove_unused_columns=False,
        dataloader_num_workers=t.dataloader_workers, dataloader_pin_memory=torch.cuda.is_available(),
        ddp_backend=_ddp_backend(),
        ddp_find_unused_parameters=False, **_precision(t.precision),
    )


def training_module(spec: TrainingSpec, family_obj):
    loss = spec.loss
    if spec.model.family == "splade":
        module = SpladeTrainingModule(family_obj, loss=loss.name, flops_query=loss.flops_query,
                                      flops_doc=loss.flops_doc, flops_warmup_steps=loss.flops_warmup_steps,
                                      distill=loss.distill, distill_weight=loss.distill_weight,
                                      in_batch_negatives=loss.in_batch_negatives)
        return module, SpladeCollator(family_obj)
    return CrossEncoderTrainingModule(family_obj, loss.name), PairCollator(family_obj)


def fit(spec: TrainingSpec, family_obj, dataset: GroupDataset, output: Path, *, resume: bool = True,
        verbose: bool = True, callbacks: list | None = None) -> RankingTrainer:
    """Train ``family_obj``'s modules in place with the HF Trainer; checkpoints go to ``output/checkpoints``.
    ``callbacks`` are ``transformers.TrainerCallback`` objects added to the trainer's own."""
    module, collator = training_module(spec, family_obj)
    checkpoints = output / "checkpoints"
    head = new_parameters(module, source_model(spec)) if spec.train.head_learning_rate else set()
    trainer = RankingTrainer(model=module, args=training_arguments(spec, checkpoints, verbose=verbose),
                             train_dataset=dataset, data_collator=collator, head_parameters=head,
                             head_learning_rate=spec.train.head_learning_rate, callbacks=callbacks)
    if not verbose:
        trainer.remove_callback(transformers.trainer_callback.PrinterCallback)
    last = last_checkpoint(checkpoints) if resume else None
    if last is not None:
        _log.info("resuming from %s", last)
    module.train()
    trainer.train(resume_from_checkpoint=str(last) if last else None)
    module.eval()
    return trainer


def train(config: str | Path | TrainingSpec, *, resume: bool = True, verbose: bool = True) -> Path:
    """Train the model a config describes; returns the folder of the final model (``<output>/model``), which
    the family's ``from_pretrained`` loads. ``<output>`` also holds ``loss_log.csv``, ``loss.png`` and
    ``training.json`` (config, hash, data report, wall time: this call's, plus the training time of the
    interrupted runs it resumed)."""
    spec = config if isinstance(config, TrainingSpec) else parse_training_config(config)
    output = spec.output_dir()
    transformers.set_seed(spec.train.seed)
    started = time.perf_counter()
    dataset, report = build_dataset(spec, verbose=verbose)
    family_obj = load_family(spec)
    trainer = fit(spec, family_obj, dataset, output, resume=resume, verbose=verbose)
    if trainer.is_world_process_zero():
        family_obj.save_pretrained(output / MODEL_DIR, overwrite=True)  # atomic: a kill keeps the previous model
        log = output / "checkpoints" / LOSS_LOG
        if log.is_file():
            (output / LOSS_LOG).write_bytes(log.read_bytes())
            plot_loss(output / LOSS_LOG, output / LOSS_PLOT, title=f"{spec.name}: {spec.loss.name}")
        summary = {"name": spec.name, "config_hash": spec.config_hash(), "config": spec.to_dict(),
                   "data": asdict(report), "examples": len(dataset), "steps": trainer.state.global_step,
                   "seconds": time.perf_counter() - started + trainer.clock.earlier}
        with atomic_file(output / SUMMARY) as f:
            json.dump(summary, f, indent=2, default=str)
    barrier()  # under torchrun, the other processes read the model and its summary next (a child config, the command)
    return output / MODEL_DIR


def trained_model_path(config: str | Path | TrainingSpec) -> Path:
    spec = config if isinstance(config, TrainingSpec) else parse_training_config(config)
    return spec.output_dir() / MODEL_DIR


def training_summary(config: str | Path | TrainingSpec) -> dict:
    """The ``training.json`` a finished training run wrote (config, hash, data report, steps, seconds).

    Args:
        config: a training config (path or parsed).

    Returns:
        The summary as a dict.
    """
    spec = config if isinstance(config, TrainingSpec) else parse_training_config(config)
    return json.loads((spec.output_dir() / SUMMARY).read_text())


def ensure_trained(config: str | Path | TrainingSpec, *, verbose: bool = True) -> Path:
    """The trained model's folder, training it first when it is missing (cached by the config's hash)."""
    spec = config if isinstance(config, TrainingSpec) else parse_training_config(config)
    path = trained_model_path(spec)
    if path.is_dir() and (spec.output_dir() / SUMMARY).is_file():
        return path
    return train(spec, verbose=verbose)
