"""Every exported name is documented in Google style: walked from each package's ``__all__``.

* an exported function has a docstring with ``Args:`` (when it takes arguments), ``Returns:`` or ``Yields:``
  (when it returns something) and ``Raises:`` (when its own body raises an exception);
* an exported class has a docstring with ``Args:`` for its constructor's arguments (``Attributes:`` for a
  dataclass), and each of its public methods and properties has a docstring (inherited ones count).
"""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import textwrap

import pytest

import transformers_ir

PACKAGES = ["transformers_ir", "transformers_ir.errors", "transformers_ir.models", "transformers_ir.registry",
            *sorted(m.name for m in pkgutil.iter_modules(transformers_ir.__path__, "transformers_ir.") if m.ispkg)]


def _sections(doc: str | None) -> set[str]:
    return set(re.findall(r"^\s*(Args|Returns|Yields|Raises|Attributes):", doc or "", re.M))


def _raises(fn) -> bool:
    """Whether the function's own body (not a nested function's) raises an exception."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError):
        return False
    body = tree.body[0]
    stack = list(ast.iter_child_nodes(body))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Raise) and node.exc is not None:
            return True
        stack.extend(ast.iter_child_nodes(node))
    return False


def _function_problems(fn, where: str) -> list[str]:
    doc = inspect.getdoc(fn)
    if not doc:
        return [f"{where}: no docstring"]
    problems, sections = [], _sections(doc)
    signature = inspect.signature(fn)
    if [p for p in signature.parameters if p not in ("self", "cls")] and "Args" not in sections:
        problems.append(f"{where}: no Args section")
    if signature.return_annotation not in (inspect.Signature.empty, None, "None") \
            and not {"Returns", "Yields"} & sections:
        problems.append(f"{where}: no Returns section")
    if _raises(fn) and "Raises" not in sections:
        problems.append(f"{where}: raises, but has no Raises section")
    return problems


def _class_problems(cls, where: str) -> list[str]:
    if not cls.__doc__:
        return [f"{where}: no docstring"]
    problems = []
    init = cls.__dict__.get("__init__")
    takes = init is not None and [p for p in inspect.signature(init).parameters if p != "self"]
    if takes and not {"Args", "Attributes"} & _sections(cls.__doc__):
        problems.append(f"{where}: no Args (or Attributes) section for the constructor")
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        fn = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
        if inspect.isfunction(fn) and not inspect.getdoc(fn):
            problems.append(f"{where}.{name}: no docstring")
    return problems


def _exported(package: str):
    module = importlib.import_module(package)
    for name in module.__all__:
        yield f"{package}.{name}", getattr(module, name)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_has_a_google_style_docstring(package):
    problems = []
    for where, value in _exported(package):
        if inspect.isclass(value):
            problems += _class_problems(value, where)
        elif inspect.isfunction(value):
            problems += _function_problems(value, where)
    assert problems == [], "\n".join(problems)


def test_the_checker_finds_what_it_must():
    def bare(x):
        raise ValueError(x)

    def documented(x) -> int:
        """Do it.

        Args:
            x: the input.

        Returns:
            One.

        Raises:
            ValueError: never.
        """
        if x:
            raise ValueError(x)
        return 1

    assert len(_function_problems(bare, "bare")) == 1  # no docstring at all
    bare.__doc__ = "Only a summary."
    assert {p.split(": ", 1)[1] for p in _function_problems(bare, "bare")} == {
        "no Args section", "raises, but has no Raises section"}
    assert _function_problems(documented, "documented") == []
