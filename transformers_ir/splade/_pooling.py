"""The SPLADE maths: w_j = pool_i log(1 + ReLU(logit_ij)) over the non-padding tokens i of a text.

:func:`splade_pool` is the definition (differentiable, used for training and as the reference).
:func:`fused_max_pool` / :func:`fused_sum_pool` compute the same weights at inference without materialising the
``batch x length x vocabulary`` logits: the vocabulary projection runs on the real tokens of one text at a time,
in chunks of rows, and is reduced at once. For max pooling the activation is applied after the reduction, which is
exact because ``log1p(relu(x))`` is non-decreasing: ``max_i f(x_i) = f(max_i x_i)``.
"""
from __future__ import annotations

import torch

from transformers_ir._options import POOLINGS, Pooling


def check_pooling(pooling: str) -> str:
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be 'max' (SPLADE v2/++) or 'sum' (SPLADE v1), not {pooling!r}")
    return pooling


def splade_pool(logits: torch.Tensor, attention_mask: torch.Tensor, pooling: Pooling = "max") -> torch.Tensor:
    """``[batch, length, vocab]`` logits -> ``[batch, vocab]`` weights, padding excluded by the attention mask.

    Args:
        logits: the masked-LM's logits.
        attention_mask: ``[batch, length]``, 0 for padding.
        pooling: ``'max'`` or ``'sum'``.

    Returns:
        ``log1p(relu(logits))`` pooled over the tokens.
    """
    activations = torch.log1p(torch.relu(logits)) * attention_mask.unsqueeze(-1).to(logits.dtype)
    if pooling == "max":  # activations are >= 0, so masked positions (0) never win the max
        return activations.amax(dim=1)
    return activations.sum(dim=1)


def _token_blocks(hidden: torch.Tensor, attention_mask: torch.Tensor, weight: torch.Tensor,
                  bias: torch.Tensor | None, chunk: int):
    """Logits of the batch's real tokens, ``chunk`` rows at a time, in one reused buffer: yields
    ``(text, block)`` for every (text, block) overlap, ``block`` being that text's ``[tokens, vocab]`` logits.

    The real tokens of all texts are stacked first (padding dropped, either padding side), so the projection runs
    as few large matrix products (about a quarter faster on CPU than one text at a time) whatever the lengths.
    """
    mask = attention_mask.bool()
    states = hidden[mask]  # [tokens, hidden], text by text
    ends = mask.sum(dim=1).cumsum(0).tolist()
    weight_t = weight.t()
    buffer = torch.empty(min(chunk, states.shape[0]), weight.shape[0], dtype=weight.dtype, device=hidden.device)
    text = 0
    for start in range(0, states.shape[0], chunk):
        rows = states[start:start + chunk]
        block = buffer[: rows.shape[0]]
        if bias is None:
            torch.mm(rows, weight_t, out=block)
        else:
            torch.addmm(bias, rows, weight_t, out=block)
        stop = start + rows.shape[0]
        while text < len(ends) and ends[text] <= start:
            text += 1
        first = text
        while first < len(ends):
            begin = ends[first - 1] if first else 0
            yield first, block[max(begin, start) - start:min(ends[first], stop) - start]
            if ends[first] > stop:
                break
            first += 1


def fused_max_pool(hidden: torch.Tensor, attention_mask: torch.Tensor, weight: torch.Tensor,
                   bias: torch.Tensor | None, *, chunk: int = 512) -> torch.Tensor:
    """Max pooling from the states before the vocabulary projection (``[batch, length, hidden]``; ``weight`` is
    ``[vocab, hidden]``). Equal to :func:`splade_pool` over the projected logits."""
    out = torch.full((hidden.shape[0], weight.shape[0]), -torch.inf, dtype=weight.dtype, device=hidden.device)
    for text, block in _token_blocks(hidden, attention_mask, weight, None, chunk):
        if block.shape[0]:
            torch.maximum(out[text], block.amax(dim=0), out=out[text])
    if bias is not None:
        out += bias
    return out.relu_().log1p_()  # a text without tokens stays -inf: relu makes it 0


def fused_sum_pool(hidden: torch.Tensor, attention_mask: torch.Tensor, weight: torch.Tensor,
                   bias: torch.Tensor | None, *, chunk: int = 512) -> torch.Tensor:
    """Sum pooling from the states before the vocabulary projection; see :func:`fused_max_pool`."""
    out = torch.zeros(hidden.shape[0], weight.shape[0], dtype=weight.dtype, device=hidden.device)
    for text, block in _token_blocks(hidden, attention_mask, weight, bias, chunk):
        out[text] += block.relu_().log1p_().sum(dim=0)
    return out
