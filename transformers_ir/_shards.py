"""Scale-out encoding, for every encoder family: each process encodes its slice of a corpus to a shard; one step
reads the shards back, in corpus order, into one index.

Any launcher that sets the rank and world size works (``torchrun``: ``RANK``/``WORLD_SIZE``; Slurm:
``SLURM_PROCID``/``SLURM_NTASKS``; Open MPI). The corpus is cut into blocks of ``block_size`` documents dealt out
round-robin, so every process reads the same iterator and no one needs its length. Each shard is a folder written
under a temporary name and renamed when complete, so an interrupted process leaves no shard that could be read.

A family says how a block of documents becomes arrays (:func:`write_shard`'s ``encode_block``: a dict of NumPy
arrays, saved as one ``.npz``) and reads them back (:func:`shard_blocks`); the SPLADE family stores CSR matrices
(:mod:`transformers_ir.splade._shards`), the dense family float matrices (:mod:`transformers_ir.dense._shards`).
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from transformers_ir._atomic import atomic_dir
from transformers_ir._jsonfile import read_json

SHARD_MARKER = "shard.json"
_REENCODE = "delete the shard folder and encode it again"
_RANK_VARS = (("RANK", "WORLD_SIZE"), ("SLURM_PROCID", "SLURM_NTASKS"),
              ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"), ("PMI_RANK", "PMI_SIZE"))


def launcher_rank() -> tuple[int, int]:
    """This process's place in a multi-process launch.

    Returns:
        ``(rank, world_size)`` from the launcher's environment variables, ``(0, 1)`` without a launcher.
    """
    for rank_var, size_var in _RANK_VARS:
        if rank_var in os.environ and size_var in os.environ:
            return int(os.environ[rank_var]), int(os.environ[size_var])
    return 0, 1


def shard_name(rank: int, world_size: int) -> str:
    """The folder name of one process's shard."""
    return f"shard-{rank:05d}-of-{world_size:05d}"


def write_shard(docs: Iterable[dict], out_dir: str | Path, encode_block: Callable[[list[dict]], dict],
                *, model: str, rank: int | None = None, world_size: int | None = None, text_field: str = "text",
                block_size: int = 1024, extra: Callable[[Path], None] | None = None) -> Path:
    """Encode this process's slice of ``docs`` into a shard folder of ``out_dir``, block by block.

    Args:
        docs: every document (dicts with ``docno`` and ``text_field``; each process reads the same iterator and
            keeps its blocks).
        out_dir: the folder of the shards.
        encode_block: a block of documents -> the NumPy arrays saved for it (one ``.npz`` per block).
        model: what encoded them (shards of different models are never read together).
        rank: this process's rank (default: the launcher's, see :func:`launcher_rank`).
        world_size: the number of processes.
        text_field: the documents' text field.
        block_size: documents per block (blocks are dealt out round-robin).
        extra: writes the shard's other files (e.g. a vocabulary) into the temporary folder.

    Returns:
        The shard's folder.

    Raises:
        ValueError: a rank outside the world, or a block size below 1.
        FileExistsError: this shard is encoded already.
        KeyError: documents without ``text_field``.
    """
    if rank is None or world_size is None:
        rank, world_size = launcher_rank()
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside 0..{world_size - 1}: check the launcher's RANK and WORLD_SIZE")
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    path = Path(out_dir) / shard_name(rank, world_size)
    if (path / SHARD_MARKER).is_file():
        raise FileExistsError(f"{path} is already encoded: delete it to encode it again")
    blocks = num_docs = 0
    with atomic_dir(path) as tmp:
        for block in _my_blocks(docs, rank, world_size, block_size):
            missing = [d.get("docno", "?") for d in block if text_field not in d]
            if missing:
                raise KeyError(f"documents {missing[:3]} have no {text_field!r} field: give text_field=...")
            np.savez(tmp / f"block-{blocks:07d}.npz", **encode_block(block))
            blocks += 1
            num_docs += len(block)
        if extra is not None:
            extra(tmp)
        (tmp / SHARD_MARKER).write_text(json.dumps({
            "rank": rank, "world_size": world_size, "block_size": block_size, "blocks": blocks,
            "num_docs": num_docs, "model": model}))
    return path


