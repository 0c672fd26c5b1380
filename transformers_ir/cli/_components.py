"""``transformers-ir components``: what a pipeline file may name, with each component's parameters."""
from __future__ import annotations

import argparse

from transformers_ir.registry import registry


def _cmd_components(args: argparse.Namespace) -> int:
    for name, comp in sorted(registry().items()):
        params = ", ".join(
            p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in comp.parameters().values()
        )
        print(f"{name}({params})\n    {comp.summary}")
    return 0


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    """Add ``components`` to the command's subcommands.

    Args:
        sub: the parser's subcommands.
    """
    comps = sub.add_parser("components", help="list the components a pipeline file may use")
    comps.set_defaults(fn=_cmd_components)
