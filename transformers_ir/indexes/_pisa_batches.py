"""A fix for pyterrier-pisa's batched inversion of pre-tokenised documents.

pyterrier-pisa's ``toks_indexer`` (0.4.9) inverts documents ``batch_size`` at a time (100,000 by default). Each
batch file lists the postings of the terms seen *so far*, but PISA's merge reads as many lists from every batch as
the final lexicon holds: as soon as there is more than one batch, the lists of terms first seen in a later batch
are read from the wrong place — wrong impacts, and postings in documents that do not hold the term. No error is
raised; the index reports itself built. :func:`padded_batches` pads every batch file with empty lists for the
terms it never saw before the merge (a no-op where the counts already agree, e.g. a fixed pyterrier-pisa).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np


def _list_count(docs_file: Path) -> int:
    """How many posting lists a batch's ``.docs`` file holds: a header ``[1, num_docs]``, then ``[n, ids...]``."""
    data = np.memmap(docs_file, mode="r", dtype=np.uint32)
    count, i = 0, 2
    while i < data.shape[0]:
        i += int(data[i]) + 1
        count += 1
    del data
    return count


def pad_batch(prefix: str, batch: int, term_count: int) -> int:
    """Append empty posting lists to batch ``batch`` of ``prefix`` until it holds ``term_count`` lists; returns how
    many were added."""
    missing = term_count - _list_count(Path(f"{prefix}.batch.{batch}.docs"))
    if missing > 0:
        empty = np.zeros(missing, dtype=np.uint32).tobytes()
        for suffix in ("docs", "freqs"):
            with open(f"{prefix}.batch.{batch}.{suffix}", "ab") as f:
                f.write(empty)
    return max(missing, 0)


class _PaddingPisathon:
    """pyterrier-pisa's native module, with ``merge_inv`` padding the batches first."""

    def __init__(self, pisathon):
        self._pisathon = pisathon

    def __getattr__(self, name: str):
        return getattr(self._pisathon, name)

    def merge_inv(self, prefix: str, batch_count: int, term_count: int):
        for batch in range(batch_count):
            pad_batch(prefix, batch, term_count)
        return self._pisathon.merge_inv(prefix, batch_count, term_count)


@contextlib.contextmanager
def padded_batches() -> Iterator[None]:
    """While open, pyterrier-pisa's indexers merge correctly padded batches (not thread-safe with other indexing
    through pyterrier-pisa in the same process)."""
    from pyterrier_pisa import indexers

    original = indexers._pisathon
    indexers._pisathon = _PaddingPisathon(original)
    try:
        yield
    finally:
        indexers._pisathon = original
