"""The trainer: Hugging Face's ``Trainer`` (accelerate underneath) with our typed batches and losses.

What it adds to the stock Trainer: batches are dataclasses moved to the device whole; the dataset is read in
order (its own seeded shuffling makes a resumed run identical to an uninterrupted one); checkpoints are written to
``.tmp-checkpoint-N`` and renamed to ``checkpoint-N`` only once complete (a kill while writing leaves the
previous checkpoint as the last loadable one); weights are saved with ``safetensors.torch.save_model`` so tied
weights (SPLADE's MLM head, T5) are fine; new head parameters may get their own learning rate; the loss and the
model's extra figures (average non-zeros for SPLADE) go to ``loss_log.csv`` and ``loss.png``; the training time is
kept in every checkpoint, so that of a resumed run counts the runs before it (``trainer.clock``).

Everything else (mixed precision, gradient accumulation, warm-up and decay, the progress bar, ``torchrun``
data-parallel training with gloo on CPU or NCCL on GPU) is the Trainer's own.
"""
from __future__ import annotations

import csv
import io
import os
import re
import shutil
import time
from pathlib import Path

import pandas as pd
import safetensors.torch
import torch
import transformers
from transformers.trainer_callback import ExportableState
from transformers.trainer_utils import rotate_checkpoints

from transformers_ir._atomic import atomic_file
from transformers_ir._jsonfile import read_json

LOSS_LOG = "loss_log.csv"
LOSS_PLOT = "loss.png"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def last_checkpoint(folder: str | Path) -> Path | None:
    """The newest complete ``checkpoint-N`` folder (temporary ``.tmp-*`` folders are never considered).

    Args:
        folder: the checkpoints folder.

    Returns:
        The folder, or None when there is none.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in folder.iterdir()
             if (m := _CHECKPOINT.match(p.name)) and (p / "trainer_state.json").is_file()]
    return max(found)[1] if found else None


def barrier() -> None:
    """Wait for every process of a ``torchrun`` job (nothing for one process). torch's own barrier: the trainer's
    ``accelerator.wait_for_everyone()`` did not wait under torchrun with gloo (seen in checkpoint writes and after
    training), so ranks raced each other's files."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


class TrainingClock(transformers.TrainerCallback, ExportableState):
    """Seconds spent training, ``earlier`` ones (of the runs a resumed run continues) included. Its state goes into
    every checkpoint's ``trainer_state.json`` (``stateful_callbacks``), where the resumed run reads it back."""

    def __init__(self, earlier: float = 0.0):
        self.earlier = earlier
        self._started: float | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        self._started = time.perf_counter()

    def seconds(self) -> float:
        return self.earlier + (0.0 if self._started is None else time.perf_counter() - self._started)

    def state(self) -> dict:
        return {"args": {"earlier": self.seconds()}, "attributes": {}}

    @staticmethod
    def saved_in(checkpoint: str | Path) -> float:
        """The training seconds a checkpoint records (0 for one written without the clock)."""
        saved = read_json(Path(checkpoint) / "trainer_state.json",
                          fix="delete that checkpoint folder (training resumes from the one before, or restarts)"
                          ).get("stateful_callbacks", {})
        return float(saved.get(TrainingClock.__name__, {}).get("args", {}).get("earlier", 0.0))


