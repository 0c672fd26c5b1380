"""Checks on the vectors coming into the vector index (documents' ``doc_vec``) and its retriever (queries'
``query_vec``): each row a 1-D array of numbers of one dimension, finite in float32; an error names the document
or query and the fix."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd


def positive(name: str, value, what: str) -> int | None:
    """``value`` as a positive int, or None; a ``ValueError`` naming ``name`` and ``what`` it sets otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive whole number ({what}) or None, got {value!r}")
    return int(value)


def frame_rows(frame: pd.DataFrame) -> Iterator[dict]:
    """The frame's rows as dicts, one at a time."""
    columns = list(frame.columns)
    for row in frame.itertuples(index=False, name=None):
        yield dict(zip(columns, row))


def _as_vector(value, what: str) -> np.ndarray:
    try:
        array = np.asarray(value)
    except Exception as e:  # noqa: BLE001 - a ragged list or an object that is no array: name the row
        raise ValueError(f"{what} is not an array of numbers ({type(e).__name__}: {e})") from None
    if array.dtype.kind not in "fiub" or array.ndim != 1:
        shape = "a scalar" if array.ndim == 0 else f"shape {array.shape}"
        raise ValueError(f"{what} must be a 1-D array of numbers, got {array.dtype} {shape}: give each row one "
                         f"vector (e.g. from a bi-encoder's encoder)")
    return array


def first_dim(doc: dict) -> int:
    """The dimension of the first document's vector (which every other document must have)."""
    if "doc_vec" not in doc:
        raise KeyError(f"document {doc['docno']!r} has no 'doc_vec' (fields: {sorted(doc)}): encode documents with "
                       f"bi_encoder.doc_encoder() before the indexer")
    dim = len(_as_vector(doc["doc_vec"], f"doc_vec of document {doc['docno']!r}"))
    if dim == 0:
        raise ValueError(f"doc_vec of document {doc['docno']!r} is empty: vectors need at least one value")
    return dim


def block_vectors(docs: list[dict], dim: int) -> np.ndarray:
    """The block's vectors as float32 ``(len(docs), dim)``, every row checked (naming the document)."""
    out = np.empty((len(docs), dim), dtype=np.float32)
    for i, doc in enumerate(docs):
        if "doc_vec" not in doc:
            raise KeyError(f"document {doc['docno']!r} has no 'doc_vec' (fields: {sorted(doc)}): encode documents "
                           f"with bi_encoder.doc_encoder() before the indexer")
        vector = _as_vector(doc["doc_vec"], f"doc_vec of document {doc['docno']!r}")
        if len(vector) != dim:
            raise ValueError(f"doc_vec of document {doc['docno']!r} has {len(vector)} values, the documents before "
                             f"it {dim}: encode every document with the same model")
        with np.errstate(over="ignore", invalid="ignore"):
            out[i] = vector
    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(f"doc_vec of document {docs[first]['docno']!r} holds NaN or infinite values (or values "
                         f"beyond float32) ({int(bad.sum())} such documents in its block): check the encoder's "
                         f"precision (fp16 overflows) and the document's text")
    return out


def query_matrix(queries: pd.DataFrame, dim: int) -> np.ndarray:
    """The queries' vectors as float32 ``(queries, dim)``, each row checked (naming the qid)."""
    out = np.empty((len(queries), dim), dtype=np.float32)
    for i, (qid, value) in enumerate(zip(queries["qid"], queries["query_vec"])):
        vector = _as_vector(value, f"query_vec of query {qid!r}")
        if len(vector) != dim:
            raise ValueError(f"query_vec of query {qid!r} has {len(vector)} values, the index's vectors {dim}: "
                             f"encode queries with the model that built the index")
        with np.errstate(over="ignore", invalid="ignore"):
            out[i] = vector
    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():
        qid = queries["qid"].iloc[int(np.flatnonzero(bad)[0])]
        raise ValueError(f"query_vec of query {qid!r} holds NaN or infinite values: check the query encoder's "
                         f"precision and the query's text")
    return out
