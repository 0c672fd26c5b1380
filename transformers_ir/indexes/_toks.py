"""Sparse representations as PyTerrier ``{term: weight}`` dicts and as scipy CSR rows, and the checks on them.

The integer quantisation of impact indexes lives here too: :data:`DEFAULT_SCALE` is the one default, and
:func:`quantise` the one rounding rule, used by every index engine, for documents and queries alike. No torch:
turning a model's output into these rows is the SPLADE family's part (:mod:`transformers_ir.splade._sparsify`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from transformers_ir._options import DEFAULT_SCALE


def quantise(weights: np.ndarray, scale: float) -> np.ndarray:
    """``round(weight * scale)`` as int64 (half away from zero; weights are non-negative): the one rounding rule.

    Args:
        weights: the weights.
        scale: the quantisation scale.

    Returns:
        The integer impacts.
    """
    return np.floor(np.asarray(weights, dtype=np.float64) * scale + 0.5).astype(np.int64)


def check_scale(scale: float) -> float:
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"the quantisation scale must be a positive number (e.g. {DEFAULT_SCALE:g}), got {scale!r}")
    return float(scale)


def csr_to_toks(matrix: sp.csr_matrix, vocab: np.ndarray) -> list[dict[str, float]]:
    """One ``{term: weight}`` per CSR row.

    Args:
        matrix: ``[rows, vocabulary]`` weights.
        vocab: the term of each column.

    Returns:
        The dicts, one per row.
    """
    terms = vocab[matrix.indices].tolist()
    values = matrix.data.tolist()
    ptr = matrix.indptr.tolist()
    return [dict(zip(terms[a:b], values[a:b])) for a, b in zip(ptr[:-1], ptr[1:])]


def check_toks(toks, where: str) -> dict:
    """A ``{term: weight}`` dict with finite, non-negative weights; anything else is a clear error."""
    if not isinstance(toks, dict):
        raise TypeError(f"{where}: toks must be a {{term: weight}} dict, got {type(toks).__name__}: encode the "
                        f"text with a SPLADE encoder (splade.doc_encoder()) before indexing")
    for term, weight in toks.items():
        if not isinstance(term, str):
            raise TypeError(f"{where}: term {term!r} is a {type(term).__name__}, not a str")
        try:
            value = float(weight)
        except (TypeError, ValueError):
            raise TypeError(f"{where}: the weight of {term!r} is {weight!r}, not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{where}: the weight of {term!r} is {weight!r}: weights must be finite (a NaN or "
                             f"infinite weight usually means the model diverged or was loaded in the wrong dtype)")
        if value < 0:
            raise ValueError(f"{where}: the weight of {term!r} is negative ({weight!r}): SPLADE weights are "
                             f">= 0 (log1p(relu(.))); clip or drop negative weights before indexing")
    return toks


def toks_matrix(toks: Sequence[dict], lexicon: dict[str, int], *, grow: bool, where: str) -> sp.csr_matrix:
    """CSR rows of ``{term: weight}`` dicts over ``lexicon`` (term -> column). With ``grow`` new terms are added
    to the lexicon; without, terms absent from it are dropped.

    Args:
        toks: the rows.
        lexicon: term -> column (grown in place with ``grow``).
        grow: add unseen terms.
        where: what the rows are, for error messages.

    Returns:
        ``[len(toks), len(lexicon)]`` float32 weights.
    """
    indptr, indices, data = [0], [], []
    for i, row in enumerate(toks):
        check_toks(row, f"{where} #{i}")
        for term, weight in row.items():
            col = lexicon.get(term)
            if col is None:
                if not grow:
                    continue
                col = lexicon[term] = len(lexicon)
            if weight:
                indices.append(col)
                data.append(float(weight))
        indptr.append(len(indices))
    return sp.csr_matrix((np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int32),
                          np.asarray(indptr, dtype=np.int64)), shape=(len(indptr) - 1, len(lexicon)))
