"""``transformers-ir components``: what a pipeline file may name, with each component's parameters."""
from __future__ import annotations

import argparse

from transformers_ir.registry import registry


def components_command(args: argparse.Namespace) -> int:
    """``transformers-ir components``: print every component with its parameters and summary (exit status 0)."""
    for name, comp in sorted(registry().items()):
        params = ", ".join(
            p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in comp.parameters().values()
        )
        print(f"{name}({params})\n    {comp.summary}")
    return 0
