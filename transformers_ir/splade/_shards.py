"""Scale-out encoding: each process encodes its slice of a corpus to a shard; one step reads the shards back, in
corpus order, into one index.

Any launcher that sets the rank and world size works (``torchrun``: ``RANK``/``WORLD_SIZE``; Slurm:
``SLURM_PROCID``/``SLURM_NTASKS``; Open MPI). The corpus is cut into blocks of ``block_size`` documents dealt out
round-robin, so every process reads the same iterator and no one needs its length. Each shard is a folder written
under a temporary name and renamed when complete, so an interrupted process leaves no shard that could be read.

Example::

    # torchrun --nproc_per_node 4 encode.py   (each process runs:)
    encode_shard(splade, corpus_iter, 'encodings/')
    # afterwards, once:
    index.indexer().index(read_shards('encodings/'))
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from transformers_ir._atomic import atomic_dir
from transformers_ir._jsonfile import read_json
from transformers_ir.indexes import csr_to_toks

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


def _shard_name(rank: int, world_size: int) -> str:
    return f"shard-{rank:05d}-of-{world_size:05d}"


def encode_shard(splade, docs: Iterable[dict], out_dir: str | Path, *, rank: int | None = None,
                 world_size: int | None = None, text_field: str = "text", block_size: int = 1024,
                 verbose: bool | None = None) -> Path:
    """Encode this process's slice of ``docs`` (dicts with ``docno`` and ``text_field``) into a shard folder of
    ``out_dir``. Rank and world size default to the launcher's (see :func:`launcher_rank`).

    Args:
        splade: the model.
        docs: every document (each process reads the same iterator and keeps its blocks).
        out_dir: the folder of the shards.
        rank: this process's rank.
        world_size: the number of processes.
        text_field: the documents' text field.
        block_size: documents per block (blocks are dealt out round-robin).
        verbose: show progress.

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
    path = Path(out_dir) / _shard_name(rank, world_size)
    if (path / SHARD_MARKER).is_file():
        raise FileExistsError(f"{path} is already encoded: delete it to encode it again")
    blocks = num_docs = 0
    with atomic_dir(path) as tmp:
        for block in _my_blocks(docs, rank, world_size, block_size):
            missing = [d.get("docno", "?") for d in block if text_field not in d]
            if missing:
                raise KeyError(f"documents {missing[:3]} have no {text_field!r} field: give text_field=...")
            matrix = splade.encode([d[text_field] for d in block], "doc", verbose=verbose)
            np.savez(tmp / f"block-{blocks:07d}.npz", docnos=np.array([str(d["docno"]) for d in block]),
                     indptr=matrix.indptr, indices=matrix.indices, data=matrix.data, shape=np.array(matrix.shape))
            blocks += 1
            num_docs += len(block)
        (tmp / "vocab.json").write_text(json.dumps(splade.vocab.tolist()))
        (tmp / SHARD_MARKER).write_text(json.dumps({
            "rank": rank, "world_size": world_size, "block_size": block_size, "blocks": blocks,
            "num_docs": num_docs, "model": repr(splade)}))
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


def _shard_blocks(out_dir: str | Path) -> Iterator[tuple[list[str], sp.csr_matrix, np.ndarray]]:
    """``(docnos, weights, vocabulary)`` block by block from a complete set of shards, in the corpus's order.

    Refuses (naming the missing ranks) a set where a process has not finished or whose shards disagree.
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
    done = {m["rank"] for m in metas}
    missing = sorted(set(range(world_size)) - done)
    if missing:
        raise FileNotFoundError(f"{out_dir}: ranks {missing} of {world_size} have not finished (no {SHARD_MARKER}); "
                                f"re-run them before indexing, or the index would be short")
    folders = [out_dir / _shard_name(r, world_size) for r in range(world_size)]
    blocks = {m["rank"]: m["blocks"] for m in metas}
    vocab = np.array(read_json(folders[0] / "vocab.json", fix=_REENCODE, expect=list), dtype=object)
    for k in range(max(blocks.values())):
        for rank, folder in enumerate(folders):
            if k >= blocks[rank]:
                continue
            with np.load(folder / f"block-{k:07d}.npz") as part:
                matrix = sp.csr_matrix((part["data"], part["indices"], part["indptr"]), shape=tuple(part["shape"]))
                docnos = part["docnos"].tolist()
            yield docnos, matrix, vocab


def read_shards(out_dir: str | Path) -> Iterator[dict]:
    """``{docno, toks}`` for every document of a complete set of shards, in the corpus's order.

    Refuses (naming the missing ranks) a set where a process has not finished or whose shards disagree.

    Args:
        out_dir: the folder of the shards.

    Returns:
        An iterator of documents (what an indexer takes).
    """
    for docnos, matrix, vocab in _shard_blocks(out_dir):
        for docno, toks in zip(docnos, csr_to_toks(matrix, vocab)):
            yield {"docno": docno, "toks": toks}


def shard_matrix(out_dir: str | Path) -> tuple[list[str], sp.csr_matrix, np.ndarray]:
    """Every document's weights from a complete set of shards as one CSR matrix: ``(docnos, matrix, vocab)``."""
    docnos, parts, vocab = [], [], None
    for block_docnos, matrix, block_vocab in _shard_blocks(out_dir):
        docnos += block_docnos
        parts.append(matrix)
        vocab = block_vocab
    return docnos, sp.vstack(parts, format="csr"), vocab


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
    return all((Path(out_dir) / _shard_name(r, world_size) / SHARD_MARKER).is_file() for r in range(world_size))
