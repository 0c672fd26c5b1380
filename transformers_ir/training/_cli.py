"""The ``train`` and ``predict`` subcommands of ``transformers-ir`` (registered by :func:`add_subcommands`)."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from transformers_ir._errors import UsageError


def _cmd_train(args) -> int:
    from transformers_ir.cli import stdout_to_stderr
    from transformers_ir.training._config import parse_training_config
    from transformers_ir.training._train import SUMMARY, ensure_trained, train

    spec = parse_training_config(args.config)
    with stdout_to_stderr():
        path = train(spec, resume=not args.restart, verbose=not args.quiet) if args.force or args.restart \
            else ensure_trained(spec, verbose=not args.quiet)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # under torchrun the first process reports (two writing at once interleave their lines)
    summary = json.loads((spec.output_dir() / SUMMARY).read_text())
    print(json.dumps({"model": str(path), "config_hash": summary["config_hash"], "steps": summary["steps"],
                      "seconds": round(summary["seconds"], 1), "data": summary["data"]}))
    return 0


def _cmd_predict(args) -> int:
    import pyterrier as pt

    from transformers_ir.cli import stdout_to_stderr
    from transformers_ir.data import get_dataset
    from transformers_ir.training._config import parse_training_config
    from transformers_ir.training._teacher import pairs_to_score, score_with_teacher, write_teacher_scores
    from transformers_ir.training._train import load_reranker

    if bool(args.model) == bool(args.train_config):
        raise UsageError("predict needs exactly one of --model (a checkpoint or alias) or --train-config "
                         "(the model a training config trains, trained first when missing)")

    with stdout_to_stderr():
        dataset = get_dataset(args.topics)
        corpus = get_dataset(args.corpus) if args.corpus else dataset
        topics = dataset.get_topics()
        if args.max_queries:
            topics = topics.head(args.max_queries)
        qrels = None if args.no_positives else (get_dataset(args.qrels) if args.qrels else dataset).get_qrels()
        if args.run:
            if not Path(args.run).is_file():
                raise UsageError(f"run file {args.run} does not exist: give a TREC run of the topics to score")
            run = pt.io.read_results(args.run)
        else:
            from transformers_ir import first_stage

            run = first_stage.bm25(corpus, engine=args.engine)(topics)
        spec = parse_training_config(args.train_config) if args.train_config else None
        reranker, model = load_reranker(args.family, args.model, spec, max_length=args.max_length,
                                        batch_size=args.batch_size, verbose=not args.quiet)
        scored, provenance = score_with_teacher(
            reranker, corpus, pairs_to_score(run, topics, qrels, depth=args.depth),
            name=args.model or Path(model).parent.name, model=model, topics=args.topics, depth=args.depth,
            judged_positives=not args.no_positives, source_run=args.run or f"bm25 ({args.engine})")
        write_teacher_scores(scored, args.out, provenance)
    print(json.dumps({"out": args.out, "pairs": len(scored), "queries": int(scored["qid"].nunique()),
                      **{k: provenance[k] for k in ("teacher", "checkpoint_hash")}}))
    return 0


def add_subcommands(sub: argparse._SubParsersAction) -> None:
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


__all__ = ["add_subcommands"]
