"""Scaling out batch inference: our encoders and re-rankers on a Ray cluster (the ``[ray]`` extra), one warm model
per actor, output as Parquet shards the indexing step reads. Multi-process encoding without Ray (``torchrun``
ranks writing shards) is :func:`transformers_ir.splade.encode_shard`."""
from transformers_ir._lazy import lazy_exports

__all__ = ["RayStage", "ray_map", "read_docs", "read_output", "scale_problems", "stage_identity"]
__getattr__, __dir__ = lazy_exports(__name__, __all__, {
    "._ray": ["ray_map", "read_docs", "read_output", "stage_identity"],
    "._checks": ["scale_problems"],
    "._stage": ["RayStage"],
})
