"""The re-rankers as pipeline components: registered, parameters checked, model paths relative to the file."""
from __future__ import annotations

import shutil

import pytest

from transformers_ir.cross_encoders import CrossEncoder, MonoT5
from transformers_ir.registry import Context, registry


def test_components_build_rerankers(tiny_classifier_path, tiny_t5_path, tmp_path):
    shutil.copytree(tiny_t5_path, tmp_path / "models" / "t5")
    components = registry()
    assert {"cross-encoder", "bert-cat", "rankt5", "monot5"} <= set(components)
    ctx = Context(dataset=None, base_dir=tmp_path)
    mono = components["monot5"].build(ctx, {"model": "models/t5", "normalise": "sigmoid", "batch_size": 4})
    assert isinstance(mono, MonoT5) and (mono.normalise, mono.batch_size) == ("sigmoid", 4)
    ce = components["cross-encoder"].build(ctx, {"model": str(tiny_classifier_path), "max_length": 64,
                                                "query_max_length": 16, "precision": "int8"})
    assert isinstance(ce, CrossEncoder) and ce.max_length == 64 and ce.precision == "int8"


@pytest.mark.parametrize("params, problem", [
    ({"model": "x", "precision": "fp64"}, "precision"),
    ({"model": "x", "head": "mlp"}, "head"),
    ({"precision": "bf16"}, "needs parameter 'model'"),
])
def test_bad_parameters_are_named(params, problem):
    assert any(problem in p for p in registry()["rankt5"].check_params(params))
