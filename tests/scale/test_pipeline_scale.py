"""A pipeline file's ``scale = { backend = "ray", ... }`` key: checked with the file and line, and the stage built
wrapped in a :class:`RayStage` with the same cache key (Ray changes where a stage runs, not what it outputs)."""
from __future__ import annotations

import pytest

from transformers_ir.experiments import PipelineFileError, parse_pipeline
from transformers_ir.experiments._runner import build_stages
from transformers_ir.registry import Context, registry
from transformers_ir.scale import RayStage

FILE = """\
[dataset]
topics = "irds:vaswani"

[evaluation]
metrics = ["AP"]

[[systems]]
name = "rerank"
pipeline = [{{ component = "bm25", engine = "pisa", "%" = 10 }},
            {{ component = "cross-encoder", model = "{model}", batch_size = 4, scale = {scale} }}]
"""


def test_a_scaled_stage_is_built_on_ray_with_the_same_cache_key(tmp_path, tiny_classifier_path):
    path = tmp_path / "p.toml"
    path.write_text(FILE.format(model=tiny_classifier_path,
                                scale='{ backend = "ray", concurrency = 2, num_cpus = 1, batch_size = 64 }'))
    spec = parse_pipeline(path)
    stage = spec.systems[0].stages[1]
    assert stage.scale == {"backend": "ray", "concurrency": 2, "num_cpus": 1, "batch_size": 64}
    assert "scale" not in stage.params
    reranker = registry()["cross-encoder"].build(Context(dataset=None), stage.params)
    scaled = RayStage(reranker, concurrency=2, num_cpus=1, batch_size=64)
    assert scaled.cache_key() == RayStage(reranker).cache_key() and scaled.cache_key()["weights"]
    assert repr(scaled).startswith("RayStage(CrossEncoder")


def test_build_stages_wraps_the_scaled_stage(tmp_path, tiny_classifier_path):
    path = tmp_path / "p.toml"
    path.write_text(FILE.format(model=tiny_classifier_path, scale='{ backend = "ray", concurrency = 2 }')
                    .replace('{ component = "bm25", engine = "pisa", "%" = 10 },\n            ', ""))
    spec = parse_pipeline(path)
    (stage,) = build_stages(spec.systems[0], Context(dataset=None), path)
    assert isinstance(stage, RayStage) and stage.concurrency == 2 and stage.num_gpus == 0


@pytest.mark.parametrize("scale, match", [
    ('{ backend = "spark" }', "scale backend must be one of 'ray'"),
    ('{ backend = "ray", workers = 2 }', "unknown scale key 'workers'"),
    ('{ backend = "ray", concurrency = 0 }', "scale concurrency must be a positive int"),
    ('{ backend = "ray", num_gpus = -1 }', "scale num_gpus must be a number >= 0"),
    ('"ray"', "scale must be a table"),
])
def test_a_bad_scale_table_names_the_key_and_the_fix(tmp_path, tiny_classifier_path, scale, match):
    path = tmp_path / "p.toml"
    path.write_text(FILE.format(model=tiny_classifier_path, scale=scale))
    with pytest.raises(PipelineFileError, match=match):
        parse_pipeline(path)
