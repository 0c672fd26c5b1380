"""RankT5 Enc (Zhuang et al. 2022, arXiv 2210.10634): a T5 encoder, the first token's vector of the last hidden
state, then a head giving one score."""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from transformers_ir import _checkpoint
from transformers_ir._options import RANKT5_HEADS as HEADS
from transformers_ir._options import RankT5Head as Head
from transformers_ir.cross_encoders._base import Reranker
from transformers_ir.cross_encoders._layout import PairLayout
from transformers_ir.models import resolve_model


class RankT5EncoderModel(nn.Module):
    """The RankT5 encoder network. Parameters: the T5 encoder under ``model``; the head ``dense`` (the paper:
    ``linear = Linear(d_model, 1)``) or ``linear-layernorm-linear`` (naver/trecdl22-crossencoder-rankT53b-repro:
    ``first_transform = Linear(d, d)`` then ``layer_norm = LayerNorm(d, eps=1e-12)`` then ``linear = Linear(d, 1)``,
    no non-linearity). ``forward`` returns one score per pair.

    Args:
        model: the T5 encoder (``T5EncoderModel``).
        head: ``'dense'`` or ``'linear-layernorm-linear'``.
    """

    def __init__(self, model: nn.Module, *, head: Head = "dense"):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        self.model = model
        self.head = head
        d = model.config.d_model
        if head == "linear-layernorm-linear":
            self.first_transform = nn.Linear(d, d)
            self.layer_norm = nn.LayerNorm(d, eps=1e-12)
        self.linear = nn.Linear(d, 1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        first = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state[:, 0, :]
        if self.head == "linear-layernorm-linear":
            first = self.layer_norm(self.first_transform(first))
        return self.linear(first).squeeze(-1)


class RankT5Encoder(Reranker):
    """RankT5 Enc re-ranker: :class:`RankT5EncoderModel` over the input ``Query: {query} Document: {document}</s>``
    (the RankT5 paper's template; :attr:`TEMPLATE`), the document truncated, the query kept whole.

    Score (:attr:`SCORE_KIND` ``'logit'``): the head's output, an unbounded relevance score (trained with listwise
    softmax it is a logit within the list; ``normalise='sigmoid'`` is monotone, not calibrated).

    Example::

        reranker = RankT5Encoder.from_pretrained("naver/trecdl22-crossencoder-rankT53b-repro", backbone="t5-3b")

    Args: as :class:`~transformers_ir.cross_encoders.CrossEncoder`, with ``model`` a :class:`RankT5EncoderModel`.
    """

    ARCHITECTURE = "rankt5"
    SCORE_KIND = "logit"
    #: Text before the query, between query and document, after the document (then the end token ``</s>``).
    TEMPLATE = ("Query:", "Document:", "")
    config_keys = (*Reranker.config_keys, "head")

    def _prepare(self) -> None:
        if not isinstance(self.model, RankT5EncoderModel):
            raise TypeError(f"RankT5Encoder needs a RankT5EncoderModel, got {type(self.model).__name__}: wrap the "
                            "encoder, RankT5EncoderModel(T5EncoderModel.from_pretrained(...), head=...)")

    def _layout(self) -> PairLayout:
        return PairLayout.from_template(self.tokenizer, *self.TEMPLATE)

    def _score(self, model: torch.nn.Module, features: dict[str, torch.Tensor]) -> torch.Tensor:
        return model(features["input_ids"], features["attention_mask"]).float()

    @property
    def head(self) -> str:
        """The head of :attr:`model` (``'dense'`` or ``'linear-layernorm-linear'``)."""
        return self.model.head

    def _save_model(self, path: Path) -> None:
        self.model.model.config.save_pretrained(path)
        _checkpoint.save_weights(self.model, path)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *, head: Head | None = None,
                        backbone: str | None = None, trust_remote_code: bool = False, **kwargs) -> RankT5Encoder:
        """Load a RankT5 encoder: one saved by :meth:`save_pretrained`, or the naver repro's bare
        ``pytorch_model.bin`` (keys ``model.*``, ``first_transform.*``, ``layer_norm.*``, ``linear.*``, read with
        ``weights_only=True``) with ``backbone='t5-3b'`` giving the config and tokenizer. ``head`` defaults to
        the saved setting, else what the weights hold. Other keywords are the constructor's."""
        from transformers import AutoConfig, T5EncoderModel

        path = _checkpoint.checkpoint_dir(name_or_path)
        saved = _checkpoint.read_settings(path)
        if not (path / "config.json").is_file() and backbone is None:
            raise FileNotFoundError(f"checkpoint {path} is missing config.json: pass backbone=<the T5 it was "
                                    "trained from, e.g. 't5-3b'> to take the config and tokenizer from there")
        if head is None:
            head = saved.get("head") or ("linear-layernorm-linear" if "first_transform.weight"
                                         in _checkpoint.weight_keys(path) else "dense")
        config = AutoConfig.from_pretrained(resolve_model(backbone) if backbone else str(path),
                                            trust_remote_code=trust_remote_code)
        model = RankT5EncoderModel(T5EncoderModel(config), head=head)
        _checkpoint.load_weights(model, path)
        tokenizer = _checkpoint.load_tokenizer(path, backbone, trust_remote_code=trust_remote_code)
        return cls._build(str(name_or_path), model, tokenizer, saved, kwargs)
