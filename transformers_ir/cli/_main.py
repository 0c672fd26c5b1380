"""The ``transformers-ir`` command: ``run`` a pipeline file, ``prepare`` offline data, list ``components``,
``train`` a model from a training config, ``predict`` teacher scores."""
from __future__ import annotations

import argparse
import logging
import sys

from transformers_ir._errors import TransformersIRError
from transformers_ir.cli import _components, _prepare, _run, _train


def build_parser() -> argparse.ArgumentParser:
    """The command's argument parser, one subcommand per module of :mod:`transformers_ir.cli`.

    Returns:
        The parser; each subcommand sets ``fn``, the function that runs it.
    """
    parser = argparse.ArgumentParser(prog="transformers-ir", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (_run, _prepare, _components, _train):
        module.add_subcommands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, the error's ``exit_code`` for a problem the user can fix (2 for bad
        arguments or files), 130 when interrupted.
    """
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
