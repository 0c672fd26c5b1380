"""SPLADE's scale-out encoding: each process encodes its slice of a corpus to a shard of CSR blocks; one step reads
the shards back, in corpus order, into one index. The sharding itself (ranks from the launcher, round-robin blocks,
atomic shard folders, refusal of incomplete sets) is :mod:`transformers_ir._shards`, shared with the dense family.

Example::

    # torchrun --nproc_per_node 4 encode.py   (each process runs:)
    encode_shard(splade, corpus_iter, 'encodings/')
    # afterwards, once:
    index.indexer().index(read_shards('encodings/'))
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from transformers_ir._jsonfile import read_json
from transformers_ir._shards import launcher_rank, shard_blocks, shards_complete, write_shard
from transformers_ir.indexes import csr_to_toks

_REENCODE = "delete the shard folder and encode it again"

__all__ = ["encode_shard", "launcher_rank", "read_shards", "shard_matrix", "shards_complete"]


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
    def encode_block(block: list[dict]) -> dict:
        matrix = splade.encode([d[text_field] for d in block], "doc", verbose=verbose)
        return {"docnos": np.array([str(d["docno"]) for d in block]), "indptr": matrix.indptr,
                "indices": matrix.indices, "data": matrix.data, "shape": np.array(matrix.shape)}

    def vocabulary(folder: Path) -> None:
        (folder / "vocab.json").write_text(json.dumps(splade.vocab.tolist()))

    return write_shard(docs, out_dir, encode_block, model=repr(splade), rank=rank, world_size=world_size,
                       text_field=text_field, block_size=block_size, extra=vocabulary)


def _shard_blocks(out_dir: str | Path) -> Iterator[tuple[list[str], sp.csr_matrix, np.ndarray]]:
    """``(docnos, weights, vocabulary)`` block by block from a complete set of shards, in the corpus's order."""
    vocab = None
    for folder, part in shard_blocks(out_dir):
        if vocab is None:
            vocab = np.array(read_json(folder / "vocab.json", fix=_REENCODE, expect=list), dtype=object)
        matrix = sp.csr_matrix((part["data"], part["indices"], part["indptr"]), shape=tuple(part["shape"]))
        yield part["docnos"].tolist(), matrix, vocab


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
