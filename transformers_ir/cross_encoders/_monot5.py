"""monoT5 (Nogueira et al. 2020; castorini/monot5-*): a T5 sequence-to-sequence model reads
``Query: q Document: d Relevant:`` and the score is how strongly its first output token is ``true`` over ``false``."""
from __future__ import annotations

import os

import torch

from transformers_ir import _checkpoint
from transformers_ir.cross_encoders._base import Reranker
from transformers_ir.cross_encoders._layout import PairLayout


class MonoT5(Reranker):
    """monoT5 re-ranker over a ``T5ForConditionalGeneration``.

    Score (:attr:`SCORE_KIND` ``'log-probability'``): log P(``true``) from the softmax over the ``true`` and
    ``false`` token logits at the first decoder step (the castorini convention). ``normalise='sigmoid'`` gives
    P(``true``) itself.

    Example::

        reranker = MonoT5.from_pretrained("castorini/monot5-base-msmarco", backbone="t5-base")

    Args: as :class:`~transformers_ir.cross_encoders.CrossEncoder`, with ``model`` a T5ForConditionalGeneration
    whose tokenizer has ``true`` and ``false`` as single tokens.
    """

    ARCHITECTURE = "monot5"
    SCORE_KIND = "log-probability"
    #: Text before the query, between query and document, after the document (then the end token ``</s>``).
    TEMPLATE = ("Query:", "Document:", "Relevant:")

    def _prepare(self) -> None:
        ids = [self.tokenizer(word, add_special_tokens=False)["input_ids"] for word in ("false", "true")]
        if any(len(i) != 1 for i in ids):
            raise ValueError(f"monoT5 needs 'true' and 'false' to be single tokens, but this tokenizer splits them "
                             f"into {ids}: use the T5 tokenizer the model was trained with")
        self._label_ids = [i[0] for i in ids]
        if self.model.config.decoder_start_token_id is None:
            raise ValueError("the model's config has no decoder_start_token_id: is it a T5 seq2seq model?")

    def _layout(self) -> PairLayout:
        return PairLayout.from_template(self.tokenizer, *self.TEMPLATE)

    def _score(self, model: torch.nn.Module, features: dict[str, torch.Tensor]) -> torch.Tensor:
        input_ids = features["input_ids"]
        start = torch.full((input_ids.shape[0], 1), model.config.decoder_start_token_id,
                           dtype=input_ids.dtype, device=input_ids.device)
        logits = model(input_ids=input_ids, attention_mask=features["attention_mask"],
                            decoder_input_ids=start).logits[:, 0, self._label_ids]
        return torch.log_softmax(logits.float(), dim=-1)[:, 1]

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *, backbone: str | None = None,
                        trust_remote_code: bool = False, **kwargs) -> MonoT5:
        """Load a monoT5 checkpoint; its tokenizer, or ``backbone``'s (e.g. ``'t5-base'``) when the checkpoint has
        none. Other keywords are the constructor's."""
        from transformers import T5ForConditionalGeneration

        path = _checkpoint.checkpoint_dir(name_or_path)
        _checkpoint.require_files(path, ("config.json",),
                                  _checkpoint.WEIGHTS_FILES + ("model.safetensors.index.json",))
        model, info = _checkpoint.load_pretrained(T5ForConditionalGeneration, path, dtype=torch.float32,
                                                  trust_remote_code=trust_remote_code)
        _checkpoint.refuse_missing_weights(info, str(name_or_path), what="monoT5 model")
        tokenizer = _checkpoint.load_tokenizer(path, backbone, trust_remote_code=trust_remote_code)
        return cls._build(str(name_or_path), model, tokenizer, _checkpoint.read_settings(path), kwargs)
