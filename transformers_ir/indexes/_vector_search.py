"""The maths of dense retrieval, apart from the index folder: the float32 ``.npy`` written as a stream, the exact
top-k over blocks of it, and the FAISS HNSW graph.

The exact search keeps, per query, a running top-k merged with each block's scores by ``np.argpartition``: memory
is one block of documents and one block of scores (``query_block x block_size``), whatever the corpus size. The
blocks are read into one reused buffer (not sliced from a memory map, whose touched pages would stay in the
process's resident memory and grow with the corpus). A tie at the cut (equal scores across the k-th place) is
settled by the library's rule, docno ascending, so the documents kept are the ones :func:`rank_results` would keep
from a full ranking.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from transformers_ir.errors import CorruptIndex

#: Bytes reserved for the ``.npy`` header, written last (when the number of rows is known); a multiple of 64,
#: numpy's alignment, and room for any shape.
HEADER_BYTES = 128
#: Queries scored against a block at a time (the score matrix is ``QUERY_BLOCK x block_size`` float32).
QUERY_BLOCK = 256
#: Documents per block of the exact search when not given: 16,384 x 384-d is 24 MiB of vectors, and the scores of a
#: query block 16 MiB (plus numpy's partition indices, 32 MiB).
DEFAULT_BLOCK = 16_384
#: The HNSW settings used when ``hnsw=True`` (FAISS's names: ``M`` links per node, ``efConstruction``).
HNSW_DEFAULTS = {"M": 32, "ef_construction": 200}


def npy_header(rows: int, dim: int) -> bytes:
    """A version 1.0 ``.npy`` header for a C-order float32 ``(rows, dim)`` array, exactly :data:`HEADER_BYTES` long.

    Args:
        rows: the number of rows.
        dim: the number of columns.

    Returns:
        The header bytes (magic, version, length, the dict padded with spaces, a newline).
    """
    text = repr({"descr": "<f4", "fortran_order": False, "shape": (int(rows), int(dim))})
    length = HEADER_BYTES - 10  # magic (6) + version (2) + the length itself (2)
    return b"\x93NUMPY\x01\x00" + length.to_bytes(2, "little") + text.ljust(length - 1).encode("latin1") + b"\n"


def npy_layout(path: Path) -> tuple[int, tuple[int, ...], np.dtype]:
    """Where a ``.npy`` file's data starts, its shape and dtype, read from its header (no pickle, no data read).

    Args:
        path: the file.

    Returns:
        ``(offset, shape, dtype)``.

    Raises:
        CorruptIndex: the file is not a plain ``.npy`` array.
    """
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                      else np.lib.format.read_array_header_2_0)(f)
        except (ValueError, SyntaxError) as e:
            raise CorruptIndex(f"{path} is not a readable .npy file ({e}): rebuild the index") from None
        return f.tell(), header[0], header[2]


def read_blocks(path: Path, rows: int, dim: int, block_size: int) -> Iterator[tuple[int, np.ndarray]]:
    """The rows of a float32 ``.npy`` matrix as ``(first row, block)``, read into one reused buffer.

    Args:
        path: the ``.npy`` file (``rows x dim`` float32).
        rows: the number of rows expected.
        dim: the number of columns expected.
        block_size: rows per block.

    Yields:
        ``(start, vectors)``: a view of the buffer, valid until the next block is read.

    Raises:
        CorruptIndex: the file's header or length differs from what the index recorded.
    """
    offset, shape, dtype = npy_layout(path)
    if tuple(shape) != (rows, dim) or dtype != np.float32:
        raise CorruptIndex(f"{path} holds a {dtype} array of shape {shape}, not float32 {(rows, dim)} as built: "
                           f"rebuild the index")
    buffer = np.empty((min(block_size, max(rows, 1)), dim), dtype=np.float32)
    with open(path, "rb", buffering=0) as f:
        f.seek(offset)
        for start in range(0, rows, block_size):
            view = buffer[:min(block_size, rows - start)]
            memory = memoryview(view).cast("B")
            filled = 0
            while filled < len(memory):
                got = f.readinto(memory[filled:])
                if not got:
                    raise CorruptIndex(f"{path} ends before row {start + filled // (4 * dim)} of {rows}: rebuild "
                                       f"the index")
                filled += got
            yield start, view


def exact_top_k(blocks, queries: np.ndarray, k: int, tie_order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each query's ``k`` best documents by inner product, over documents given in blocks.

    Args:
        blocks: ``(first row, vectors)`` pairs covering the documents in order (e.g. :func:`read_blocks`).
        queries: ``(queries, dim)`` float32.
        k: results per query (at most the number of documents: fewer come back when the corpus is smaller).
        tie_order: each document's position in docno order; among equal scores at the cut the smaller wins.

    Returns:
        ``(ids, scores)``, both ``(queries, min(k, documents))``, unordered within a row.
    """
    negated = -np.asarray(queries, dtype=np.float32)  # the block's scores come out negated: argpartition's order
    top_ids = np.zeros((len(queries), 0), dtype=np.int64)
    top_neg = np.zeros((len(queries), 0), dtype=np.float32)
    for start, block in blocks:
        ids = np.empty((len(queries), min(k, len(block))), dtype=np.int64)
        neg = np.empty(ids.shape, dtype=np.float32)
        for a in range(0, len(queries), QUERY_BLOCK):
            b = min(a + QUERY_BLOCK, len(queries))
            ids[a:b], neg[a:b] = _best_of(negated[a:b] @ block.T, k, start, tie_order)
        if top_ids.shape[1]:  # merge the block's best with the best so far: 2k columns, not the block's width
            candidates = np.concatenate([top_ids, ids], axis=1)
            ids, neg = _best_of(np.concatenate([top_neg, neg], axis=1), k, 0, tie_order, candidates)
        top_ids, top_neg = ids, neg
    return top_ids, -top_neg


