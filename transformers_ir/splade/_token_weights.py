"""An inference-free query side: a query is weighted by looking its tokens up in a learned table, no transformer.

As in inference-free SPLADE (e.g. OpenSearch's ``opensearch-neural-sparse-encoding-doc-*`` with their ``idf.json``):
the document side is a full SPLADE model, the query side costs a tokenisation.
"""
from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from transformers_ir import _checkpoint, _safe_io

WEIGHTS_FILE = "token_weights.safetensors"


class TokenWeights(nn.Module):
    """One non-negative weight per vocabulary entry (a trainable ``nn.Parameter``); a text's representation
    holds the weight of each token it contains.

    Args:
        weights: ``[vocab]`` initial weights (e.g. IDF); negative entries act as 0.
    """

    def __init__(self, weights: torch.Tensor):
        super().__init__()
        self.weights = nn.Parameter(torch.as_tensor(weights, dtype=torch.float32).clone())

    @classmethod
    def uniform(cls, vocab_size: int) -> TokenWeights:
        """A table of ones (every token weighs 1): inference-free queries before training."""
        return cls(torch.ones(vocab_size))

    @classmethod
    def from_term_weights(cls, tokenizer, term_weights: dict[str, float], *, default: float = 0.0) -> TokenWeights:
        """From ``{token: weight}`` (an ``idf.json``); tokens missing from the table get ``default``."""
        weights = torch.full((len(tokenizer),), float(default))
        vocab = tokenizer.get_vocab()
        for term, weight in term_weights.items():
            if term in vocab:
                weights[vocab[term]] = float(weight)
        return cls(weights)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_) -> torch.Tensor:
        """``[batch, length]`` token ids -> ``[batch, length, vocab]`` is never built: returns ``[batch, vocab]``
        with each present token's weight (max pooling over repeats)."""
        weights = torch.relu(self.weights)
        out = torch.zeros(input_ids.shape[0], weights.shape[0], dtype=weights.dtype, device=weights.device)
        values = weights[input_ids] * attention_mask.to(weights.dtype)
        return out.scatter_reduce(1, input_ids, values, reduce="amax")

    def save_pretrained(self, path: str | Path) -> None:
        """Write the weights (``token_weights.safetensors``) and the settings file into ``path``.

        Args:
            path: the folder (created when absent).
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_file({"weights": self.weights.detach().cpu().contiguous()}, str(path / WEIGHTS_FILE))
        _checkpoint.write_settings(path, "token-weights", {"vocab_size": int(self.weights.shape[0])})

    @classmethod
    def from_pretrained(cls, path: str | Path) -> TokenWeights:
        """The table :meth:`save_pretrained` wrote (read through safetensors: no code runs).

        Args:
            path: the folder.

        Returns:
            The table.
        """
        return cls(_safe_io.load_weights(Path(path) / WEIGHTS_FILE)["weights"])

    @staticmethod
    def is_saved_at(path: str | Path) -> bool:
        """Whether ``path`` holds a table :meth:`save_pretrained` wrote."""
        return (Path(path) / WEIGHTS_FILE).is_file()
