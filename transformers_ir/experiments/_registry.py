"""The registry of components a pipeline file may name: the package's public factories, nothing else.

A component is a function ``(ctx: Context, *, param=default, ...) -> pt.Transformer``. Its keyword parameters,
with their annotations, are the parameters a pipeline file may give; anything else is refused with the list of
valid ones. Families register theirs in their own ``_components`` module, listed in ``COMPONENT_MODULES``.
"""
from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyterrier as pt

#: Modules whose import registers components (each family keeps its own).
COMPONENT_MODULES = [
    "transformers_ir.experiments._components",
    "transformers_ir.cross_encoders._components",
    "transformers_ir.splade._components",
]


@dataclass
class Context:
    """What a component factory may use besides its parameters."""

    dataset: pt.datasets.Dataset  # the corpus side: what first stages index and re-rankers read text from
    base_dir: Path = Path(".")  # the pipeline file's folder, for relative paths
    verbose: bool = False
    systems: dict[str, pt.Transformer] = field(default_factory=dict)  # systems built so far, by name


@dataclass(frozen=True)
class Component:
    name: str
    factory: Callable[..., pt.Transformer]
    summary: str

    def parameters(self) -> dict[str, inspect.Parameter]:
        params = list(inspect.signature(self.factory).parameters.values())[1:]
        return {p.name: p for p in params}

    def check_params(self, params: dict) -> list[str]:
        """Problems with ``params`` (unknown names, missing required ones, wrong types), as messages."""
        problems = []
        accepted = self.parameters()
        hints = typing.get_type_hints(self.factory)
        for key, value in params.items():
            if key not in accepted:
                valid = ", ".join(accepted) or "none"
                problems.append(f"component {self.name!r} has no parameter {key!r} (valid: {valid})")
            elif key in hints and not _fits(value, hints[key]):
                problems.append(
                    f"parameter {key!r} of {self.name!r} must be {_describe(hints[key])}, got {value!r}"
                )
        for name, p in accepted.items():
            if p.default is inspect.Parameter.empty and name not in params:
                problems.append(f"component {self.name!r} needs parameter {name!r}")
        return problems

    def build(self, ctx: Context, params: dict) -> pt.Transformer:
        return self.factory(ctx, **params)


_REGISTRY: dict[str, Component] = {}
_loaded = False


def component(name: str):
    """Register a component factory under ``name`` (its docstring's first line is the summary)."""

    def register(fn):
        if name in _REGISTRY:
            raise ValueError(f"component {name!r} is registered twice")
        _REGISTRY[name] = Component(name, fn, (inspect.getdoc(fn) or "").split("\n")[0])
        return fn

    return register


def registry() -> dict[str, Component]:
    global _loaded
    if not _loaded:
        for module in COMPONENT_MODULES:
            importlib.import_module(module)
        _loaded = True
    return dict(_REGISTRY)


def _fits(value, hint) -> bool:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is typing.Any:
        return True
    if origin is typing.Literal:
        return value in args
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return any(_fits(value, a) for a in args)
    if hint is type(None):
        return value is None
    if origin in (list, tuple):
        return isinstance(value, list) and (not args or all(_fits(v, args[0]) for v in value))
    if origin is dict:
        return isinstance(value, dict)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _describe(hint) -> str:
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin is not None and typing.get_args(hint):
        return " or ".join(_describe(a) for a in typing.get_args(hint))
    return "null" if hint is type(None) else getattr(hint, "__name__", str(hint))