def _my_blocks(docs: Iterable[dict], rank: int, world_size: int, block_size: int) -> Iterator[list[dict]]:
    block: list[dict] = []
    for i, doc in enumerate(docs):
        if (i // block_size) % world_size == rank:
            block.append(doc)
            if len(block) == block_size:
                yield block
                block = []
    if block:
        yield block


def shard_folders(out_dir: str | Path) -> list[Path]:
    """The folders of a complete set of shards, by rank.

    Args:
        out_dir: the folder of the shards.

    Returns:
        One folder per rank.

    Raises:
        FileNotFoundError: no complete shard, or ranks that have not finished (named).
        ValueError: shards of different runs (world size, block size or model differ).
    """
    out_dir = Path(out_dir)
    markers = sorted(out_dir.glob(f"shard-*/{SHARD_MARKER}"))
    if not markers:
        raise FileNotFoundError(f"no complete shard in {out_dir}: run encode_shard in every process first")
    metas = [read_json(m, fix=_REENCODE) for m in markers]
    world_size = metas[0]["world_size"]
    if {(m["world_size"], m["block_size"], m["model"]) for m in metas} != {(world_size, metas[0]["block_size"],
                                                                          metas[0]["model"])}:
        raise ValueError(f"the shards in {out_dir} come from different runs (world size, block size or model "
                         f"differ): delete the stale ones and encode again")
    missing = sorted(set(range(world_size)) - {m["rank"] for m in metas})
    if missing:
        raise FileNotFoundError(f"{out_dir}: ranks {missing} of {world_size} have not finished (no {SHARD_MARKER}); "
                                f"re-run them before indexing, or the index would be short")
    return [out_dir / shard_name(r, world_size) for r in range(world_size)]


def shard_blocks(out_dir: str | Path) -> Iterator[tuple[Path, dict[str, np.ndarray]]]:
    """``(shard folder, arrays)`` block by block from a complete set of shards, in the corpus's order.

    Refuses (naming the missing ranks) a set where a process has not finished or whose shards disagree
    (see :func:`shard_folders`).

    Args:
        out_dir: the folder of the shards.

    Yields:
        The folder a block comes from and the arrays ``encode_block`` gave for it (read without pickle).
    """
    folders = shard_folders(out_dir)
    blocks = [read_json(f / SHARD_MARKER, fix=_REENCODE)["blocks"] for f in folders]
    for k in range(max(blocks)):
        for folder, count in zip(folders, blocks):
            if k < count:
                with np.load(folder / f"block-{k:07d}.npz", allow_pickle=False) as part:
                    yield folder, {name: part[name] for name in part.files}


def shards_complete(out_dir: str | Path) -> bool:
    """Whether ``out_dir`` holds a complete set of shards.

    Args:
        out_dir: the folder of the shards.

    Returns:
        True when every rank's shard is complete.
    """
    markers = list(Path(out_dir).glob(f"shard-*/{SHARD_MARKER}"))
    if not markers:
        return False
    world_size = read_json(markers[0], fix=_REENCODE).get("world_size")
    if not isinstance(world_size, int) or world_size < 1:
        return False
    return all((Path(out_dir) / shard_name(r, world_size) / SHARD_MARKER).is_file() for r in range(world_size))


def clear_stale_shards(out_dir: str | Path) -> None:
    """Remove the shards of an earlier multi-process encoding that never completed, before encoding the corpus in
    one process; never another process's live shard, which stays under a temporary name until it is complete."""
    import shutil

    for stale in Path(out_dir).glob("shard-*"):
        if not stale.name.endswith("-of-00001"):
            shutil.rmtree(stale)
