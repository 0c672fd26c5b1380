"""The bi-encoder's scale-out encoding: each process (``torchrun`` rank) encodes its slice of a corpus to a shard
of float32 blocks; one step reads the shards back, in corpus order, into a vector index. The sharding itself is
:mod:`transformers_ir._shards`, shared with SPLADE.

Example::

    # torchrun --nproc_per_node 4 encode.py   (each process runs:)
    encode_shard(model, corpus_iter, 'encodings/')
    # afterwards, once:
    index.indexer(model_id=model.identity).index(read_shards('encodings/'))
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from transformers_ir._shards import shard_blocks, write_shard


def encode_shard(model, docs: Iterable[dict], out_dir: str | Path, *, rank: int | None = None,
                 world_size: int | None = None, text_field: str = "text", block_size: int = 1024,
                 verbose: bool | None = None) -> Path:
    """Encode this process's slice of ``docs`` (dicts with ``docno`` and ``text_field``) into a shard folder of
    ``out_dir``. Rank and world size default to the launcher's (``RANK`` / ``WORLD_SIZE``, as torchrun sets them).

    Args:
        model: the :class:`~transformers_ir.dense.BiEncoder`.
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
    def encode_block(block: list[dict]) -> dict:
        return {"docnos": np.array([str(d["docno"]) for d in block]),
                "vectors": model.encode([d[text_field] for d in block], "doc", verbose=verbose)}

    return write_shard(docs, out_dir, encode_block, model=model.identity, rank=rank, world_size=world_size,
                       text_field=text_field, block_size=block_size)


def read_shards(out_dir: str | Path) -> Iterator[dict]:
    """``{docno, doc_vec}`` for every document of a complete set of shards, in the corpus's order: what a vector
    index's indexer takes.

    Refuses (naming the missing ranks) a set where a process has not finished or whose shards disagree.

    Args:
        out_dir: the folder of the shards.

    Returns:
        An iterator of documents.
    """
    for _, part in shard_blocks(out_dir):
        for docno, vector in zip(part["docnos"].tolist(), part["vectors"]):
            yield {"docno": docno, "doc_vec": vector}
