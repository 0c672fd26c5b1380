"""Fitting a family object: its modules and loss (:mod:`._modules`), the Trainer's arguments (precision, torchrun),
the new head's parameters for ``head_learning_rate``, and the training loop that resumes from a checkpoint."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
import transformers

from transformers_ir import _checkpoint
from transformers_ir._device import infer_device, resolve_precision
from transformers_ir._quiet import SCREEN
from transformers_ir.training._config import TrainingSpec
from transformers_ir.training._data import GroupDataset
from transformers_ir.training._families import starting_point
from transformers_ir.training._modules import (
    BiEncoderTrainingModule,
    CrossEncoderTrainingModule,
    EncoderCollator,
    PairCollator,
    SpladeTrainingModule,
)
from transformers_ir.training._tables import DUAL_ENCODER_FAMILIES
from transformers_ir.training._trainer import RankingTrainer, TimeEstimate, last_checkpoint

_log = logging.getLogger(__name__)

def new_parameters(module: torch.nn.Module, source: str) -> set[str]:
    """Names of ``module``'s parameters that the source checkpoint does not hold (a new head): a parameter is old
    when one of its dotted suffixes (``parts.model.bert.encoder.x`` -> ``encoder.x``) is a checkpoint key.

    The checkpoint is found and read by :mod:`transformers_ir._checkpoint` (a folder, an alias or a hub name;
    safetensors, ``pytorch_model.bin`` or shards), so ``head_learning_rate`` applies whatever the format.

    Args:
        module: the training module.
        source: what training starts from.

    Returns:
        The new parameters' names.
    """
    keys = _checkpoint.weight_keys(_checkpoint.checkpoint_dir(source))
    return {n for n, _ in module.named_parameters()
            if not any(n.split(".", i)[-1] in keys for i in range(n.count(".") + 1))}


def _precision(choice: str) -> dict:
    """The Trainer's precision flags, decided by the one :func:`resolve_precision` inference uses: ``auto`` is the
    device default; bf16 on a CPU without native bf16 warns and trains in fp32 (emulated bf16 autocast ran a
    MiniLM step about 14x slower than fp32 on an AVX2-only CPU)."""
    device = infer_device()
    resolved = resolve_precision(None if choice == "auto" else choice, device)
    if resolved == "fp32":
        return {}
    return {resolved: True, **({"use_cpu": True} if device.type == "cpu" else {})}


def _distributed() -> dict:
    """The Trainer's arguments for ``torchrun`` on CPU: the gloo backend (NCCL needs GPUs) and ``use_cpu=True``,
    so every process puts its replica on the CPU and counts no GPU; on GPU the Trainer's defaults (NCCL); nothing
    for a single process."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available():
        return {"ddp_backend": "gloo", "use_cpu": True}
    return {}


def training_arguments(spec: TrainingSpec, output: Path, *, verbose: bool = True) -> transformers.TrainingArguments:
    """The Hugging Face Trainer's arguments for a config's ``[train]`` table.

    Args:
        spec: the training config.
        output: the checkpoints folder.
        verbose: show the progress bar.

    Returns:
        The arguments (one pass over the dataset: its epochs are in the dataset itself).
    """
    t = spec.train
    return transformers.TrainingArguments(
        output_dir=str(output), num_train_epochs=1, max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size, gradient_accumulation_steps=t.gradient_accumulation,
        learning_rate=t.learning_rate, weight_decay=t.weight_decay, warmup_steps=t.warmup_ratio,
        lr_scheduler_type=t.scheduler, seed=t.seed, data_seed=t.seed, save_strategy="steps",
        save_steps=t.save_steps, save_total_limit=t.save_total_limit, logging_steps=t.logging_steps,
        logging_first_step=True, report_to=[], disable_tqdm=not verbose, remove_unused_columns=False,
        dataloader_num_workers=t.dataloader_workers, dataloader_pin_memory=torch.cuda.is_available(),
        ddp_find_unused_parameters=False, **_precision(t.precision), **_distributed(),
    )


def training_module(spec: TrainingSpec, family_obj):
    """What the trainer optimises for a config's family and loss, and the collator that batches its groups.

    Args:
        spec: the training config.
        family_obj: the family object (its modules are trained in place).

    Returns:
        ``(module, collator)``.
    """
    loss, family = spec.loss, spec.model.family
    dual = {"loss": loss.name, "distill": loss.distill, "distill_weight": loss.distill_weight,
            "in_batch_negatives": loss.in_batch_negatives, "temperature": loss.effective_temperature(family)} \
        if family in DUAL_ENCODER_FAMILIES else {}
    if family == "splade":
        module = SpladeTrainingModule(family_obj, flops_query=loss.flops_query, flops_doc=loss.flops_doc,
                                      flops_warmup_steps=loss.flops_warmup_steps, **dual)
        return module, EncoderCollator(family_obj)
    if dual:
        return BiEncoderTrainingModule(family_obj, **dual), EncoderCollator(family_obj)
    return CrossEncoderTrainingModule(family_obj, loss.name), PairCollator(family_obj)


def _above_the_bar(line: str) -> None:
    """A line on the screen above the trainer's progress bar (tqdm clears the bar, prints, redraws it)."""
    from tqdm.auto import tqdm

    tqdm.write(line.rstrip("\n"), file=SCREEN)


def fit(spec: TrainingSpec, family_obj, dataset: GroupDataset, output: Path, *, resume: bool = True,
        verbose: bool = True, callbacks: list | None = None) -> RankingTrainer:
    """Train ``family_obj``'s modules in place with the HF Trainer; checkpoints go to ``output/checkpoints``.

    Args:
        spec: the training config.
        family_obj: the family object to train.
        dataset: its groups (:func:`build_dataset`).
        output: the config's output folder.
        resume: continue from the last complete checkpoint.
        verbose: show progress.
        callbacks: ``transformers.TrainerCallback`` objects added to the trainer's own.

    Returns:
        The trainer, after training.
    """
    module, collator = training_module(spec, family_obj)
    checkpoints = output / "checkpoints"
    head = new_parameters(module, starting_point(spec)) if spec.train.head_learning_rate else set()
    callbacks = list(callbacks or [])
    if verbose and os.environ.get("RANK", "0") == "0":  # under torchrun, one process says it
        callbacks.append(TimeEstimate(spec.name, write=_above_the_bar))
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


