"""The bi-encoder maths in one place: token states -> one vector per text, padding excluded by the attention mask.

* ``mean``: the average of the real tokens' states (sentence-transformers' ``pooling_mode_mean_tokens``, computed
  as it does: masked sum over ``clamp(count, 1e-9)``),
* ``cls``: the first token's state (BERT's [CLS]; DPR, BGE),
* ``last``: the last real token's state (decoder-style embedders), found from the mask, so either padding side
  works.

Normalisation (sentence-transformers' ``Normalize`` module) is L2 over the vector, ``x / max(||x||, 1e-12)``
(``torch.nn.functional.normalize``): a zero vector stays zero rather than becoming NaN.
"""
from __future__ import annotations

import torch

from transformers_ir._options import DENSE_POOLINGS, DensePooling


def check_pooling(pooling: str) -> str:
    """``pooling`` when it is one of :data:`~transformers_ir._options.DENSE_POOLINGS`.

    Raises:
        ValueError: naming the choices.
    """
    if pooling not in DENSE_POOLINGS:
        raise ValueError(f"pooling must be one of {', '.join(map(repr, DENSE_POOLINGS))}, not {pooling!r}")
    return pooling


def dense_pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: DensePooling = "mean") -> torch.Tensor:
    """``[batch, length, dim]`` token states -> ``[batch, dim]`` vectors.

    Args:
        hidden: the encoder's last hidden states.
        attention_mask: ``[batch, length]``, 0 for padding.
        pooling: ``'mean'``, ``'cls'`` or ``'last'``.

    Returns:
        One vector per text (differentiable).
    """
    if pooling == "cls":
        return hidden[:, 0]
    mask = attention_mask.to(hidden.dtype)
    if pooling == "mean":
        summed = (hidden * mask.unsqueeze(-1)).sum(dim=1)
        return summed / torch.clamp(mask.sum(dim=1, keepdim=True), min=1e-9)
    check_pooling(pooling)
    # the last position whose mask is 1: right padding gives count - 1, left padding the final position
    positions = torch.arange(hidden.shape[1], device=hidden.device).expand_as(attention_mask)
    last = (positions * attention_mask.long()).argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


def normalise(vectors: torch.Tensor) -> torch.Tensor:
    """L2-normalised rows (a zero row stays zero)."""
    return torch.nn.functional.normalize(vectors, p=2, dim=-1)
