"""``transformers-ir train`` and ``transformers-ir predict``: train what a training config describes, write
teacher scores."""
from __future__ import annotations

import argparse
import json
import os

from transformers_ir import training
from transformers_ir.cli._stdout import stdout_to_stderr


def _cmd_train(args: argparse.Namespace) -> int:
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


def _cmd_predict(args: argparse.Namespace) -> int:
    with stdout_to_stderr():
        printed = training.predict_teacher_scores(
            args.out, topics=args.topics, model=args.model, family=args.family, train_config=args.train_config,
            qrels=args.qrels, corpus=args.corpus, run=args.run, engine=args.engine, depth=args.depth,
            judged_positives=not args.no_positives, max_queries=args.max_queries, max_length=args.max_length,
            batch_size=args.batch_size, verbose=not args.quiet)
    print(json.dumps(printed))
    return 0


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    """Add ``train`` and ``predict`` to the command's subcommands.

    Args:
        sub: the parser's subcommands.
    """
    train = sub.add_parser("train", help="train the model a training config describes (cached by its hash)")
    train.add_argument("config", help="a training .toml file (see pipelines/train/)")
    train.add_argument("--force", action="store_true", help="train even when the checkpoint exists (resuming)")
    train.add_argument("--restart", action="store_true", help="ignore intermediate checkpoints; start over")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(fn=_cmd_train)
    pred = sub.add_parser("predict", help="teacher scores: re-rank a run's pairs (and the judged positives) and "
                                          "write a TREC run with a provenance JSON beside it")
    pred.add_argument("--model", help="a re-ranker checkpoint folder or alias")
    pred.add_argument("--family", default="cross-encoder", help="its family (cross-encoder, bert-cat, rankt5, monot5)")
    pred.add_argument("--train-config", help="instead of --model: the model this training config trains")
    pred.add_argument("--topics", required=True, help='the queries, e.g. "irds:beir/scifact/train"')
    pred.add_argument("--qrels", help="judged positives to add (default: the topics' dataset)")
    pred.add_argument("--corpus", help="document texts (default: the topics' dataset)")
    pred.add_argument("--run", help="a TREC run file of candidates (default: BM25 over the corpus)")
    pred.add_argument("--engine", default="pisa", choices=["pisa", "terrier"], help="BM25 engine without --run")
    pred.add_argument("--depth", type=int, default=100, help="candidates per query from the run")
    pred.add_argument("--no-positives", action="store_true", help="do not add the judged positives")
    pred.add_argument("--max-queries", type=int, help="only the first N queries (a quick check)")
    pred.add_argument("--max-length", type=int, help="tokens per pair (default: the checkpoint's)")
    pred.add_argument("--batch-size", type=int, help="pairs per forward pass")
    pred.add_argument("--quiet", action="store_true", help="no progress bar")
    pred.add_argument("--out", required=True, help="the teacher-score run file to write")
    pred.set_defaults(fn=_cmd_predict)
