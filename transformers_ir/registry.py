"""The registry of components a pipeline file may name: the package's public factories, nothing else.

A component is a function ``(ctx: Context, *, param=default, ...) -> pt.Transformer``. Its keyword parameters,
with their annotations, are the parameters a pipeline file (or a training config's ``[data] negatives``) may give;
anything else is refused with the list of valid ones.

This is a leaf module: of the package it imports only the value checks (:mod:`transformers_ir._values`, plain
Python), and neither torch nor PyTerrier. The components themselves live in :mod:`transformers_ir.components`,
one module per family, which import the families lazily; :func:`registry` imports that package on its first call,
which registers them. A new family adds its module there (see that package's docstring).
"""
from __future__ import annotations

import importlib
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from transformers_ir._values import value_problem

if typing.TYPE_CHECKING:  # annotations only: the registry must not import PyTerrier
    import pyterrier as pt

#: The package whose import registers every component.
COMPONENTS_PACKAGE = "transformers_ir.components"
#: The stage key that cuts a stage's output to its top K per query (PyTerrier's ``%``), in pipeline files and in
#: a training config's ``[data] negatives``.
CUTOFF_KEY = "%"


@dataclass
class Context:
    """What a component factory may use besides its parameters.

    Attributes:
        dataset: the corpus side: what first stages index and re-rankers read text from.
        base_dir: the pipeline file's folder, for relative paths.
        verbose: show progress.
        systems: the systems built so far in the file, by name (what ``fusion`` reads).
    """

    dataset: pt.datasets.Dataset
    base_dir: Path = Path(".")
    verbose: bool = False
    systems: dict[str, pt.Transformer] = field(default_factory=dict)


@dataclass(frozen=True)
class Component:
    """A registered factory.

    Attributes:
        name: its name in pipeline files.
        factory: the function ``(ctx, **params) -> pt.Transformer``.
        summary: the first line of its docstring (what ``transformers-ir components`` prints).
    """

    name: str
    factory: Callable[..., pt.Transformer]
    summary: str

    def parameters(self) -> dict[str, inspect.Parameter]:
        """The parameters a pipeline file may give (every parameter after the context), by name.

        Returns:
            ``{name: inspect.Parameter}`` in the factory's order.
        """
        params = list(inspect.signature(self.factory).parameters.values())[1:]
        return {p.name: p for p in params}

    def check_params(self, params: dict) -> list[str]:
        """Problems with ``params`` (unknown names, missing required ones, wrong types, values out of range: see
        :mod:`transformers_ir._values`), as messages.

        Args:
            params: the parameters as written in the file.

        Returns:
            One message per problem (empty when the parameters fit).
        """
        problems = []
        accepted = self.parameters()
        hints = parameter_hints(self.factory)
        for key, value in params.items():
            if key not in accepted:
                valid = ", ".join(accepted) or "none"
                problems.append(f"component {self.name!r} has no parameter {key!r} (valid: {valid})")
            elif key in hints and not fits(value, hints[key]):
                problems.append(f"parameter {key!r} of {self.name!r} must be {describe(hints[key])}, got {value!r}")
            elif (problem := value_problem(key, value)) is not None:
                problems.append(f"parameter {key!r} of {self.name!r}: {problem}")
        for name, p in accepted.items():
            if p.default is inspect.Parameter.empty and name not in params:
                problems.append(f"component {self.name!r} needs parameter {name!r}")
        return problems

    def build(self, ctx: Context, params: dict) -> pt.Transformer:
        """The stage: the factory called with the context and ``params``.

        Args:
            ctx: the dataset, the pipeline file's folder, verbosity and the systems built so far.
            params: the checked parameters (see :meth:`check_params`).

        Returns:
            The transformer the factory builds.
        """
        return self.factory(ctx, **params)


_REGISTRY: dict[str, Component] = {}
_loaded = False


def component(name: str) -> Callable[[Callable], Callable]:
    """Register a component factory under ``name`` (its docstring's first line is the summary).

    Args:
        name: the name pipeline files use (``component = "bm25"``).

    Returns:
        A decorator that registers the factory and returns it unchanged.

    Raises:
        ValueError: ``name`` is registered already.
    """

    def register(fn: Callable) -> Callable:
        if name in _REGISTRY:
            raise ValueError(f"component {name!r} is registered twice")
        _REGISTRY[name] = Component(name, fn, (inspect.getdoc(fn) or "").split("\n")[0])
        return fn

    return register


def registry() -> dict[str, Component]:
    """Every registered component, by name; the first call imports :mod:`transformers_ir.components`.

    Returns:
        A copy of the registry (``{name: Component}``).
    """
    global _loaded
    if not _loaded:
        importlib.import_module(COMPONENTS_PACKAGE)  # by name: the components import the families, above us
        _loaded = True
    return dict(_REGISTRY)


def parameter_hints(fn: Callable) -> dict[str, typing.Any]:
    """The evaluated annotations of ``fn``'s parameters; its return annotation is skipped, so it may name a type
    imported only for type checkers (``pt.Transformer`` in a module that does not import PyTerrier).

    Args:
        fn: a function whose annotations may be strings (``from __future__ import annotations``).

    Returns:
        ``{parameter: type}`` for the annotated parameters.
    """
    annotations = {k: v for k, v in inspect.get_annotations(fn).items() if k != "return"}
    return typing.get_type_hints(types.SimpleNamespace(__annotations__=annotations), globalns=fn.__globals__)


def fits(value, hint) -> bool:
    """Whether a TOML value fits a type annotation (``Literal``, unions, ``list[...]``, ``dict``, scalars).

    Ints fit ``float``; booleans fit neither ``int`` nor ``float``.

    Args:
        value: the value as read from TOML.
        hint: the evaluated annotation.

    Returns:
        True when ``value`` is acceptable for ``hint``.
    """
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is typing.Any:
        return True
    if origin is typing.Literal:
        return value in args
    if origin in (typing.Union, types.UnionType):
        return any(fits(value, a) for a in args)
    if hint is type(None):
        return value is None
    if origin in (list, tuple):
        return isinstance(value, list) and (not args or all(fits(v, args[0]) for v in value))
    if origin is dict:
        return isinstance(value, dict)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def describe(hint) -> str:
    """A type annotation as an error message says it: ``one of 'pisa', 'terrier'``, ``int or null``.

    Args:
        hint: the evaluated annotation.

    Returns:
        The description.
    """
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin is not None and typing.get_args(hint):
        return " or ".join(describe(a) for a in typing.get_args(hint))
    return "null" if hint is type(None) else getattr(hint, "__name__", str(hint))


__all__ = ["COMPONENTS_PACKAGE", "CUTOFF_KEY", "Component", "Context", "component", "describe", "fits",
           "parameter_hints", "registry"]
