"""``transformers-ir train`` and ``transformers-ir predict``: train what a training config describes, write
teacher scores."""
from __future__ import annotations

import argparse
import json
import os

from transformers_ir import training
from transformers_ir.cli._stdout import stdout_to_stderr


def train_command(args: argparse.Namespace) -> int:
    """``transformers-ir train``: train (or reuse) the config's model and print its summary as JSON."""
    spec = training.parse_training_config(args.config)
    with stdout_to_stderr():
        path = training.train(spec, resume=not args.restart, verbose=not args.quiet) if args.force or args.restart \
            else training.ensure_trained(spec, verbose=not args.quiet)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # under torchrun the first process reports (two writing at once interleave their lines)
    summary = training.training_summary(spec)
    print(json.dumps({"model": str(path), "config_hash": summary["config_hash"], "steps": summary["steps"],
                      "seconds": round(summary["seconds"], 1), "data": summary["data"]}))
    return 0


def predict_command(args: argparse.Namespace) -> int:
    """``transformers-ir predict``: write a teacher-score file and print what was written (exit status 0)."""
    with stdout_to_stderr():
        printed = training.predict_teacher_scores(
            args.out, topics=args.topics, model=args.model, family=args.family, train_config=args.train_config,
            qrels=args.qrels, corpus=args.corpus, run=args.run, engine=args.engine, depth=args.depth,
            judged_positives=not args.no_positives, max_queries=args.max_queries, max_length=args.max_length,
            batch_size=args.batch_size, force=args.force, verbose=not args.quiet)
    print(json.dumps(printed))
    return 0
