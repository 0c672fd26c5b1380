"""BERT_Cat (Hofstätter et al. 2020, arXiv 2010.02666): a (Distil)BERT encoder over ``[CLS] q [SEP] d [SEP]``,
the CLS vector of the last hidden state through one ``Linear(hidden, 1)``."""
from __future__ import annotations

import inspect
import os
from pathlib import Path

import torch
from torch import nn

from transformers_ir import _checkpoint
from transformers_ir._jsonfile import read_json
from transformers_ir.cross_encoders._base import Reranker
from transformers_ir.models import resolve_model


class BertCatModel(nn.Module):
    """The BERT_Cat network, with the published parameter names: the encoder under ``bert_model``, the head as
    ``_classification_layer`` (so ``sebastian-hofstaetter/distilbert-cat-margin_mse-T2-msmarco`` loads as it is).
    ``forward`` returns one score per pair.

    Args:
        bert_model: the (Distil)BERT encoder (``AutoModel``).
    """

    def __init__(self, bert_model: nn.Module):
        super().__init__()
        self.bert_model = bert_model
        self._classification_layer = nn.Linear(bert_model.config.hidden_size, 1)
        self._takes_types = "token_type_ids" in inspect.signature(bert_model.forward).parameters

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        extra = {"token_type_ids": token_type_ids} if token_type_ids is not None and self._takes_types else {}
        hidden = self.bert_model(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
        return self._classification_layer(hidden[:, 0, :]).squeeze(-1)


class BertCat(Reranker):
    """BERT_Cat re-ranker: :class:`BertCatModel` over the tokenizer's pair template.

    Score (:attr:`SCORE_KIND` ``'logit'``): the head's output, an unbounded relevance score (the published models
    are trained with Margin-MSE, so ``normalise='sigmoid'`` is monotone but not a calibrated probability).

    Example::

        reranker = BertCat.from_pretrained("sebastian-hofstaetter/distilbert-cat-margin_mse-T2-msmarco")

    Args: as :class:`~transformers_ir.cross_encoders.CrossEncoder`, with ``model`` a :class:`BertCatModel`.
    """

    ARCHITECTURE = "bert-cat"
    SCORE_KIND = "logit"

    def _prepare(self) -> None:
        if not isinstance(self.model, BertCatModel):
            raise TypeError(f"BertCat needs a BertCatModel, got {type(self.model).__name__}: wrap the encoder, "
                            "BertCatModel(AutoModel.from_pretrained(...))")

    def _score(self, model: torch.nn.Module, features: dict[str, torch.Tensor]) -> torch.Tensor:
        return model(**features).float()

    def _save_model(self, path: Path) -> None:
        self.model.bert_model.config.save_pretrained(path)
        _checkpoint.save_weights(self.model, path)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *, backbone: str | None = None,
                        num_hidden_layers: int | None = None, layers: list[int] | None = None,
                        trust_remote_code: bool = False, **kwargs) -> BertCat:
        """Load a BERT_Cat checkpoint: the published layout (``config.json`` whose ``bert_model`` names the
        backbone, weights ``bert_model.*`` and ``_classification_layer.*``) or one saved by
        :meth:`save_pretrained`. The backbone's config (and tokenizer, when the checkpoint has none) come from
        ``backbone``, default the config's ``bert_model``. ``num_hidden_layers`` / ``layers`` keep some of the
        encoder's layers (as :meth:`CrossEncoder.from_pretrained`). Other keywords are the constructor's."""
        from transformers import AutoConfig, AutoModel

        path = _checkpoint.checkpoint_dir(name_or_path)
        _checkpoint.require_files(path, ("config.json",), _checkpoint.WEIGHTS_FILES)
        config = read_json(path / "config.json", fix="copy the complete checkpoint folder again")
        backbone = backbone or config.get("bert_model")
        source = resolve_model(backbone) if "bert_model" in config else str(path)
        encoder_config = AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code)
        model = BertCatModel(AutoModel.from_config(encoder_config, trust_remote_code=trust_remote_code,
                                                   dtype=torch.float32))
        _checkpoint.load_weights(model, path)
        tokenizer = _checkpoint.load_tokenizer(path, backbone, trust_remote_code=trust_remote_code)
        name = str(name_or_path)
        if num_hidden_layers is not None or layers is not None:
            _checkpoint.keep_layers(model.bert_model, num_hidden_layers=num_hidden_layers, layers=layers, name=name)
            name = None
        return cls._build(name, model, tokenizer, _checkpoint.read_settings(path), kwargs)
