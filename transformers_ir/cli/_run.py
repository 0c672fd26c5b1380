"""``transformers-ir run``: a pipeline file's systems, their table, and optionally every output in a folder."""
from __future__ import annotations

import argparse
import json

from transformers_ir import experiments
from transformers_ir.cli._stdout import stdout_to_stderr


def _cmd_run(args: argparse.Namespace) -> int:
    with stdout_to_stderr():
        spec = experiments.parse_pipeline(args.pipeline)
        result = experiments.run_experiment(spec, verbose=not args.quiet, cache=not args.no_cache,
                                            cache_dir=args.cache_dir)
        if args.out:
            experiments.write_outputs(result, args.out)
    if args.json:
        print(json.dumps(experiments.summary(result)))
    else:
        print(f"{spec.name}: {spec.topics}, {len(result.topics)} topics")
        print(experiments.format_table(result))
        if args.out:
            print(f"outputs written to {args.out}")
    return 0


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    """Add ``run`` to the command's subcommands.

    Args:
        sub: the parser's subcommands.
    """
    run = sub.add_parser("run", help="run a pipeline file and print its table")
    run.add_argument("pipeline", help="a pipeline .toml file (see pipelines/)")
    run.add_argument("--out", help="folder for the table, per-query results, run files and plots")
    run.add_argument("--json", action="store_true", help="print one JSON object on stdout and nothing else")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument("--no-cache", action="store_true",
                     help="compute every stage (no on-disk caches read or written); time the systems themselves")
    run.add_argument("--cache-dir", help="folder of the stage caches (default: $TRANSFORMERS_IR_HOME/caches)")
    run.set_defaults(fn=_cmd_run)