def _best_of(neg: np.ndarray, k: int, start: int, tie_order: np.ndarray,
             ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest of the negated scores ``neg`` per row, with their ids: ``ids[row, column]`` when given,
    else ``start + column``. A tie across the cut (argpartition keeps an arbitrary one of equal scores) is settled
    by ``tie_order``, smaller first."""
    if neg.shape[1] <= k:
        keep = np.broadcast_to(np.arange(neg.shape[1]), neg.shape)
    else:
        keep = np.argpartition(neg, k - 1, axis=1)[:, :k]
    best = np.take_along_axis(neg, keep, axis=1)
    found = start + keep if ids is None else np.take_along_axis(ids, keep, axis=1)
    if neg.shape[1] > k:
        worst = best.max(axis=1, keepdims=True)
        for row in np.flatnonzero(np.count_nonzero(neg <= worst, axis=1) > k):
            columns = np.flatnonzero(neg[row] <= worst[row, 0])
            row_ids = start + columns if ids is None else ids[row, columns]
            order = np.lexsort((tie_order[row_ids], neg[row, columns]))[:k]
            found[row], best[row] = row_ids[order], neg[row, columns[order]]
    return found.astype(np.int64, copy=False), best


def hnsw_settings(hnsw: bool | dict) -> dict | None:
    """``hnsw`` as given to the indexer -> the settings to build with, or None for no graph.

    Args:
        hnsw: False, True (:data:`HNSW_DEFAULTS`), or a dict with ``M`` and/or ``ef_construction``.

    Returns:
        ``{"M": int, "ef_construction": int}`` or None.

    Raises:
        ValueError: unknown keys or values that are not positive whole numbers.
    """
    if hnsw is False or hnsw is None:
        return None
    if hnsw is True:
        return dict(HNSW_DEFAULTS)
    if not isinstance(hnsw, dict):
        raise ValueError(f"hnsw must be True, False or a dict like {HNSW_DEFAULTS}, got {hnsw!r}")
    unknown = sorted(set(hnsw) - set(HNSW_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown HNSW settings {unknown}: the settings are {sorted(HNSW_DEFAULTS)}")
    settings = {**HNSW_DEFAULTS, **hnsw}
    for name, value in settings.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
            raise ValueError(f"hnsw {name} must be a whole number >= 2, got {value!r}")
    return {name: int(value) for name, value in settings.items()}


def faiss_module():
    """FAISS, or an ImportError naming the extra to install.

    Returns:
        The ``faiss`` module.

    Raises:
        ImportError: faiss-cpu is not installed.
    """
    try:
        import faiss
    except ImportError:
        raise ImportError("the HNSW index needs faiss: pip install 'transformers-ir[dense]' (or faiss-cpu)") from None
    return faiss


def build_hnsw(vectors: np.ndarray, path: Path, *, M: int, ef_construction: int, block_size: int = 65_536) -> None:
    """Build a FAISS ``IndexHNSWFlat`` (inner product) over ``vectors`` and write it to ``path``.

    Args:
        vectors: ``(n, dim)`` float32 (e.g. the index's memory map; added a block at a time).
        path: the file to write.
        M: links per node.
        ef_construction: candidate list size while building.
        block_size: rows added at a time.
    """
    faiss = faiss_module()
    graph = faiss.IndexHNSWFlat(vectors.shape[1], M, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = ef_construction
    for start in range(0, len(vectors), block_size):
        graph.add(np.ascontiguousarray(vectors[start:start + block_size], dtype=np.float32))
    faiss.write_index(graph, str(path))


def hnsw_search(graph, queries: np.ndarray, k: int, ef_search: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Search a FAISS HNSW graph.

    Args:
        graph: the FAISS index.
        queries: ``(queries, dim)`` float32.
        k: results per query.
        ef_search: the candidate list size (at least ``k`` is used); None for FAISS's setting stored in the graph.

    Returns:
        ``(ids, scores)``, ``(queries, k)``; ids are -1 where fewer than ``k`` documents were found.
    """
    faiss = faiss_module()
    params = None if ef_search is None else faiss.SearchParametersHNSW(efSearch=max(int(ef_search), k))
    scores, ids = graph.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)
    return ids.astype(np.int64), scores
