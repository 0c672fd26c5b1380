"""The SPLADE maths: w_j = pool_i log(1 + ReLU(logit_ij)) over the non-padding tokens i of a text.

:func:`splade_pool` is the definition (differentiable, used for training and as the reference).
:func:`fused_max_pool` / :func:`fused_sum_pool` compute the same weights at inference without materialising the
``batch x length x vocabulary`` logits: the vocabulary projection runs on the real tokens of one text at a time,
in chunks of rows, and is reduced at once. For max pooling the activation is applied after the reduction, which is
exact because ``log1p(relu(x))`` is non-decreasing: ``max_i f(x_i) = f(max_i x_i)``.
"""
from __future__ import annotations

from typing import Literal

import torch

Pooling = Literal["max", "sum"]
POOLINGS: tuple[str, ...] = ("max", "sum")


def check_pooling(pooling: str) -> str:
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be 'max' (SPLADE v2/++) or 'sum' (SPLADE v1), not {pooling!r}")
    return pooling


def splade_pool(logits: torch.Tensor, attention_mask: torch.Tensor, pooling: Pooling = "max") -> torch.Tensor:
    """``[batch, length, vocab]`` logits -> ``[batch, vocab]`` weights, padding excluded by the attention mask."""
    activations = torch.log1p(torch.relu(logits)) * attention_mask.unsqueeze(-1).to(logits.dtype)
    if pooling == "max":  # activations are >= 0, so masked positions (0) never win the max
        return activations.amax(dim=1)
    return activations.sum(dim=1)


def _chunked_logits(hidden: torch.Tensor, weight_t: torch.Tensor, bias: torch.Tensor | None, chunk: int):
    """Yield ``[rows, vocab]`` logit blocks of one text's ``[tokens, hidden]`` states, re-using one buffer."""
    buffer = torch.empty(min(chunk, hidden.shape[0]), weight_t.shape[1], dtype=weight_t.dtype, device=hidden.device)
    for start in range(0, hidden.shape[0], chunk):
        rows = hidden[start:start + chunk]
        out = buffer[: rows.shape[0]]
        if bias is None:
            yield torch.mm(rows, weight_t, out=out)
        else:
            yield torch.addmm(bias, rows, weight_t, out=out)


def _real_tokens(hidden: torch.Tensor, attention_mask: torch.Tensor):
    """Each row's ``[tokens, hidden]`` states of its non-padding tokens (either padding side)."""
    mask = attention_mask.bool()
    full = mask.all(dim=1).tolist()
    for row in range(hidden.shape[0]):
        yield row, hidden[row] if full[row] else hidden[row][mask[row]]


def fused_max_pool(hidden: torch.Tensor, attention_mask: torch.Tensor, weight: torch.Tensor,
                   bias: torch.Tensor | None, *, chunk: int = 128) -> torch.Tensor:
    """Max pooling from the states before the vocabulary projection (``[batch, length, hidden]``; ``weight`` is
    ``[vocab, hidden]``). Equal to :func:`splade_pool` over the projected logits."""
    weight_t = weight.t()
    out = torch.zeros(hidden.shape[0], weight.shape[0], dtype=weight.dtype, device=hidden.device)
    for row, states in _real_tokens(hidden, attention_mask):
        if states.shape[0] == 0:
            continue
        best = out[row]
        best.fill_(-torch.inf)
        for block in _chunked_logits(states, weight_t, None, chunk):
            torch.maximum(best, block.amax(dim=0), out=best)
        if bias is not None:
            best += bias
        best.relu_().log1p_()
    return out


def fused_sum_pool(hidden: torch.Tensor, attention_mask: torch.Tensor, weight: torch.Tensor,
                   bias: torch.Tensor | None, *, chunk: int = 128) -> torch.Tensor:
    """Sum pooling from the states before the vocabulary projection; see :func:`fused_max_pool`."""
    weight_t = weight.t()
    out = torch.zeros(hidden.shape[0], weight.shape[0], dtype=weight.dtype, device=hidden.device)
    for row, states in _real_tokens(hidden, attention_mask):
        for block in _chunked_logits(states, weight_t, bias, chunk):
            out[row] += block.relu_().log1p_().sum(dim=0)
    return out
