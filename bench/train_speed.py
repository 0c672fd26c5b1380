"""Training speed: our cross-encoder training (``transformers_ir.training.fit``: HF Trainer, grouped softmax)
against sentence-transformers' ``CrossEncoderTrainer`` with ``ListNetLoss`` (the same loss for one positive:
softmax cross-entropy over the group) on the same model, batch, group size, sequence length and groups.

The groups are real: SciFact train claims, each with its judged abstract and BM25 hard negatives. Both start from
the same weights (all-MiniLM-L6-v2 with one new head, seeded). Runs alternate ``--rounds`` times (ours, peer,
ours, peer, ...) so a busy shared CPU slows both alike; each round times ``--steps`` optimiser steps after one
untimed warm-up step. The last line is JSON: ``{"ours_steps_per_s", "peer_steps_per_s", "ratio"}``.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/train_speed.py --steps 6 --rounds 2
    HF_HUB_OFFLINE=1 .venv/bin/python bench/train_speed.py --model /path/to/tiny --steps 4   # a quick check
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
import transformers  # noqa: E402

from transformers_ir.cross_encoders import CrossEncoder  # noqa: E402
from transformers_ir.models import resolve_model  # noqa: E402
from transformers_ir.training import build_dataset, fit, parse_training_config  # noqa: E402


class _StepTimer(transformers.TrainerCallback):
    """Wall time of the steps after the first (the first one builds the optimiser and warms caches)."""

    def __init__(self):
        self.start = self.end = None

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 1:
            self.start = time.perf_counter()
        self.end = time.perf_counter()


def _spec(args, out: Path):
    return parse_training_config({
        "model": {"family": "cross-encoder", "name": args.model, "options": {"num_labels": 1}},
        "data": {"topics": "irds:beir/scifact/train", "negatives": {"component": "bm25", "engine": "pisa"},
                 "group_size": args.group_size, "max_queries": args.batch_size * (args.steps + 1) * 2},
        "loss": {"name": "grouped-softmax"},
        "train": {"max_steps": args.steps + 1, "batch_size": args.batch_size, "learning_rate": 2e-5,
                  "warmup_ratio": 0.0, "max_length": args.max_length, "query_max_length": 32,
                  "save_steps": 10_000, "logging_steps": 10_000, "output": str(out)},
    })


def ours(args, dataset, out: Path) -> float:
    spec = _spec(args, out)
    torch.manual_seed(0)
    model = CrossEncoder.from_pretrained(args.model, num_labels=1, max_length=args.max_length, query_max_length=32)
    timer = _StepTimer()
    fit(spec, model, dataset, out, resume=False, verbose=False, callbacks=[timer])
    return args.steps / (timer.end - timer.start)


def peer(args, dataset, out: Path) -> float:
    from datasets import Dataset
    from sentence_transformers.cross_encoder import CrossEncoder as STCrossEncoder
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import ListNetLoss

    torch.manual_seed(0)
    model = STCrossEncoder(resolve_model(args.model), num_labels=1, max_length=args.max_length)
    groups = [dataset[i] for i in range(len(dataset))]
    data = Dataset.from_dict({"query": [g.query for g in groups], "docs": [g.docs for g in groups],
                              "labels": [g.labels for g in groups]})
    targs = CrossEncoderTrainingArguments(
        output_dir=str(out), max_steps=args.steps + 1, per_device_train_batch_size=args.batch_size,
        learning_rate=2e-5, warmup_steps=0, save_strategy="no", logging_steps=10_000, report_to=[],
        disable_tqdm=True, seed=0)
    timer = _StepTimer()
    trainer = CrossEncoderTrainer(model=model, args=targs, train_dataset=data, loss=ListNetLoss(model),
                                  callbacks=[timer])
    trainer.train()
    return args.steps / (timer.end - timer.start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--batch-size", type=int, default=4, help="groups per step")
    parser.add_argument("--group-size", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=192)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    with tempfile.TemporaryDirectory() as tmp:
        dataset, _ = build_dataset(_spec(args, Path(tmp) / "data"))
        results = {"ours": [], "peer": []}
        for r in range(args.rounds):
            for name, run in (("ours", ours), ("peer", peer)):
                steps_per_s = run(args, dataset, Path(tmp) / f"{name}-{r}")
                results[name].append(steps_per_s)
                print(f"round {r + 1} {name}: {steps_per_s:.3f} steps/s", flush=True)
    best = {k: max(v) for k, v in results.items()}
    print(f"model {args.model}, batch {args.batch_size} groups of {args.group_size}, {args.max_length} tokens, "
          f"{args.steps} timed steps x {args.rounds} rounds (best round each)")
    print(json.dumps({"ours_steps_per_s": round(best["ours"], 4), "peer_steps_per_s": round(best["peer"], 4),
                      "ratio": round(best["ours"] / best["peer"], 3)}))


if __name__ == "__main__":
    main()
