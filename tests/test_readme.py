"""Every code block of README.md runs here, so a snippet that breaks fails the suite.

Blocks are found generically (any fenced block, in README order), so a section added later is covered without
touching this file:

- ``python`` blocks run in order in one namespace (later sections use the Quick start's ``dataset``), in a
  temporary working directory. Small settings are injected the way the notebooks' tests inject theirs: every
  ``Family.from_pretrained(name, ...)`` loads the tiny random model of that family instead (hub names are
  offline, and real weights would take minutes); a family with no tiny model here fails naming it.
- ``toml`` blocks parse and validate: a pipeline file (``[[systems]]``) with ``parse_pipeline``; a training
  config, or a fragment of one (``[data]``, ``[loss]``, ...), merged onto a shipped config and parsed with
  ``parse_training_config``.
- ``bash`` blocks: every ``transformers-ir`` command line parses with the real argument parser and names files
  that exist; the cheap ones run; every ``make`` target exists in the Makefile.
"""
from __future__ import annotations

import ast
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from transformers_ir import _paths

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
needs_data = pytest.mark.skipif(_paths.data_dir() is None, reason="no offline data folder (../shared/data)")

#: Commands cheap enough to run as written (the others are parsed and their files checked).
CHEAP = {"components", "--help"}


@dataclass(frozen=True)
class Block:
    """A fenced code block: its language, text and the README line it starts on."""

    lang: str
    code: str
    line: int

    @property
    def id(self) -> str:
        return f"{self.lang}-line{self.line}"


def readme_blocks(text: str | None = None) -> list[Block]:
    """Every fenced block of the README, in order."""
    text = README.read_text() if text is None else text
    found = []
    for match in re.finditer(r"^```(\w*)[^\n]*\n(.*?)^```", text, re.M | re.S):
        found.append(Block(match.group(1).lower(), match.group(2), text.count("\n", 0, match.start()) + 1))
    return found


BLOCKS = readme_blocks()
PYTHON = [b for b in BLOCKS if b.lang == "python"]
TOML = [b for b in BLOCKS if b.lang == "toml"]
BASH = [b for b in BLOCKS if b.lang in ("bash", "sh", "shell", "console")]


def test_the_readme_has_blocks_of_each_kind_and_no_unlabelled_one():
    assert PYTHON and TOML and BASH
    other = [b.id for b in BLOCKS if b not in PYTHON + TOML + BASH]
    assert other == [], f"README blocks this test does not know how to run: {other} (label them python, toml " \
                        f"or bash, or teach tests/test_readme.py the new language)"


# ---- python ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_families(tmp_path_factory, tiny_mlm_path, tiny_classifier_path, tiny_distilbert_path, tiny_t5_path,
                  tiny_encoder_path):
    """For each family the README may load with ``from_pretrained``: a folder holding a tiny model of it."""
    from transformers import AutoModel, AutoTokenizer, T5EncoderModel

    from transformers_ir.cross_encoders import BertCat, BertCatModel, RankT5Encoder, RankT5EncoderModel

    folder = tmp_path_factory.mktemp("readme-models")
    cat = BertCat(BertCatModel(AutoModel.from_pretrained(tiny_distilbert_path)),
                  AutoTokenizer.from_pretrained(tiny_distilbert_path))
    cat.save_pretrained(folder / "bert-cat")
    rankt5 = RankT5Encoder(RankT5EncoderModel(T5EncoderModel.from_pretrained(tiny_t5_path)),
                           AutoTokenizer.from_pretrained(tiny_t5_path))
    rankt5.save_pretrained(folder / "rankt5")
    return {"Splade": tiny_mlm_path, "CrossEncoder": tiny_classifier_path, "BertCat": folder / "bert-cat",
            "RankT5Encoder": folder / "rankt5", "MonoT5": tiny_t5_path, "BiEncoder": tiny_encoder_path}


class _TinyModels(ast.NodeTransformer):
    """``Family.from_pretrained(name, backbone=..., **rest)`` becomes ``Family.from_pretrained(<tiny>, **rest)``
    (the tiny folder holds its own config and tokenizer, so ``backbone`` goes)."""

    def __init__(self, tiny: dict[str, Path]):
        self.tiny = tiny
        self.unknown: list[str] = []

    def visit_Call(self, node: ast.Call) -> ast.Call:
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "from_pretrained" and isinstance(func.value, ast.Name):
            family = func.value.id
            if family not in self.tiny:
                self.unknown.append(family)
                return node
            node.args = [ast.Constant(str(self.tiny[family]))] + node.args[1:]
            node.keywords = [k for k in node.keywords if k.arg != "backbone"]
        return node


def small_settings(code: str, tiny: dict[str, Path]) -> str:
    """The block with the tiny models injected (see the module's docstring)."""
    tree = ast.parse(code)
    swap = _TinyModels(tiny)
    tree = ast.fix_missing_locations(swap.visit(tree))
    if swap.unknown:
        pytest.fail(f"README block loads {sorted(set(swap.unknown))} with from_pretrained: add a tiny model of that "
                    f"family to tiny_families in tests/test_readme.py", pytrace=False)
    return ast.unparse(tree)


@pytest.fixture(scope="module")
def namespace(tmp_path_factory):
    """One namespace for all python blocks (they build on each other), and a temporary working directory."""
    return {"__name__": "readme", "_cwd": tmp_path_factory.mktemp("readme-cwd")}


