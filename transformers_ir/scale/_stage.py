"""A stage run on Ray: what a pipeline file's ``scale = { backend = "ray", ... }`` key wraps a stage in."""
from __future__ import annotations

import pandas as pd
import pyterrier as pt

from transformers_ir.caching import cache_key


class RayStage(pt.Transformer):
    """``stage`` (an encoder or a re-ranker) run by :func:`~transformers_ir.scale.ray_map` on each frame: the
    same output, row for row, as ``stage`` itself.

    Args:
        stage: the transformer.
        batch_size: rows per Ray batch.
        concurrency: actors (model copies).
        num_cpus: CPUs per actor.
        num_gpus: GPUs per actor.
    """

    def __init__(self, stage: pt.Transformer, *, batch_size: int = 256, concurrency: int = 1, num_cpus: float = 1,
                 num_gpus: float = 0):
        self.stage = stage
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        from transformers_ir.scale._ray import ray_map

        if len(inp) == 0:
            return self.stage.transform(inp)
        return ray_map(self.stage, inp, batch_size=self.batch_size, concurrency=self.concurrency,
                       num_cpus=self.num_cpus, num_gpus=self.num_gpus)

    def cache_key(self) -> dict | None:
        """The stage's own key: Ray changes where the model runs, not what it outputs."""
        return cache_key(self.stage)

    def _config(self) -> tuple:
        return (self.stage, self.batch_size, self.concurrency, self.num_cpus, self.num_gpus)

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other._config() == self._config()

    def __hash__(self) -> int:
        return hash(self._config())

    def __repr__(self) -> str:
        return (f"RayStage({self.stage!r}, batch_size={self.batch_size}, concurrency={self.concurrency}, "
                f"num_cpus={self.num_cpus:g}, num_gpus={self.num_gpus:g})")
