"""The notebooks in notebooks/ run end to end on small settings: a handful of queries, tiny random models.

Each notebook's ``parameters`` cell is followed by a cell of overrides (what papermill does); a failing cell
fails the test with the notebook's name, the cell's number and its first line.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from transformers_ir import _paths

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
needs_data = pytest.mark.skipif(_paths.data_dir() is None, reason="no offline data folder (../shared/data)")


def execute(name: str, overrides: dict, cwd: Path) -> nbformat.NotebookNode:
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    at = next(i for i, c in enumerate(book.cells) if "parameters" in c.metadata.get("tags", []))
    book.cells.insert(at + 1, nbformat.v4.new_code_cell(
        "\n".join(f"{key} = {value!r}" for key, value in overrides.items()), metadata={"tags": ["injected"]}))
    client = NotebookClient(book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
    try:
        client.execute()
    except CellExecutionError as e:
        failed = next((i for i, c in enumerate(book.cells) if c.cell_type == "code" and any(
            o.get("output_type") == "error" for o in c.get("outputs", []))), None)
        first = book.cells[failed].source.splitlines()[0] if failed is not None else "?"
        error = re.sub(r"\x1b\[[0-9;]*m", "", str(e))[-3000:]  # without the traceback's colours
        pytest.fail(f"notebook {name}: cell {failed} ({first!r}) failed:\n{error}", pytrace=False)
    return book


def outputs(book) -> str:
    return "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                     for c in book.cells if c.cell_type == "code" for o in c.outputs)


def images(book) -> int:
    return sum("image/png" in o.get("data", {}) for c in book.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.parametrize("name", ["quickstart.ipynb", "splade_analysis.ipynb", "reranking_depth.ipynb"])
def test_committed_without_outputs_and_with_parameters(name):
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(book)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), f"{name}: clear the outputs"
    assert any("parameters" in c.metadata.get("tags", []) for c in code), f"{name}: no parameters cell"
    source = "\n".join(c.source for c in code)
    assert "transformers_ir._" not in source and "import _" not in source, f"{name}: private API used"


@needs_data
def test_quickstart(tmp_path, tiny_mlm_path, tiny_classifier_path):
    book = execute("quickstart.ipynb", {"N_QUERIES": 5, "SPLADE": str(tiny_mlm_path),
                                        "CROSS_ENCODER": str(tiny_classifier_path), "RERANK_DEPTH": 10,
                                        "MAX_LENGTH": 128, "DOC_MAX_LENGTH": 128, "N_DOCS": 300,
                                        "WORK_DIR": str(tmp_path / "work")}, tmp_path)
    text = outputs(book)
    assert "nDCG@10 p-value" in text and "BM25 >> cross-encoder (top 10)" in text
    assert "computed: 50" in text  # 5 queries x 10 documents, scored once
    assert images(book) == 1


@needs_data
def test_splade_analysis(tmp_path, tiny_mlm_path):
    book = execute("splade_analysis.ipynb", {"N_QUERIES": 5, "SPLADE": str(tiny_mlm_path), "N_EXAMPLES": 2,
                                             "DOC_MAX_LENGTH": 128, "N_DOCS": 300,
                                             "TOP_KS": [4, 16, None], "WORK_DIR": str(tmp_path / "work")}, tmp_path)
    text = outputs(book)
    assert "* = expansion" in text and "top_k" in text
    assert images(book) == 1


@needs_data
def test_reranking_depth(tmp_path, tiny_classifier_path):
    book = execute("reranking_depth.ipynb", {"N_QUERIES": 5, "CROSS_ENCODER": str(tiny_classifier_path),
                                             "DEPTHS": [5, 10, 20], "TIMING_QUERIES": 2, "MAX_LENGTH": 128,
                                             "WORK_DIR": str(tmp_path / "work")}, tmp_path)
    text = outputs(book)
    assert "cache: 100 pairs scored" in text  # 5 queries x 20: the deepest list only
    assert images(book) == 1
