"""The package's layers point one way and its modules form no import cycle.

Layers, lowest first (a module imports only from lower layers or from its own package)::

    core (leaf modules)  ->  data, indexes, caching  ->  the families  ->  scale  ->  components  ->  training
                         ->  experiments  ->  cli

The graph below is what running the code imports: module-level and function-level ``import`` statements, and the
public names a module uses from a lazy package (``from transformers_ir import splade`` then ``splade.Splade``
imports ``splade._model``). Imports under ``if TYPE_CHECKING:`` never run and are left out, and so is the one
import by name, :func:`transformers_ir.registry.registry` loading the components (a plug-in point: the registry
must not know what registers).
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "transformers_ir"

CORE = {"_atomic", "_batching", "_checkpoint", "_cutoff", "_device", "_errors", "_identity", "_jsonfile", "_lazy",
        "_options", "_outputs", "_paths", "_quiet", "_ranking", "_safe_io", "_shards", "_stages", "_validate",
        "_values", "_version", "errors", "models", "registry"}
LAYERS = [CORE, {"data", "indexes", "caching"}, {"first_stage", "splade", "cross_encoders", "dense"},
          {"scale"}, {"components"}, {"training"}, {"experiments"}, {"cli"}]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _lazy_map(tree: ast.Module, package: str) -> dict[str, str]:
    """A lazy package's ``lazy_exports(__name__, __all__, {module: [names]})``: name -> module."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lazy_exports":
            for key, value in zip(node.args[2].keys, node.args[2].values):
                module = key.value if not key.value.startswith(".") else package + key.value
                for name in value.elts:
                    found[name.value] = module
    return found


TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}
LAZY = {name: _lazy_map(tree, name) for name, tree in TREES.items() if _is_package(name)}


def _target(module: str, name: str | None = None) -> str | None:
    """The module that ``from module import name`` (or ``import module``) runs, within the package."""
    if name is not None:
        if f"{module}.{name}" in MODULES:
            return f"{module}.{name}"
        if name in LAZY.get(module, {}):
            return LAZY[module][name]
    return module if module in MODULES else None


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    return skipped


def imports_of(module: str) -> set[str]:
    """The package's modules that ``module`` imports when it runs (see the module docstring)."""
    tree = TREES[module]
    skipped = _type_checking_nodes(tree)
    package = module if _is_package(module) else module.rsplit(".", 1)[0]
    edges, aliases = set(), {}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (t := _target(alias.name)) is not None:
                    edges.add(t)
                    aliases[alias.asname or alias.name] = t
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package up (level - 1) parents
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            for alias in node.names:
                if (t := _target(base, alias.name)) is not None:
                    edges.add(t)
                    aliases[alias.asname or alias.name] = t
    for node in ast.walk(tree):  # names used from lazy packages: `splade.Splade` runs splade._model
        if (id(node) not in skipped and isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and aliases.get(node.value.id) in LAZY):
            if (t := _target(aliases[node.value.id], node.attr)) is not None:
                edges.add(t)
    if module in LAZY:  # a lazy package runs its modules when their names are used
        edges |= set(LAZY[module].values())
    edges.discard(module)
    return edges


GRAPH = {module: imports_of(module) for module in MODULES}


def _layer(module: str) -> tuple[int, str] | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None  # the top-level package: the public facade, re-exporting from every layer
    top = parts[1]
    for rank, names in enumerate(LAYERS):
        if top in names:
            return rank, top
    raise AssertionError(f"{module}: add {top!r} to a layer of tests/test_layers.py")


def test_graph_sees_the_imports():
    """The scanner finds what it must: module-level, function-level and lazy-package uses."""
    assert "transformers_ir._ranking" in GRAPH["transformers_ir.experiments._runner"]
    assert "transformers_ir.training._train" in GRAPH["transformers_ir.experiments._runner"]  # training.ensure_trained
    assert "transformers_ir.splade._model" in GRAPH["transformers_ir.components._splade"]  # splade.Splade
    assert "transformers_ir.splade._model" not in GRAPH["transformers_ir.splade._stages"]  # TYPE_CHECKING only


def test_no_import_cycle():
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(GRAPH[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(GRAPH)))
    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    assert cycles == [], f"import cycles: {cycles}"


def test_layers_point_one_way():
    wrong = []
    for module, targets in sorted(GRAPH.items()):
        here = _layer(module)
        if here is None:
            continue
        for target in sorted(targets):
            there = _layer(target)
            up = there is None or there[0] > here[0]
            sideways = there is not None and there[0] == here[0] > 0 and there[1] != here[1]  # core: one set
            if up or sideways:
                wrong.append(f"{module} -> {target}")
    assert wrong == [], "imports pointing up or sideways:\n" + "\n".join(wrong)


def _fresh(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("package", ["first_stage", "splade", "cross_encoders", "indexes", "caching", "training"])
def test_families_and_training_load_neither_experiments_nor_matplotlib(package):
    """Every public name of the package is loaded (so every module behind the lazy ``__init__`` runs), in a fresh
    interpreter: none imports the experiment layer, and nothing loads matplotlib (which a notebook would see as
    a changed plotting backend)."""
    if not (PACKAGE / package).is_dir():
        pytest.skip(f"no {package} package yet")
    loaded = _fresh(f"""
import json, sys, importlib
package = importlib.import_module("transformers_ir.{package}")
for name in package.__all__:
    getattr(package, name)
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("transformers_ir.experiments", "matplotlib")))))
""")
    assert loaded == []


def test_cli_and_component_listing_load_neither_torch_nor_pyterrier():
    loaded = _fresh("""
import json, sys
from transformers_ir.cli import build_parser
from transformers_ir.registry import registry
build_parser()
names = sorted(registry())
print(json.dumps({"torch": "torch" in sys.modules, "pyterrier": "pyterrier" in sys.modules, "names": names}))
""")
    assert (loaded["torch"], loaded["pyterrier"]) == (False, False)
    assert {"bm25", "splade", "cross-encoder", "fusion"} <= set(loaded["names"])


def test_help_and_components_commands_load_neither_torch_nor_pyterrier():
    """What ``transformers-ir --help``, each command's ``--help`` and ``components`` run: no torch, no PyTerrier
    (each took about 6 s when the training package imported torch eagerly)."""
    loaded = _fresh("""
import contextlib, io, json, sys
from transformers_ir.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    for argv in (["--help"], ["run", "--help"], ["train", "--help"], ["predict", "--help"], ["prepare", "--help"]):
        try:
            main(argv)
        except SystemExit as e:
            assert e.code == 0, argv
    status = main(["components"])
print(json.dumps({"heavy": sorted(m for m in ("torch", "pyterrier", "transformers", "pandas") if m in sys.modules),
                  "status": status, "text": out.getvalue()}))
""")
    assert loaded["heavy"] == [] and loaded["status"] == 0
    assert "usage: transformers-ir" in loaded["text"] and "--verbose" in loaded["text"] and "bm25(" in loaded["text"]


def test_top_level_package_loads_nothing_heavy():
    loaded = _fresh("""
import json, sys
import transformers_ir
print(json.dumps(sorted(m for m in ("torch", "pyterrier", "pandas", "transformers") if m in sys.modules)))
""")
    assert loaded == []
