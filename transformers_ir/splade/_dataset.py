"""SPLADE indexes of a dataset's corpus, built once per (corpus, model weights, settings, engine) and reopened.

Layout under ``<root>/<corpus id>/splade-<model>-<key>/``: ``encodings/`` (the documents' weights, as shards
of one process, shared by every engine) and one folder per engine. An interrupted build leaves a folder
without its completion marker, which is detected, removed and rebuilt.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pandas as pd
import scipy.sparse as sp

from transformers_ir import _paths
from transformers_ir._identity import json_hash, weights_hash
from transformers_ir._options import DEFAULT_SCALE, SparseEngine
from transformers_ir._shards import clear_stale_shards
from transformers_ir.data import corpus_docs, corpus_id
from transformers_ir.indexes import SparseIndex, sparse_index
from transformers_ir.splade._model import Splade
from transformers_ir.splade._shards import encode_shard, read_shards, shard_matrix, shards_complete

_log = logging.getLogger(__name__)


def model_key(splade: Splade) -> str:
    """Short hash of what decides the documents' weights: the doc model's weights and the doc-side settings."""
    settings = {"weights": weights_hash(splade.model), "pooling": splade.pooling,
                "doc_max_length": splade.doc_max_length, "doc_top_k": splade.doc_top_k,
                "threshold": splade.threshold}
    return json_hash(settings)[:12]


def _folder(dataset, splade: Splade, root: str | Path | None) -> Path:
    name = _paths.slug(Path(splade.name).name if splade.name else type(splade.model).__name__)
    return Path(root or _paths.index_dir()) / _paths.slug(corpus_id(dataset)) / f"splade-{name}-{model_key(splade)}"


class StoredDocWeights:
    """The corpus's document weights encoded for an index (same model weights and document settings), read back
    by docno: a re-scorer then encodes nothing. Loaded on first use.

    Args:
        encodings: the folder of the encoded shards (see :func:`encode_shard`).
    """

    def __init__(self, encodings: Path):
        self.encodings = encodings
        self._rows: tuple[pd.Index, sp.csr_matrix] | None = None

    def rows(self, docnos) -> sp.csr_matrix | None:
        """The weights of ``docnos`` (CSR rows over the model's vocabulary), or None when one is not stored."""
        if self._rows is None:
            stored, matrix, _ = shard_matrix(self.encodings)
            self._rows = pd.Index(stored), matrix
        index, matrix = self._rows
        found = index.get_indexer(pd.Index(docnos))
        return None if (found < 0).any() else matrix[found]

    def __repr__(self) -> str:
        return f"StoredDocWeights({str(self.encodings)!r})"


def dataset_doc_weights(dataset, splade: Splade, *, root: str | Path | None = None) -> StoredDocWeights | None:
    """The document weights of ``dataset``'s corpus for ``splade``, when an index build has encoded them (see
    :func:`dataset_splade_index`); None otherwise.

    Args:
        dataset: the dataset whose corpus was encoded.
        splade: the model (its document side and settings decide the folder).
        root: the folder of the indexes.

    Returns:
        The stored weights, or None.
    """
    encodings = _folder(dataset, splade, root) / "encodings"
    return StoredDocWeights(encodings) if shards_complete(encodings) else None


def dataset_splade_index(dataset, splade: Splade, *, engine: SparseEngine = "pisa", scale: float = DEFAULT_SCALE,
                         shard_docs: int | None = None, root: str | Path | None = None,
                         verbose: bool | None = None) -> SparseIndex:
    """The SPLADE index of ``dataset``'s corpus for ``splade`` and ``engine``: reopened when built, otherwise
    encoded (once, shared by the engines and shardings) and built. ``shard_docs`` (PISA only): one PISA index per
    this many documents, for corpora whose postings do not fit in memory at once (see
    :class:`~transformers_ir.indexes.PisaSparseIndex`).

    Args:
        dataset: the dataset whose corpus is indexed.
        splade: the model.
        engine: ``'pisa'``, ``'terrier'`` or ``'exact'``.
        scale: the integer quantisation scale.
        shard_docs: documents per PISA shard (None: one index).
        root: the folder of the indexes.
        verbose: show progress (default: the model's ``verbose``, on unless it was built with ``verbose=False``).

    Returns:
        The built index.

    Raises:
        ValueError: ``shard_docs`` with another engine than PISA.
    """
    folder = _folder(dataset, splade, root)
    sharding = {} if shard_docs is None else {"shard_docs": shard_docs}
    if sharding and engine != "pisa":
        raise ValueError(f"shard_docs={shard_docs} applies to engine 'pisa' only (got engine {engine!r}): "
                         "drop shard_docs or use engine='pisa'")
    name = f"{engine}-scale{scale:g}" + ("" if shard_docs is None else f"-shards{shard_docs}")
    index = sparse_index(folder / name, engine, scale=scale, **sharding)
    if index.built():
        return index
    if index.incomplete():
        _log.warning("%s holds an interrupted build (no completion marker): rebuilding it", index.path)
        shutil.rmtree(index.path)
    encodings = folder / "encodings"
    if not shards_complete(encodings):
        clear_stale_shards(encodings)
        try:
            shown = bool(splade.verbose if verbose is None else verbose)
            docs = corpus_docs(dataset, progress=f"encoding for {splade!r}'s {engine} index" if shown else None)
            encode_shard(splade, docs, encodings, rank=0, world_size=1, verbose=False)  # one bar over the corpus
        except FileExistsError:  # another process encoded the corpus meanwhile
            if not shards_complete(encodings):
                raise
    try:
        return index.build(read_shards(encodings), verbose=bool(splade.verbose if verbose is None else verbose))
    except FileExistsError:
        if not index.built():
            raise
        return index  # built by another process meanwhile, from the same encodings
