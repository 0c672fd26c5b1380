"""Vector indexes of a dataset's corpus, built once per (corpus, document-side model) and reopened.

Layout under ``<root>/<corpus id>/dense-<model>-<identity>/``: ``exact/`` (the documents' vectors, encoded once)
and, when asked for, ``hnsw-M<M>-ef<ef_construction>/`` (the same vectors with an HNSW graph, built from the exact
index's vectors: nothing is encoded twice). The identity (:attr:`BiEncoder.identity`) is what decides the
document vectors, so two loads of one model share the index and another model never reads it. An interrupted
build leaves a folder without its completion marker, which is detected, removed and rebuilt.
"""
from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

from transformers_ir import _paths
from transformers_ir.data import corpus_docs, corpus_id
from transformers_ir.dense._model import BiEncoder
from transformers_ir.indexes import VectorIndex
from transformers_ir.indexes._vector_search import hnsw_settings

_log = logging.getLogger(__name__)


def dense_index_dir(dataset, model: BiEncoder, root: str | Path | None = None) -> Path:
    """The folder of ``dataset``'s vector indexes for ``model``'s document side.

    Args:
        dataset: the dataset whose corpus is indexed.
        model: the bi-encoder.
        root: the folder of the indexes (default: ``$TRANSFORMERS_IR_HOME/indexes``).

    Returns:
        ``<root>/<corpus id>/dense-<model name>-<identity>``.
    """
    name = _paths.slug(Path(model.name).name if model.name else type(model.model).__name__)
    key = model.identity.rsplit("-", 1)[-1][:12]
    return Path(root or _paths.index_dir()) / _paths.slug(corpus_id(dataset)) / f"dense-{name}-{key}"


def _fresh(index: VectorIndex) -> bool:
    """True when ``index`` is to be built (an interrupted build is removed first)."""
    if index.built:
        return False
    if index.incomplete():
        _log.warning("%s holds an interrupted build (no completion marker): rebuilding it", index.path)
        shutil.rmtree(index.path)
    return True


def _stored(index: VectorIndex) -> Iterator[dict]:
    vectors = index.vectors()
    for row, docno in enumerate(index.docnos.tolist()):
        yield {"docno": docno, "doc_vec": vectors[row]}


def dataset_dense_index(dataset, model: BiEncoder, *, hnsw: bool | dict = False, root: str | Path | None = None,
                        verbose: bool = False) -> VectorIndex:
    """The vector index of ``dataset``'s corpus for ``model``: reopened when built, otherwise encoded (once: the
    text fields joined, title + abstract for BEIR) and built. With ``hnsw`` the index also holds an HNSW graph,
    built from the exact index's vectors.

    Args:
        dataset: the dataset whose corpus is indexed.
        model: the bi-encoder (its document side decides the folder).
        hnsw: False for exact search only; True or ``{"M": ..., "ef_construction": ...}`` for a graph too.
        root: the folder of the indexes.
        verbose: show progress.

    Returns:
        The built index (``index.retriever(method='hnsw')`` searches the graph when it has one).
    """
    folder = dense_index_dir(dataset, model, root)
    exact = VectorIndex(folder / "exact", verbose=verbose)
    if _fresh(exact):
        try:
            docs = corpus_docs(dataset, progress=f"encoding for {model!r}'s vector index" if verbose else None)
            model.indexer(exact, verbose=False).index(docs)  # one bar over the corpus, not one per chunk
        except FileExistsError:  # another process built it meanwhile
            if not exact.built:
                raise
    graph = hnsw_settings(hnsw)
    if graph is None:
        return exact
    index = VectorIndex(folder / f"hnsw-M{graph['M']}-ef{graph['ef_construction']}", verbose=verbose)
    if _fresh(index):
        try:
            index.indexer(model_id=model.identity, hnsw=graph).index(_stored(exact))
        except FileExistsError:
            if not index.built:
                raise
    return index
