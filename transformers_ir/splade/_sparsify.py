"""From a model's dense ``[texts, vocabulary]`` weights to sparse rows: pruning, CSR without a dense copy, and
the term of each column."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch


def prune(weights: torch.Tensor, *, top_k: int | None, threshold: float) -> torch.Tensor:
    """Keep each row's ``top_k`` largest weights (all when None) that are above ``threshold``; zero the rest."""
    if threshold > 0:
        weights = weights.masked_fill(weights <= threshold, 0.0)
    if top_k is not None and top_k < weights.shape[1]:
        values, indices = weights.topk(top_k, dim=1)
        weights = torch.zeros_like(weights).scatter_(1, indices, values)
    return weights


def to_csr(weights: torch.Tensor) -> sp.csr_matrix:
    """``[rows, vocab]`` (mostly zero) -> CSR float32 with only the non-zeros, without a dense numpy copy."""
    weights = weights.detach()
    rows, cols = weights.nonzero(as_tuple=True)
    data = weights[rows, cols].float().cpu().numpy()
    counts = torch.bincount(rows, minlength=weights.shape[0]).cpu().numpy()
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return sp.csr_matrix((data, cols.cpu().numpy().astype(np.int32), indptr), shape=tuple(weights.shape))


def vocabulary(tokenizer) -> np.ndarray:
    """Term strings indexed by token id (gaps, which some tokenizers have, become ``'[id]'``)."""
    vocab = tokenizer.get_vocab()
    out = np.array([f"[{i}]" for i in range(max(len(tokenizer), max(vocab.values()) + 1))], dtype=object)
    for term, i in vocab.items():
        out[i] = term
    return out
