"""Batch inference on Ray Data: any of our encoders or re-rankers mapped over a frame or Parquet files, one warm
model per actor.

PyTerrier's ``.parallel(N, backend="ray")`` ships the transformer with every call and asks for no GPU; here the
stage is put once into Ray's object store and each actor of ``map_batches``'s pool deserialises it once, keeps it
warm, and reserves ``num_cpus`` / ``num_gpus``. Order is preserved, so the output is row for row the input's.
A batch whose actor dies is retried on a restarted actor (``max_restarts`` / ``max_task_retries``): the output of
a batch is written once, by the attempt that finished.

Outputs that are not Parquet-friendly are stored as such: a ``{term: weight}`` column ``toks`` as two list
columns ``toks.terms`` and ``toks.weights``, read back as dicts by :func:`read_output`.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyterrier as pt

from transformers_ir._atomic import atomic_dir
from transformers_ir._jsonfile import read_json
from transformers_ir._ranking import rank_results
from transformers_ir.caching import cache_key, key_hash
from transformers_ir.errors import CacheMismatch, UsageError

MANIFEST = "transformers_ir-scale.json"  # written last: a folder without it is an interrupted run
TERMS, WEIGHTS = ".terms", ".weights"
ROW = "_transformers_ir_row"  # each input row's position, carried through the map so order is checked on read


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401 - Ray Data is the part we use
    except ImportError:
        raise ImportError("the Ray backend needs Ray Data: pip install 'transformers-ir[ray]'") from None
    return ray


def stage_identity(stage: pt.Transformer) -> dict:
    """What identifies the model behind ``stage`` in an output's manifest: its cache key (model name, weights and
    tokenizer hashes, settings) and its ``repr``.

    Args:
        stage: an encoder or re-ranker of ours.

    Returns:
        ``{"stage": repr, "key": the cache key's hash, or None for a stage without one}``.
    """
    key = cache_key(stage)
    return {"stage": repr(stage), "key": None if key is None else key_hash(key)}


def _to_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``{term: weight}`` columns as two list columns (Parquet has no map of varying keys we can rely on)."""
    for column in [c for c in frame.columns if len(frame) and isinstance(frame[c].iloc[0], dict)]:
        values = frame[column]
        frame = frame.drop(columns=[column]).assign(**{
            column + TERMS: [list(d.keys()) for d in values],
            column + WEIGHTS: [np.fromiter(d.values(), dtype=np.float64, count=len(d)) for d in values]})
    return frame


def _from_columns(frame: pd.DataFrame) -> pd.DataFrame:
    for column in [c[:-len(TERMS)] for c in frame.columns if c.endswith(TERMS)]:
        if column + WEIGHTS in frame.columns:
            toks = [dict(zip(map(str, t), map(float, w))) for t, w in zip(frame[column + TERMS],
                                                                         frame[column + WEIGHTS])]
            frame = frame.drop(columns=[column + TERMS, column + WEIGHTS]).assign(**{column: toks})
    return frame


class _Actor:
    """One warm copy of the stage per Ray actor; each batch goes through ``stage.transform``."""

    def __init__(self, stage: pt.Transformer):
        self.stage = stage

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        out = self.stage.transform(_from_columns(batch.reset_index(drop=True)))
        return _to_columns(out.drop(columns=["rank"], errors="ignore"))


def _dataset(ray, source, batch_size: int):
    if isinstance(source, (str, Path)):
        return ray.data.read_parquet(str(source))
    frame = source if isinstance(source, pd.DataFrame) else pd.DataFrame(list(source))
    if len(frame) == 0:
        raise ValueError("the source is empty: there is nothing to map")
    frame = _to_columns(frame.reset_index(drop=True)).assign(**{ROW: np.arange(len(frame), dtype=np.int64)})
    return ray.data.from_pandas([frame.iloc[a:a + batch_size] for a in range(0, len(frame), batch_size)])


def _check_resources(ray, num_cpus: float, num_gpus: float, concurrency: int) -> None:
    if not ray.is_initialized():
        ray.init()
    have = ray.cluster_resources()
    for name, each in (("GPU", num_gpus), ("CPU", num_cpus)):
        if each and have.get(name, 0) < each:
            raise UsageError(f"the Ray cluster has {have.get(name, 0):g} {name}s, but each actor asks for "
                             f"num_{name.lower()}s={each:g}: connect to a cluster with {name}s "
                             f"(ray.init(address=...)) or ask for fewer")
    if num_gpus and have.get("GPU", 0) < num_gpus * concurrency:
        raise UsageError(f"the Ray cluster has {have.get('GPU', 0):g} GPUs, fewer than concurrency={concurrency} "
                         f"actors x num_gpus={num_gpus:g}: lower concurrency or num_gpus")


def ray_map(stage: pt.Transformer, source, *, out: str | Path | None = None, batch_size: int = 256,
            concurrency: int = 1, num_cpus: float = 1, num_gpus: float = 0, overwrite: bool = False,
            max_retries: int = 3) -> pd.DataFrame | Path:
    """``stage`` (an encoder or a re-ranker) over ``source`` on Ray Data, one warm model per actor.

    Each row's output is the single process's: the same stage on the same row (re-rankers' scores do not depend on
    the other rows). Re-ranked output is ranked again over the whole frame, with the library's tie-break.

    Args:
        stage: the transformer (e.g. ``splade.doc_encoder()``, a ``CrossEncoder``).
        source: a frame, an iterable of dicts (e.g. a corpus iterator) or a Parquet file or folder.
        out: a folder to write Parquet shards to (with a manifest naming the model, written last); None: return
            the frame.
        batch_size: rows per ``map_batches`` batch (bounds each actor's memory).
        concurrency: actors (model copies).
        num_cpus: CPUs reserved per actor.
        num_gpus: GPUs reserved per actor (fractions share a GPU).
        overwrite: replace an earlier output at ``out``.
        max_retries: times a batch is retried when its actor dies.

    Returns:
        The output frame, or the ``out`` folder.

    Raises:
        ImportError: Ray is not installed (names the extra).
        UsageError: the cluster lacks the resources asked for (names them).
        FileExistsError: ``out`` holds an earlier output and ``overwrite`` is False.
    """
    ray = _ray()
    for name, value in (("batch_size", batch_size), ("concurrency", concurrency)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if out is not None and (Path(out) / MANIFEST).is_file() and not overwrite:
        raise FileExistsError(f"{out} already holds an output: read it with read_output(), or pass overwrite=True")
    _check_resources(ray, num_cpus, num_gpus, concurrency)
    ray.data.DataContext.get_current().execution_options.preserve_order = True
    mapped = _dataset(ray, source, batch_size).map_batches(
        _Actor, fn_constructor_args=(stage,), batch_size=batch_size, batch_format="pandas", concurrency=concurrency,
        num_cpus=num_cpus, num_gpus=num_gpus,
        max_restarts=max_retries, max_task_retries=max_retries)
    if out is None:
        return _finish(_from_columns(mapped.to_pandas()))
    with atomic_dir(out, overwrite=overwrite) as tmp:
        mapped.write_parquet(str(tmp / "shards"))
        rows = sum(pd.read_parquet(f, columns=[]).shape[0] for f in sorted((tmp / "shards").glob("*.parquet")))
        (tmp / MANIFEST).write_text(json.dumps({**stage_identity(stage), "rows": rows}, indent=2))
    return Path(out)


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    if ROW in frame.columns:
        frame = frame.sort_values(ROW, kind="stable").drop(columns=[ROW]).reset_index(drop=True)
    return rank_results(frame) if {"qid", "docno", "score"} <= set(frame.columns) else frame


def read_output(path: str | Path, stage: pt.Transformer | None = None) -> pd.DataFrame:
    """The frame a :func:`ray_map` run wrote to ``path`` (in the input's order; re-ranked output ranked).

    Args:
        path: the output folder.
        stage: when given, the output must come from this stage's model (else refused, naming both).

    Returns:
        The frame.
    """
    return _finish(pd.concat(list(_parts(path, stage)), ignore_index=True))


def read_docs(path: str | Path, stage: pt.Transformer | None = None) -> Iterator[dict]:
    """The documents of an encoding written by :func:`ray_map`, one dict at a time (what an indexer takes:
    ``index.indexer().index(read_docs(out, splade.doc_encoder()))``), refused when from another model.

    Args:
        path: the output folder.
        stage: the encoder the index expects (checked against the manifest when given).

    Returns:
        An iterator of dicts (``docno``, ``toks``, ...).
    """
    for part in _parts(path, stage):
        yield from part.drop(columns=[ROW], errors="ignore").to_dict("records")


def _parts(path: str | Path, stage: pt.Transformer | None) -> Iterable[pd.DataFrame]:
    path = Path(path)
    manifest = read_json(path / MANIFEST, fix="run ray_map again (the output is incomplete without it)") \
        if (path / MANIFEST).is_file() else None
    if manifest is None:
        raise FileNotFoundError(f"{path} holds no complete ray_map output (no {MANIFEST}): run ray_map again")
    if stage is not None:
        want = stage_identity(stage)
        if want["key"] != manifest.get("key") or (want["key"] is None and want["stage"] != manifest.get("stage")):
            raise CacheMismatch(f"{path} was written by {manifest.get('stage')}, not by {want['stage']}: encode the "
                                f"corpus with this model, or index with the model that wrote it")
    parts = [pd.read_parquet(file) for file in sorted((path / "shards").glob("*.parquet"))]
    if parts and ROW in parts[0].columns:  # in the input's order, whatever the files' names
        parts.sort(key=lambda p: p[ROW].iloc[0] if len(p) else -1)
    for part in parts:
        yield _from_columns(part)
