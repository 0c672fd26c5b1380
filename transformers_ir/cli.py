"""The ``transformers-ir`` command: ``run`` a pipeline file, ``prepare`` offline data, list ``components``,
``train`` a model from a training config, ``predict`` teacher scores."""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator

from transformers_ir._errors import TransformersIRError


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to file descriptor 1 (Python, Java and C++ alike) to stderr for the block, so
    stdout carries only what the command means to print (PISA and Terrier print to stdout)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _cmd_run(args) -> int:
    from transformers_ir.experiments import format_table, parse_pipeline, run_experiment, summary, write_outputs

    with stdout_to_stderr():
        spec = parse_pipeline(args.pipeline)
        result = run_experiment(spec, verbose=not args.quiet, cache=not args.no_cache, cache_dir=args.cache_dir)
        if args.out:
            write_outputs(result, args.out)
    if args.json:
        print(json.dumps(summary(result)))
    else:
        print(f"{spec.name}: {spec.topics}, {len(result.topics)} topics")
        print(format_table(result))
        if args.out:
            print(f"outputs written to {args.out}")
    return 0


def _cmd_prepare(args) -> int:
    from transformers_ir import _paths
    from transformers_ir.data import prepare_all
    from transformers_ir.models import MODEL_ALIASES, alias_path

    with stdout_to_stderr():
        status = prepare_all()
        if not args.no_java:
            import pyterrier as pt

            pt.java.init()  # fetches Terrier's jars from Maven Central once, into ~/.pyterrier
    print(f"data folder: {_paths.data_dir()}; ir_datasets cache: {_paths.irds_home()}")
    for name, state in status.items():
        print(f"  dataset {name}: {state}")
    for alias in MODEL_ALIASES:
        try:
            print(f"  model {alias}: {alias_path(alias)}")
        except FileNotFoundError as e:
            print(f"  model {alias}: missing ({e})")
    print("  terrier: " + ("skipped (--no-java)" if args.no_java else "jars ready"))
    return 0


def _cmd_components(args) -> int:
    from transformers_ir.experiments import registry

    for name, comp in sorted(registry().items()):
        params = ", ".join(
            p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in comp.parameters().values()
        )
        print(f"{name}({params})\n    {comp.summary}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="transformers-ir", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a pipeline file and print its table")
    run.add_argument("pipeline", help="a pipeline .toml file (see pipelines/)")
    run.add_argument("--out", help="folder for the table, per-query results, run files and plots")
    run.add_argument("--json", action="store_true", help="print one JSON object on stdout and nothing else")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument("--no-cache", action="store_true",
                     help="compute every stage (no on-disk caches read or written); time the systems themselves")
    run.add_argument("--cache-dir", help="folder of the stage caches (default: $TRANSFORMERS_IR_HOME/caches)")
    run.set_defaults(fn=_cmd_run)
    prep = sub.add_parser("prepare", help="fill ir_datasets' cache from the data folder, fetch Terrier's jars")
    prep.add_argument("--no-java", action="store_true", help="skip Terrier (the PISA/neural path needs no Java)")
    prep.set_defaults(fn=_cmd_prepare)
    comps = sub.add_parser("components", help="list the components a pipeline file may use")
    comps.set_defaults(fn=_cmd_components)
    from transformers_ir.training._cli import add_subcommands  # train, predict

    add_subcommands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except TransformersIRError as e:
        print(f"transformers-ir: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("transformers-ir: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
