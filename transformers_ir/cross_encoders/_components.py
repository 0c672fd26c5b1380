"""Pipeline components for the re-rankers: ``cross-encoder``, ``bert-cat``, ``rankt5``, ``monot5``.

Each takes ``model`` (an offline alias, a hub name in the local cache, or a folder relative to the pipeline file)
and the re-ranker's settings; a re-ranker expects the ``text`` component before it.
"""
from __future__ import annotations

from typing import Literal

import pyterrier as pt

from transformers_ir._device import Precision
from transformers_ir.cross_encoders._bert_cat import BertCat
from transformers_ir.cross_encoders._cross_encoder import CrossEncoder
from transformers_ir.cross_encoders._monot5 import MonoT5
from transformers_ir.cross_encoders._rankt5 import RankT5Encoder
from transformers_ir.experiments._registry import Context, component

NormaliseName = Literal["sigmoid", "minmax"]


def _load(cls, params: dict) -> pt.Transformer:
    """``cls.from_pretrained`` with a component's parameters (its ``locals()``): ``model`` is looked up relative
    to the pipeline file first, the other parameters are passed on by name."""
    kwargs = dict(params)
    ctx, model = kwargs.pop("ctx"), kwargs.pop("model")
    local = (ctx.base_dir / model).expanduser()
    return cls.from_pretrained(str(local) if local.is_dir() else model, verbose=ctx.verbose, **kwargs)


@component("cross-encoder")
def _cross_encoder(ctx: Context, *, model: str, precision: Precision | None = None, batch_size: int = 32,
                   query_max_length: int = 64, doc_max_length: int | None = None, max_length: int = 512,
                   normalise: NormaliseName | None = None, num_labels: int | None = None,
                   text_field: str = "text") -> pt.Transformer:
    """Re-rank with any Hugging Face sequence-classification checkpoint (score: its logit, or the log-odds)."""
    return _load(CrossEncoder, locals())


@component("bert-cat")
def _bert_cat(ctx: Context, *, model: str, backbone: str | None = None, precision: Precision | None = None,
              batch_size: int = 32, query_max_length: int = 64, doc_max_length: int | None = None,
              max_length: int = 512, normalise: NormaliseName | None = None,
              text_field: str = "text") -> pt.Transformer:
    """Re-rank with BERT_Cat (a (Distil)BERT encoder, CLS vector, one linear layer)."""
    return _load(BertCat, locals())


@component("rankt5")
def _rankt5(ctx: Context, *, model: str, backbone: str | None = None,
            head: Literal["dense", "linear-layernorm-linear"] | None = None, precision: Precision | None = None,
            batch_size: int = 32, query_max_length: int = 64, doc_max_length: int | None = None,
            max_length: int = 512, normalise: NormaliseName | None = None,
            text_field: str = "text") -> pt.Transformer:
    """Re-rank with a RankT5 encoder (T5 encoder, first token, dense or linear-layernorm-linear head)."""
    return _load(RankT5Encoder, locals())


@component("monot5")
def _monot5(ctx: Context, *, model: str, backbone: str | None = None, precision: Precision | None = None,
            batch_size: int = 32, query_max_length: int = 64, doc_max_length: int | None = None,
            max_length: int = 512, normalise: NormaliseName | None = None,
            text_field: str = "text") -> pt.Transformer:
    """Re-rank with monoT5 (score: log P(true) at the first decoder step)."""
    return _load(MonoT5, locals())
