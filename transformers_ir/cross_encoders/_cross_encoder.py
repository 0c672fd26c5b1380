"""Any Hugging Face sequence-classification checkpoint as a re-ranker."""
from __future__ import annotations

import os

import torch

from transformers_ir import _checkpoint
from transformers_ir.cross_encoders._base import Reranker


class CrossEncoder(Reranker):
    """A re-ranker over any ``AutoModelForSequenceClassification`` checkpoint (cross-encoder/ms-marco-MiniLM-L-6-v2,
    BAAI/bge-reranker-base, a DeBERTa-v3 re-ranker, ...): the pair goes in as the tokenizer lays it out
    (``[CLS] q [SEP] d [SEP]``, ``<s> q </s></s> d </s>``).

    Score (:attr:`SCORE_KIND` ``'logit'``): with one label, that logit; with two, the relevant-class logit (label 1)
    minus the other, i.e. the log-odds of relevance. ``normalise='sigmoid'`` turns either into a probability.

    Example::

        reranker = CrossEncoder.from_pretrained("cross-encoder/ms-marco-MiniLM-L-6-v2", precision="bf16")
        pipeline = bm25 % 100 >> pt.text.get_text(dataset, "text") >> reranker

    Args:
        model: a sequence-classification model with 1 or 2 labels (all trainable weights, head included).
        tokenizer: its fast tokenizer.
        batch_size: pairs per forward pass (halved and remembered on a GPU out-of-memory error).
        text_field: the column holding document text.
        query_max_length: the query's tokens kept (the query is never cut to make room for the document).
        doc_max_length: the document's tokens kept at most (None: whatever ``max_length`` leaves).
        max_length: tokens per pair, special tokens included.
        precision: ``'fp32'`` (exact; CPU default); ``'bf16'`` (fast; GPU default: a bf16 copy of the weights
            made once, on a GPU or a CPU with AVX512-BF16/AMX); ``'fp16'`` (GPU autocast); ``'int8'`` (CPU);
            ``'auto'``: bf16 on a GPU or an AMX CPU, fp32 elsewhere, the choice and its reason in
            :attr:`precision_choice` and the ``repr``. Scores are fp32.
        normalise: None, ``'sigmoid'`` (probabilities) or ``'minmax'`` (0 to 1 within each query).
        device: where the model runs (None: CUDA when available, else CPU).
        verbose: a progress bar over the pairs (on by default, as in pyterrier_t5; False silences it).
        name: the checkpoint it was loaded from (``from_pretrained`` sets it): its ``repr``, equality and cache
            key name it, and ``pt.inspect`` rebuilds the re-ranker with it.
    """

    ARCHITECTURE = "cross-encoder"
    SCORE_KIND = "logit"

    def _prepare(self) -> None:
        labels = getattr(self.model.config, "num_labels", None)
        if labels not in (1, 2):
            raise ValueError(f"{type(self.model).__name__} has {labels} labels; a cross-encoder needs 1 (the score) "
                             "or 2 (not relevant, relevant): load it with num_labels=1 to put a new head on it")

    def _score(self, model: torch.nn.Module, features: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = model(**features).logits.float()
        return logits[:, 0] if logits.shape[-1] == 1 else logits[:, 1] - logits[:, 0]

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *, num_labels: int | None = None,
                        num_hidden_layers: int | None = None, layers: list[int] | None = None,
                        trust_remote_code: bool = False, **kwargs) -> CrossEncoder:
        """Load a checkpoint (hub name in the local cache, offline alias such as ``'all-MiniLM-L6-v2'``, or a
        folder). ``num_labels`` puts a new, randomly initialised head on a bare encoder (seed torch first);
        without it, a checkpoint lacking any weight (its classifier included) is refused, naming the keys.
        ``num_hidden_layers=k`` keeps the first k encoder layers, ``layers=[0, 2, 4]`` those layers (a student
        built from its teacher's body: :func:`transformers_ir._checkpoint.keep_layers`); the re-ranker then has
        no name (it is not the checkpoint), and ``save_pretrained`` writes the smaller model.
        Other keywords are the constructor's (``batch_size``, ``precision``, ``max_length``, ...)."""
        from transformers import AutoModelForSequenceClassification

        path = _checkpoint.checkpoint_dir(name_or_path)
        _checkpoint.require_files(path, ("config.json",),
                                  _checkpoint.WEIGHTS_FILES + ("model.safetensors.index.json",))
        extra = {} if num_labels is None else {"num_labels": num_labels}
        model, info = _checkpoint.load_pretrained(AutoModelForSequenceClassification, path, dtype=torch.float32,
                                                  trust_remote_code=trust_remote_code, **extra)
        _checkpoint.refuse_missing_weights(info, str(name_or_path), base_prefix=model.base_model_prefix,
                                           new_head=num_labels is not None, what="sequence classifier")
        tokenizer = _checkpoint.load_tokenizer(path, None, trust_remote_code=trust_remote_code)
        _checkpoint.check_tokenizer_fits(tokenizer, getattr(model.config, "vocab_size", None), str(name_or_path))
        name = str(name_or_path)
        if num_hidden_layers is not None or layers is not None:
            _checkpoint.keep_layers(model, num_hidden_layers=num_hidden_layers, layers=layers, name=name)
            name = None
        return cls._build(name, model, tokenizer, _checkpoint.read_settings(path), kwargs)
