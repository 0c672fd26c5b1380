"""The ``transformers-ir`` command: ``run`` a pipeline file, ``prepare`` offline data, list ``components``,
``train`` a model from a training config, ``predict`` teacher scores."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import threading

from transformers_ir._quiet import VERBOSE_ENV
from transformers_ir.cli import _components, _prepare, _run, _train
from transformers_ir.errors import TransformersIRError


def build_parser() -> argparse.ArgumentParser:
    """The command's argument parser; each subcommand runs a function of its module (``_run``, ``_prepare``,
    ``_components``, ``_train``).

    Returns:
        The parser; each subcommand sets ``fn``, the function that runs it.
    """
    parser = argparse.ArgumentParser(prog="transformers-ir", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("--verbose", action="store_true",
                         help="show what PISA and Terrier print (captured and shown only on failure otherwise)")
    run = sub.add_parser("run", parents=[verbose],
                         help="run a pipeline file and print its table")
    run.add_argument("pipeline", help="a pipeline .toml file (see pipelines/)")
    run.add_argument("--out", help="folder for the table, per-query results, run files and plots (a new or empty "
                                   "folder; an existing file or a folder transformers-ir did not write is refused)")
    run.add_argument("--force", action="store_true",
                     help="replace --out when it holds this command's own earlier output (and nothing else)")
    run.add_argument("--json", action="store_true", help="print one JSON object on stdout and nothing else")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument("--no-cache", action="store_true",
                     help="compute every stage (no on-disk caches read or written); time the systems themselves")
    run.add_argument("--cache-dir", help="folder of the stage caches (default: $TRANSFORMERS_IR_HOME/caches)")
    run.set_defaults(fn=_run.run_command)
    prep = sub.add_parser("prepare", parents=[verbose],
                          help="fill ir_datasets' cache from the data folder, fetch Terrier's jars")
    prep.add_argument("--no-java", action="store_true", help="skip Terrier (the PISA/neural path needs no Java)")
    prep.set_defaults(fn=_prepare.prepare_command)
    comps = sub.add_parser("components", help="list the components a pipeline file may use")
    comps.set_defaults(fn=_components.components_command)
    train = sub.add_parser("train", parents=[verbose],
                           help="train the model a training config describes (cached by its hash)")
    train.add_argument("config", help="a training .toml file (see pipelines/train/)")
    train.add_argument("--force", action="store_true", help="train even when the checkpoint exists (resuming)")
    train.add_argument("--restart", action="store_true", help="ignore intermediate checkpoints; start over")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(fn=_train.train_command)
    pred = sub.add_parser("predict", parents=[verbose],
                          help="teacher scores: re-rank a run's pairs (and the judged positives) and "
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
    pred.add_argument("--out", required=True, help="the teacher-score run file to write (a new file)")
    pred.add_argument("--force", action="store_true", help="replace --out when it is an earlier teacher-score file")
    pred.set_defaults(fn=_train.predict_command)
    return parser


#: Set to 1 to see the traceback of an error the command reports in one line.
TRACEBACK_ENV = "TRANSFORMERS_IR_TRACEBACK"


def one_line(error: BaseException) -> str:
    """An error as one line: its message (multi-line messages joined), prefixed with its type unless it is ours.

    Args:
        error: the exception.

    Returns:
        The line.
    """
    text = "; ".join(line.strip() for line in str(error).splitlines() if line.strip()) or repr(error)
    return text if isinstance(error, TransformersIRError) else f"{type(error).__name__}: {text}"


def _quiet_thread_errors(args) -> None:
    """An exception in a library's worker thread (pyterrier-pisa indexes in one): one line, no traceback; the
    command re-raises what matters (see ``CorpusGuard``)."""
    if args.exc_type is not SystemExit:
        logging.getLogger("transformers_ir").warning("in thread %s: %s", getattr(args.thread, "name", "?"),
                                                     one_line(args.exc_value))


def main(argv: list[str] | None = None) -> int:
    """Run the command line; every error it meets is reported as one line on stderr, never a traceback
    (``TRANSFORMERS_IR_TRACEBACK=1`` shows it).

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 for an error (the error's ``exit_code`` for ours), 130 when interrupted.
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    args = build_parser().parse_args(argv)
    if getattr(args, "verbose", False):
        os.environ[VERBOSE_ENV] = "1"  # the engines' own output as it comes (threads and subprocesses too)
    show = os.environ.get(TRACEBACK_ENV, "") not in ("", "0")
    hook, threading.excepthook = threading.excepthook, (threading.excepthook if show else _quiet_thread_errors)
    try:
        return args.fn(args)
    except KeyboardInterrupt:
        print("transformers-ir: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - every error becomes one line; ours say the fix, others name the type
        if show:
            raise
        print(f"transformers-ir: error: {one_line(e)}", file=sys.stderr)
        return e.exit_code if isinstance(e, TransformersIRError) else 2
    finally:
        threading.excepthook = hook