def rough_duration(seconds: float) -> str:
    """``seconds`` as a person says it: ``40 s``, ``12 min``, ``1 h 20 min``."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 90 else f"{minutes // 60} h {minutes % 60:02d} min"


class TimeEstimate(transformers.TrainerCallback):
    """Says, once, how long the rest of training will take at the rate measured over its first steps (a resumed
    run's first steps after the checkpoint), when that is more than ``at_least`` seconds; the progress bar keeps
    the estimate current afterwards.

    Args:
        name: what is trained (the config's name).
        steps: optimiser steps measured before the estimate.
        at_least: say nothing for shorter work.
        write: where the line goes.
        clock: seconds, monotonic.
    """

    def __init__(self, name: str, *, steps: int = 3, at_least: float = 60.0, write=None, clock=time.perf_counter):
        self.name, self.steps, self.at_least = name, steps, at_least
        self.write = write or (lambda line: None)
        self.clock = clock
        self._start: tuple[int, float] | None = None
        self.said: str | None = None

    def on_step_begin(self, args, state, control, **kwargs):
        if self._start is None:
            self._start = (state.global_step, self.clock())

    def on_step_end(self, args, state, control, **kwargs):
        if self.said is not None or self._start is None or state.global_step - self._start[0] < self.steps:
            return
        done = state.global_step - self._start[0]
        per_step = (self.clock() - self._start[1]) / done
        left = max(0, state.max_steps - state.global_step) * per_step
        self.said = (f"transformers-ir: {self.name}: about {rough_duration(left)} left "
                     f"({per_step:.1f} s a step over the first {done}, {state.max_steps - state.global_step} to go)")
        if left >= self.at_least:
            self.write(self.said + "\n")


class RankingTrainer(transformers.Trainer):
    """``transformers.Trainer`` for our training modules (see the module docstring for what differs).

    Args:
        *args: the Trainer's.
        head_parameters: names of the parameters trained with ``head_learning_rate``.
        head_learning_rate: their learning rate (None: the Trainer's for every parameter).
        **kwargs: the Trainer's (``callbacks`` are added to the training clock).
    """

    def __init__(self, *args, head_parameters: set[str] | None = None, head_learning_rate: float | None = None,
                 **kwargs):
        self.clock = TrainingClock()
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), self.clock]
        super().__init__(*args, **kwargs)
        self.head_parameters = head_parameters or set()
        self.head_learning_rate = head_learning_rate
        self._metric_sums: dict[str, float] = {}
        self._metric_count = 0
        self._staging: Path | None = None

    # -- data -------------------------------------------------------------------------------------------------
    def _get_train_sampler(self, train_dataset=None):
        return torch.utils.data.SequentialSampler(train_dataset if train_dataset is not None else self.train_dataset)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        inner = self.accelerator.unwrap_model(model)
        inner.step = self.state.global_step
        loss = model(inputs["batch"].to(self.args.device))
        for key, value in inner.metrics.items():
            self._metric_sums[key] = self._metric_sums.get(key, 0.0) + value
        self._metric_count += 1
        return (loss, None) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs and self._metric_count:
            logs.update({k: v / self._metric_count for k, v in self._metric_sums.items()})
            self._metric_sums, self._metric_count = {}, 0
        super().log(logs, start_time)
        if self.args.should_save:
            write_loss_log(self.state.log_history, Path(self.args.output_dir) / LOSS_LOG)

    # -- optimiser --------------------------------------------------------------------------------------------
    def create_optimizer(self, model=None):
        if self.optimizer is None and self.head_learning_rate and self.head_parameters:
            decay = set(self.get_decay_parameter_names(self.model))
            groups: dict[tuple[bool, bool], list] = {}
            for name, param in self.model.named_parameters():
                if param.requires_grad:
                    groups.setdefault((name in self.head_parameters, name in decay), []).append(param)
            self.optimizer = torch.optim.AdamW(
                [{"params": params, "lr": self.head_learning_rate if head else self.args.learning_rate,
                  "weight_decay": self.args.weight_decay if decays else 0.0}
                 for (head, decays), params in sorted(groups.items())],
                lr=self.args.learning_rate, betas=(self.args.adam_beta1, self.args.adam_beta2),
                eps=self.args.adam_epsilon)
            return self.optimizer
        return super().create_optimizer()

    # -- checkpoints ------------------------------------------------------------------------------------------
    def _save(self, output_dir: str | None = None, state_dict=None) -> None:
        if not self.args.should_save:
            return
        output_dir = output_dir or self.args.output_dir
        os.makedirs(output_dir, exist_ok=True)
        safetensors.torch.save_model(self.accelerator.unwrap_model(self.model),
                                     os.path.join(output_dir, "model.safetensors"))

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        self.clock.earlier = TrainingClock.saved_in(resume_from_checkpoint)
        target = self.accelerator.unwrap_model(model if model is not None else self.model)
        safetensors.torch.load_model(target, os.path.join(resume_from_checkpoint, "model.safetensors"),
                                     device=str(self.args.device))

    def _get_output_dir(self, trial) -> str:
        return str(self._staging) if self._staging is not None else super()._get_output_dir(trial)

    def _save_checkpoint(self, model, trial) -> None:
        run_dir = Path(self.args.output_dir)
        name = f"checkpoint-{self.state.global_step}"
        self._staging = run_dir / f".tmp-{name}"
        if self.args.should_save and self._staging.exists():
            shutil.rmtree(self._staging)
        barrier()
        # every rank writes its RNG state in it, and rank 0 may not have created it yet
        (self._staging / name).mkdir(parents=True, exist_ok=True)
        try:
            super()._save_checkpoint(model, trial)  # writes .tmp-checkpoint-N/checkpoint-N
        finally:
            staging, self._staging = self._staging, None
        barrier()  # every rank has written its RNG state
        if self.args.should_save:
            final = run_dir / name
            if final.exists():
                shutil.rmtree(final)
            os.replace(staging / name, final)
            shutil.rmtree(staging, ignore_errors=True)
            rotate_checkpoints(output_dir=str(run_dir), save_total_limit=self.args.save_total_limit,
                               use_mtime=False)
        barrier()


def write_loss_log(history: list[dict], path: Path) -> None:
    """The training log entries (those with a ``loss``) as CSV: step, epoch, loss, learning_rate, extras."""
    rows = [h for h in history if "loss" in h]
    if not rows:
        return
    keys = ["step", "epoch", "loss", "learning_rate", "grad_norm"]
    keys += sorted({k for r in rows for k in r} - set(keys))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_file(path) as f:
        f.write(buffer.getvalue())


def plot_loss(log_csv: Path, png: Path, title: str = "training loss") -> None:
    """A PNG of the loss (and its running mean) against the step, from :func:`write_loss_log`'s CSV."""
    from matplotlib.figure import Figure  # only when a plot is drawn: importing training must not load matplotlib

    frame = pd.read_csv(log_csv)
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    ax.plot(frame["step"], frame["loss"], lw=0.8, alpha=0.5, label="loss")
    ax.plot(frame["step"], frame["loss"].rolling(10, min_periods=1).mean(), lw=1.6, label="running mean (10)")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    with atomic_file(png, "wb") as f:
        fig.savefig(f, format="png", dpi=100)