def test_small_settings_swap_every_family_and_refuse_an_unknown_one():
    tiny = {"CrossEncoder": Path("/tiny/ce")}
    code = small_settings('ce = CrossEncoder.from_pretrained("org/name", backbone="t5-3b", num_labels=1)', tiny)
    assert code == "ce = CrossEncoder.from_pretrained('/tiny/ce', num_labels=1)"
    with pytest.raises(pytest.fail.Exception, match=r"\['ColBERT'\].*tiny_families"):
        small_settings('m = ColBERT.from_pretrained("org/name")', tiny)


@needs_data
@pytest.mark.java
@pytest.mark.parametrize("block", PYTHON, ids=[b.id for b in PYTHON])
def test_python_block_runs(block, namespace, tiny_families, monkeypatch):
    monkeypatch.chdir(namespace["_cwd"])
    code = small_settings(block.code, tiny_families)
    try:
        exec(compile(code, f"README.md:{block.line}", "exec"), namespace)
    except Exception as e:  # noqa: BLE001 - name the block, whatever broke
        pytest.fail(f"README.md python block at line {block.line} failed: {type(e).__name__}: {e}\n{code}",
                    pytrace=True)


# ---- toml -----------------------------------------------------------------------------------------------------

TRAINING_TABLES = {"model", "data", "loss", "train"}


@pytest.mark.parametrize("block", TOML, ids=[b.id for b in TOML])
def test_toml_block_parses_and_validates(block, tmp_path):
    from transformers_ir.experiments import parse_pipeline
    from transformers_ir.training import parse_training_config

    table = tomllib.loads(block.code)  # a TOML error names the line within the block
    if "systems" in table or "evaluation" in table:
        file = tmp_path / "pipeline.toml"
        file.write_text(block.code)
        spec = parse_pipeline(file)
        assert spec.systems
        return
    assert set(table) <= TRAINING_TABLES, f"README toml block at line {block.line}: neither a pipeline file nor " \
                                          f"a training config ({sorted(table)})"
    # a fragment: merged key by key onto a shipped config, beside the other shipped configs (it may name them)
    shutil.copytree(ROOT / "pipelines" / "train", tmp_path / "train")
    base = (ROOT / "pipelines" / "train" / "minilm-scifact.toml").read_text()
    file = tmp_path / "train" / "readme-block.toml"
    file.write_text(merge_toml(base, block.code))
    merged = tomllib.loads(file.read_text())
    assert all(merged[name][key] == value for name, values in table.items() for key, value in values.items())
    parse_training_config(file)


def _tables(text: str) -> dict[str, list[str]]:
    """TOML text as ``{table: [its lines]}`` (``""`` for the top level), one-line values only."""
    tables: dict[str, list[str]] = {"": []}
    name = ""
    for line in text.splitlines():
        header = re.match(r"^\[([\w.-]+)\]\s*(#.*)?$", line.strip())
        if header:
            name = header.group(1)
            tables.setdefault(name, [])
        else:
            tables[name].append(line)
    return tables


def _key(line: str) -> str | None:
    match = re.match(r"^\s*([\w-]+)\s*=", line)
    return match.group(1) if match else None


def merge_toml(base: str, fragment: str) -> str:
    """``base`` with every key ``fragment`` sets replaced by the fragment's line (tables it adds appended)."""
    ours, theirs = _tables(base), _tables(fragment)
    out = []
    for name in list(ours) + [n for n in theirs if n not in ours]:
        new = theirs.get(name, [])
        keys = {_key(line) for line in new} - {None}
        if name:
            out.append(f"[{name}]")
        out += [line for line in ours.get(name, []) if _key(line) not in keys] + new
    return "\n".join(out) + "\n"


def test_merge_toml_replaces_keys_and_keeps_the_rest():
    merged = tomllib.loads(merge_toml('name = "a"\n[data]\ndepth = 100\ntopics = "t"\n',
                                      '[data]\ndepth = 30\n[loss]\nname = "kl"\n'))
    assert merged == {"name": "a", "data": {"depth": 30, "topics": "t"}, "loss": {"name": "kl"}}


# ---- bash -----------------------------------------------------------------------------------------------------


def commands(code: str) -> list[list[str]]:
    """The block's command lines as words: continuation lines joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", code)
    return [words for line in joined.splitlines() if (words := shlex.split(line, comments=True))]


def _makefile_targets() -> set[str]:
    return set(re.findall(r"^([\w.-]+):", (ROOT / "Makefile").read_text(), re.M))


@pytest.mark.parametrize("block", BASH, ids=[b.id for b in BASH])
def test_bash_block_commands_are_valid(block):
    from transformers_ir.cli import build_parser

    lines = commands(block.code)
    assert lines, f"README bash block at line {block.line} has no command"
    for words in lines:
        program, args = words[0], words[1:]
        if program == "make":
            assert set(args) <= _makefile_targets(), f"README line {block.line}: no Makefile target {args}"
            continue
        assert program == "transformers-ir", f"README line {block.line}: teach tests/test_readme.py to check " \
                                             f"{program!r}"
        parsed = build_parser().parse_args(args)  # an unknown flag or missing argument exits 2 here
        for key in ("pipeline", "config", "train_config", "run", "model"):
            value = getattr(parsed, key, None)
            if value and key != "model":
                assert (ROOT / value).is_file(), f"README line {block.line}: {value} does not exist"
        if args[0] in CHEAP:
            done = subprocess.run([sys.executable, "-m", "transformers_ir.cli", *args], cwd=ROOT,
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            assert done.stdout.strip()
