"""``transformers-ir prepare``: offline data into ir_datasets' cache, Terrier's jars, the model aliases checked."""
from __future__ import annotations

import argparse

from transformers_ir import _paths, data
from transformers_ir.cli._stdout import stdout_to_stderr
from transformers_ir.models import MODEL_ALIASES, alias_path


def _cmd_prepare(args: argparse.Namespace) -> int:
    with stdout_to_stderr():
        status = data.prepare_all()
        if not args.no_java:
            data.prepare_terrier()
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


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    """Add ``prepare`` to the command's subcommands.

    Args:
        sub: the parser's subcommands.
    """
    prep = sub.add_parser("prepare", help="fill ir_datasets' cache from the data folder, fetch Terrier's jars")
    prep.add_argument("--no-java", action="store_true", help="skip Terrier (the PISA/neural path needs no Java)")
    prep.set_defaults(fn=_cmd_prepare)
