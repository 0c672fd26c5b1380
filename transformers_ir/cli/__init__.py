"""The ``transformers-ir`` command line (entry point ``transformers_ir.cli:main``; also ``python -m
transformers_ir.cli``). One module per command group; importing this package loads neither torch nor PyTerrier:
each command loads what it uses when it runs."""
from transformers_ir.cli._main import build_parser, main
from transformers_ir.cli._stdout import stdout_to_stderr

__all__ = ["build_parser", "main", "stdout_to_stderr"]
