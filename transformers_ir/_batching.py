"""Length-sorted batching, the one rule every encoder and re-ranker batches by: longest texts first (an
out-of-memory error comes at once, not after an hour), each batch then padded only to its own longest member
(dynamic padding), so little compute goes to padding. Callers put the results back in input order."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

#: A stream of documents is encoded this many batches at a time (sorted by length within each chunk).
CHUNK_BATCHES = 8


def longest_first(lengths: Sequence[int] | np.ndarray) -> np.ndarray:
    """Row order by decreasing length; equal lengths keep their input order (a stable sort, so a run is
    reproducible whatever the sort's implementation).

    Args:
        lengths: one length per row (characters or tokens).

    Returns:
        The row indices (int64), longest first.
    """
    lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
    return np.argsort(-lengths, kind="stable")


def length_sorted_batches(texts: Sequence[str], batch_size: int) -> Iterator[np.ndarray]:
    """The row indices of ``texts`` in batches of ``batch_size``, longest texts (by characters) first.

    Args:
        texts: the texts.
        batch_size: rows per batch (at least 1).

    Yields:
        One index array per batch; together they cover every row once.

    Raises:
        ValueError: ``batch_size`` below 1.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    order = longest_first([len(t) for t in texts])
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


def inverse(order: np.ndarray) -> np.ndarray:
    """The permutation that puts rows taken in ``order`` back in input order (``sorted_rows[inverse(order)]``).

    Args:
        order: a permutation of ``range(n)``.

    Returns:
        Its inverse.
    """
    out = np.empty_like(order)
    out[order] = np.arange(len(order))
    return out


def chunked(items: Iterable, size: int) -> Iterator[list]:
    """``items`` (any iterable, read lazily) in lists of ``size``, the last one shorter: how a stream of
    documents is encoded a few batches at a time, with memory bounded by the chunk.

    Args:
        items: the stream.
        size: items per chunk (at least 1).

    Yields:
        The chunks, in order.
    """
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
