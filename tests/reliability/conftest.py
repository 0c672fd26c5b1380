"""Fixtures of the reliability suite: small built indexes over ``components.DOCS`` and a cached re-ranker.

With ``MATRIX_OUT=matrix.md`` the bad-input matrix (case x component -> outcome) is written there at the end::

    MATRIX_OUT=matrix.md .venv/bin/python -m pytest tests/reliability/test_matrix.py -q
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from reliability.components import DOCS, needs


@pytest.fixture(scope="session")
def pisa_index(tmp_path_factory):
    from transformers_ir.indexes import PisaIndex

    return PisaIndex(tmp_path_factory.mktemp("pisa") / "idx").build(iter(DOCS))


@pytest.fixture(scope="session")
def terrier_index(tmp_path_factory):
    from transformers_ir.indexes import TerrierIndex

    return TerrierIndex(tmp_path_factory.mktemp("terrier") / "idx").build(iter(DOCS))


@pytest.fixture(scope="session")
def cached_cross_encoder(tmp_path_factory, tiny_classifier_path):
    ScorerCache = needs("transformers_ir.caching", "ScorerCache")
    CrossEncoder = needs("transformers_ir.cross_encoders", "CrossEncoder")
    reranker = CrossEncoder.from_pretrained(str(tiny_classifier_path), batch_size=4)
    return ScorerCache(tmp_path_factory.mktemp("cache") / "scores", reranker)


@pytest.fixture(scope="session")
def splade_index(tmp_path_factory, tiny_mlm_path):
    Splade = needs("transformers_ir.splade", "Splade")
    SpladeIndex = needs("transformers_ir.indexes", "PisaSparseIndex")
    splade = Splade.from_pretrained(str(tiny_mlm_path), batch_size=4)
    index = SpladeIndex(tmp_path_factory.mktemp("splade") / "idx")
    (splade.doc_encoder() >> index.indexer()).index(iter(DOCS))
    return index


@pytest.fixture(scope="session")
def dense_index(tmp_path_factory, tiny_encoder_path):
    BiEncoder = needs("transformers_ir.dense", "BiEncoder")
    VectorIndex = needs("transformers_ir.indexes", "VectorIndex")
    model = BiEncoder.from_pretrained(str(tiny_encoder_path), batch_size=4, pooling="mean")
    return model.indexer(VectorIndex(tmp_path_factory.mktemp("dense") / "idx")).index(iter(DOCS))


_OUTCOMES: dict[tuple[str, str], str] = {}


def pytest_runtest_logreport(report):
    if report.when == "call":
        props = dict(report.user_properties)
        if "matrix_cell" in props:
            outcome = props.get("outcome") or ("FAILED" if report.failed else "skipped")
            _OUTCOMES[props["matrix_cell"]] = "FAILED" if report.failed else outcome
    elif report.when == "setup" and report.skipped and "matrix_cell" in dict(report.user_properties):
        _OUTCOMES[dict(report.user_properties)["matrix_cell"]] = "skipped"


def pytest_terminal_summary(terminalreporter):
    target = os.environ.get("MATRIX_OUT")
    if not target or not _OUTCOMES:
        return
    cases = list(dict.fromkeys(case for case, _ in _OUTCOMES))
    components = list(dict.fromkeys(component for _, component in _OUTCOMES))
    lines = ["| case | " + " | ".join(components) + " |", "|---|" + "---|" * len(components)]
    for case in cases:
        cells = [_OUTCOMES.get((case, c), "") .replace("|", "/") for c in components]
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    Path(target).write_text("\n".join(lines) + "\n")
    terminalreporter.write_line(f"bad-input matrix: {len(_OUTCOMES)} cells ({len(cases)} cases x "
                                f"{len(components)} components) written to {target}")
