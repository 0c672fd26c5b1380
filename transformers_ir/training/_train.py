"""``train(config)``: data from PyTerrier objects -> the family's own modules -> the trainer -> a checkpoint that
the family's ``from_pretrained`` reloads. Checkpoints are cached by the config's hash: ``ensure_trained`` trains
only when the final model is missing, and a killed run resumes from its last checkpoint. A config naming another
(``[model] train_config``, a teacher's ``train_config``) trains that one first.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict
from pathlib import Path

import transformers

from transformers_ir._atomic import atomic_file
from transformers_ir._jsonfile import read_json
from transformers_ir._outputs import claim_work_dir
from transformers_ir._quiet import SCREEN
from transformers_ir.training._card import CARD, model_card
from transformers_ir.training._config import NEGATIVES_TRAIN_CONFIG, SUMMARY, TrainingSpec, parse_training_config
from transformers_ir.training._dataset import build_dataset, teacher_scores_cached
from transformers_ir.training._families import load_family
from transformers_ir.training._fit import fit
from transformers_ir.training._trainer import LOSS_LOG, LOSS_PLOT, barrier, plot_loss


def _spec(config: str | Path | TrainingSpec) -> TrainingSpec:
    return config if isinstance(config, TrainingSpec) else parse_training_config(config)


def source_model(spec: TrainingSpec, *, verbose: bool = True) -> str:
    """What training starts from: ``[model] name``, or the model ``[model] train_config`` trains (trained first
    when it is missing).

    Args:
        spec: the training config.
        verbose: show progress while training the parent.

    Returns:
        A name or folder for the family's ``from_pretrained``.
    """
    if spec.model.train_config is None:
        return spec.model.name
    return str(ensure_trained(spec.parent(), verbose=verbose))


def train(config: str | Path | TrainingSpec, *, resume: bool = True, verbose: bool = True) -> Path:
    """Train the model a config describes; returns the folder of the final model (``<output>/model``), which
    the family's ``from_pretrained`` loads. ``<output>`` also holds ``loss_log.csv``, ``loss.png`` and
    ``training.json`` (config, hash, data report, wall time: this call's, plus the training time of the
    interrupted runs it resumed); the model folder gets a ``README.md`` model card saying what it is, its config
    and hash and the figures measured while training it.

    Args:
        config: a training config (path or parsed).
        resume: continue from the last complete checkpoint of an interrupted run.
        verbose: show progress.

    Returns:
        The final model's folder.

    Raises:
        OutputExists: ``[train] output`` is a file, a link, or a folder transformers-ir did not write.
    """
    spec = _spec(config)
    output = claim_work_dir(spec.output_dir(), kind="training", evidence=(SUMMARY, "checkpoints"),
                            flag=f"{spec.path or spec.name}: [train] output")
    source = source_model(spec, verbose=verbose)  # a parent config's model, trained first when missing
    teacher_model = None
    if spec.teacher is not None and spec.teacher.train_config and not teacher_scores_cached(spec):
        teacher_model = str(ensure_trained(spec.teacher_spec(), verbose=verbose))  # it scores the pairs next
    negatives_model = None
    if spec.data.negatives is not None and NEGATIVES_TRAIN_CONFIG in spec.data.negatives:
        negatives_model = str(ensure_trained(spec.negatives_spec(), verbose=verbose))  # it mines the negatives
    transformers.set_seed(spec.train.seed)
    started = time.perf_counter()
    dataset, report = build_dataset(spec, verbose=verbose, teacher_model=teacher_model,
                                    negatives_model=negatives_model)
    family_obj = load_family(spec, source)
    if verbose and os.environ.get("RANK", "0") == "0":  # under torchrun, one process says it
        SCREEN.write(announcement(spec, len(dataset)) + "\n")
    trainer = fit(spec, family_obj, dataset, output, resume=resume, verbose=verbose)
    if trainer.is_world_process_zero():
        family_obj.save_pretrained(spec.model_dir(), overwrite=True)  # atomic: a kill keeps the previous model
        log = output / "checkpoints" / LOSS_LOG
        if log.is_file():
            (output / LOSS_LOG).write_bytes(log.read_bytes())
            plot_loss(output / LOSS_LOG, output / LOSS_PLOT, title=f"{spec.name}: {spec.loss.name}")
        summary = {"name": spec.name, "config_hash": spec.config_hash(), "config": spec.to_dict(),
                   "data": asdict(report), "examples": len(dataset), "steps": trainer.state.global_step,
                   "seconds": time.perf_counter() - started + trainer.clock.earlier}
        with atomic_file(output / SUMMARY) as f:
            json.dump(summary, f, indent=2, default=str)
        config_text = Path(spec.path).read_text() if spec.path and Path(spec.path).is_file() else None
        card = model_card(json.loads(json.dumps(summary, default=str)), config_text=config_text,
                          loss_log=output / LOSS_LOG)
        with atomic_file(spec.model_dir() / CARD) as f:  # the folder explains itself when shared
            f.write(card)
    barrier()  # under torchrun, the other processes read the model and its summary next (a child config, the command)
    return spec.model_dir()


def announcement(spec: TrainingSpec, examples: int) -> str:
    """What training is about to do, said before the (often long) work starts: the model, the data and the
    number of optimiser steps; after the first steps, a line says the time left at the measured rate
    (:class:`TimeEstimate`), and the progress bar keeps it current.

    Args:
        spec: the training config.
        examples: training groups in the data set, every epoch's (:class:`GroupDataset` holds the epochs).

    Returns:
        One line.
    """
    t = spec.train
    per_step = t.batch_size * t.gradient_accumulation * max(1, int(os.environ.get("WORLD_SIZE", "1")))
    steps = t.max_steps if t.max_steps > 0 else math.ceil(examples / per_step)  # the epochs are in the examples
    return (f"transformers-ir: training {spec.name} ({spec.model.family}, {spec.loss.name} loss): {examples} "
            f"examples, {steps} optimiser steps of {per_step} groups; this can take long on a CPU (the progress "
            f"bar shows the rate and time left)")


def trained_model_path(config: str | Path | TrainingSpec) -> Path:
    """Where a config's trained model is (or will be), without training it.

    Args:
        config: a training config (path or parsed).

    Returns:
        Its model folder.
    """
    return _spec(config).model_dir()


def training_summary(config: str | Path | TrainingSpec) -> dict:
    """The ``training.json`` a finished training run wrote (config, hash, data report, steps, seconds).

    Args:
        config: a training config (path or parsed).

    Returns:
        The summary as a dict.
    """
    return read_json(_spec(config).output_dir() / SUMMARY, fix="train again (transformers-ir train --force)")


def ensure_trained(config: str | Path | TrainingSpec, *, verbose: bool = True) -> Path:
    """The trained model's folder, training it first when it is missing (cached by the config's hash).

    Args:
        config: a training config (path or parsed).
        verbose: show progress.

    Returns:
        The model folder.
    """
    spec = _spec(config)
    return spec.model_dir() if spec.trained() else train(spec, verbose=verbose)
