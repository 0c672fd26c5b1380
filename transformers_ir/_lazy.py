"""Lazy re-exports for the packages' ``__init__`` modules (PEP 562).

``import transformers_ir.splade`` (or ``from transformers_ir import cross_encoders``) loads none of the package's
modules; a public name is imported from the module that implements it the first time it is used. So the command
line, the component registry and a training config's parser start without torch, and a notebook pays for a
family only when it uses one.

Each package writes its explicit ``__all__`` and where each name lives::

    __all__ = ["CrossEncoder", "Reranker"]
    __getattr__, __dir__ = lazy_exports(__name__, __all__, {
        "._cross_encoder": ["CrossEncoder"],
        "._base": ["Reranker"],
    })
"""
from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping


def lazy_exports(package: str, public: Iterable[str],
                 where: Mapping[str, Iterable[str]]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose ``public`` names live in other modules.

    Args:
        package: the package's ``__name__``.
        public: its ``__all__``; every name must appear in ``where`` exactly once, and nothing else.
        where: module (relative to ``package`` when it starts with ``.``) -> the names it implements.

    Returns:
        ``(__getattr__, __dir__)`` to assign at the package's top level.

    Raises:
        ImportError: ``public`` and ``where`` disagree (a name exported but not placed, or placed but not exported).
    """
    module_of = {name: module for module, names in where.items() for name in names}
    public = list(public)
    if sorted(module_of) != sorted(public) or len(module_of) != sum(len(list(n)) for n in where.values()):
        raise ImportError(f"{package}: __all__ {sorted(public)} and the lazy exports {sorted(module_of)} differ: "
                          f"list every public name once in both")

    def __getattr__(name: str) -> object:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)  # the next lookup is an ordinary attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(module_of))

    return __getattr__, __dir__
