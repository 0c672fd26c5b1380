"""``transformers-ir prepare``: offline data into ir_datasets' cache, Terrier's jars, the model aliases checked."""
from __future__ import annotations

import argparse

from transformers_ir import _paths, data
from transformers_ir.cli._stdout import stdout_to_stderr
from transformers_ir.models import MODEL_ALIASES, alias_path


def prepare_command(args: argparse.Namespace) -> int:
    """``transformers-ir prepare``: fill the offline caches, fetch Terrier's jars, check the model aliases."""
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
