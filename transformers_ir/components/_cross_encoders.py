"""Components of the cross-encoder family: ``cross-encoder``, ``bert-cat``, ``rankt5``, ``monot5``.

Each takes ``model`` (an offline alias, a hub name in the local cache, or a folder relative to the pipeline file)
and the re-ranker's settings; a re-ranker expects the ``text`` component before it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from transformers_ir import cross_encoders
from transformers_ir._options import Normalise, Precision, RankT5Head
from transformers_ir.registry import Context, component

if TYPE_CHECKING:  # annotations only: listing the components imports neither torch nor PyTerrier
    import pyterrier as pt


def _load(cls_name: str, params: dict) -> pt.Transformer:
    """``from_pretrained`` of the family's class ``cls_name`` with a component's parameters (its ``locals()``):
    ``model`` is looked up relative to the pipeline file first, the other parameters are passed on by name."""
    kwargs = dict(params)
    ctx, model = kwargs.pop("ctx"), kwargs.pop("model")
    local = (ctx.base_dir / model).expanduser()
    cls = getattr(cross_encoders, cls_name)
    return cls.from_pretrained(str(local) if local.is_dir() else model, verbose=ctx.verbose, **kwargs)


@component("cross-encoder")
def _cross_encoder(ctx: Context, *, model: str, precision: Precision | None = None, batch_size: int = 32,
                   query_max_length: int = 64, doc_max_length: int | None = None, max_length: int = 512,
                   normalise: Normalise | None = None, num_labels: int | None = None,
                   text_field: str = "text") -> pt.Transformer:
    """Re-rank with any Hugging Face sequence-classification checkpoint (score: its logit, or the log-odds)."""
    return _load("CrossEncoder", locals())


@component("bert-cat")
def _bert_cat(ctx: Context, *, model: str, backbone: str | None = None, precision: Precision | None = None,
              batch_size: int = 32, query_max_length: int = 64, doc_max_length: int | None = None,
              max_length: int = 512, normalise: Normalise | None = None,
              text_field: str = "text") -> pt.Transformer:
    """Re-rank with BERT_Cat (a (Distil)BERT encoder, CLS vector, one linear layer)."""
    return _load("BertCat", locals())


@component("rankt5")
def _rankt5(ctx: Context, *, model: str, backbone: str | None = None, head: RankT5Head | None = None,
            precision: Precision | None = None, batch_size: int = 32, query_max_length: int = 64,
            doc_max_length: int | None = None, max_length: int = 512, normalise: Normalise | None = None,
            text_field: str = "text") -> pt.Transformer:
    """Re-rank with a RankT5 encoder (T5 encoder, first token, dense or linear-layernorm-linear head)."""
    return _load("RankT5Encoder", locals())


@component("monot5")
def _monot5(ctx: Context, *, model: str, backbone: str | None = None, precision: Precision | None = None,
            batch_size: int = 32, query_max_length: int = 64, doc_max_length: int | None = None,
            max_length: int = 512, normalise: Normalise | None = None,
            text_field: str = "text") -> pt.Transformer:
    """Re-rank with monoT5 (score: log P(true) at the first decoder step)."""
    return _load("MonoT5", locals())
