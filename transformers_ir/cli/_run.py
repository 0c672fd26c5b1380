"""``transformers-ir run``: a pipeline file's systems, their table, and optionally every output in a folder."""
from __future__ import annotations

import argparse
import json

from transformers_ir import experiments
from transformers_ir._outputs import check_output_dir
from transformers_ir.cli._stdout import stdout_to_stderr


def run_command(args: argparse.Namespace) -> int:
    """``transformers-ir run``: parse the pipeline file, run it, print its table (or JSON), write ``--out``."""
    with stdout_to_stderr():
        spec = experiments.parse_pipeline(args.pipeline)
        if args.out is not None:  # before any work: a refused --out is known at once, not after the run
            check_output_dir(args.out, force=args.force)
        result = experiments.run_experiment(spec, verbose=not args.quiet, cache=not args.no_cache,
                                            cache_dir=args.cache_dir)
        if args.out is not None:
            experiments.write_outputs(result, args.out, force=args.force)
    if args.json:
        print(json.dumps(experiments.summary(result)))
    else:
        print(f"{spec.name}: {spec.topics}, {len(result.topics)} topics")
        print(experiments.format_table(result))
        if args.out is not None:
            print(f"outputs written to {args.out}")
    return 0
