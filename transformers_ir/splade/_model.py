"""The SPLADE family: one object holding the masked-LM (and an optional query model), the maths, and the stages."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pyterrier as pt
import scipy.sparse as sp
import torch
from torch import nn

from transformers_ir import _checkpoint, _device
from transformers_ir._batching import inverse, longest_first
from transformers_ir._identity import weights_hash
from transformers_ir._options import Precision
from transformers_ir._quiet import SCREEN
from transformers_ir._validate import max_positions, texts_for_model
from transformers_ir.indexes import csr_to_toks
from transformers_ir.splade._pooling import Pooling, check_pooling, fused_max_pool, fused_sum_pool, splade_pool
from transformers_ir.splade._sparsify import prune, to_csr, vocabulary
from transformers_ir.splade._stages import SpladeEncoder, SpladeScorer
from transformers_ir.splade._token_weights import TokenWeights

Rep = Literal["query", "doc"]
_SETTINGS = ("pooling", "query_max_length", "doc_max_length", "query_top_k", "doc_top_k", "threshold")
_DEFAULTS = {"pooling": "max", "query_max_length": 64, "doc_max_length": 256, "query_top_k": None,
             "doc_top_k": None, "threshold": 0.0}


def _check_rep(rep: str) -> str:
    if rep not in ("query", "doc"):
        raise ValueError(f"rep must be 'query' or 'doc', not {rep!r}")
    return rep


@contextlib.contextmanager
def _without_projection(model: nn.Module, parent: nn.Module, attr: str) -> Iterator[None]:
    """Replace the vocabulary projection by the identity, so the model returns the states it would project."""
    projection = getattr(parent, attr)
    setattr(parent, attr, nn.Identity())
    try:
        yield
    finally:
        setattr(parent, attr, projection)


def _projection_site(model: nn.Module) -> tuple[nn.Module, str] | None:
    """Where the masked-LM's output projection (an ``nn.Linear`` hidden -> vocab) sits, or None."""
    getter = getattr(model, "get_output_embeddings", None)
    projection = getter() if getter is not None else None
    if not isinstance(projection, nn.Linear):
        return None
    for module in model.modules():
        for attr, child in module.named_children():
            if child is projection:
                return module, attr
    return None


def _load_mlm(path: str, name: str, trust_remote_code: bool) -> nn.Module:
    """A masked-LM with its trained head; a checkpoint of another head (a classifier) is refused, not loaded with
    a randomly initialised MLM head."""
    from transformers import AutoConfig, AutoModelForMaskedLM

    problem = f"{name!r} is not a masked-language-model checkpoint"
    fix = "SPLADE needs one with its MLM head (BertForMaskedLM, DistilBertForMaskedLM, ...)"
    config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    architectures = getattr(config, "architectures", None) or []
    if architectures and not any(a.endswith(("ForMaskedLM", "ForPreTraining")) for a in architectures):
        raise ValueError(f"{problem} (it is a {', '.join(architectures)}): {fix}")
    try:
        model, info = _checkpoint.load_pretrained(AutoModelForMaskedLM, path, trust_remote_code=trust_remote_code)
    except ValueError as e:
        raise ValueError(f"{problem} ({e}): {fix}") from e
    _checkpoint.refuse_missing_weights(info, name, what="masked-language model (SPLADE needs its MLM head)")
    return model


class Splade:
    """A SPLADE model (Formal et al., 2021): a masked-LM whose logits become sparse term weights,
    ``w_j = pool_i log(1 + ReLU(logit_ij))`` over the non-padding tokens ``i`` (max pooling for SPLADE v2/++,
    sum for v1).

    Build it with :meth:`from_pretrained`; its stages are :meth:`query_encoder`, :meth:`doc_encoder` and
    :meth:`scorer`; an index (:class:`transformers_ir.indexes.SparseIndex`) holds the indexer and retriever.

    Args:
        model: the masked-LM (document side, and query side unless ``query_model`` is given).
        tokenizer: its tokenizer.
        query_model: a separate query side: another masked-LM (asymmetric SPLADE) or a
            :class:`TokenWeights` table (inference-free queries). Defaults to ``model``.
        pooling: ``'max'`` or ``'sum'``.
        query_max_length, doc_max_length: tokens kept per query / document (longer texts are truncated).
        query_top_k, doc_top_k: keep only the k largest weights per query / document (None: all).
        threshold: drop weights <= threshold.
        batch_size: texts per forward pass.
        verbose: progress bars (on by default, as in pyterrier_dr and pyterrier_t5; False silences them).
        device: where the models run (default: CUDA when available).
        precision: of encoding (:meth:`encode` and the stages; :meth:`represent`, for training, is always the
            model's own): ``'fp32'`` (exact; the CPU default), ``'bf16'`` (a bf16 copy of the weights made once;
            the GPU default), ``'fp16'`` (GPU autocast), ``'int8'`` (CPU, dynamically quantised linear layers), or
            ``'auto'``: bf16 on a GPU or an AMX CPU, fp32 elsewhere (:func:`transformers_ir._device.choose_precision`;
            the choice and its reason in :attr:`precision_choice` and the ``repr``). Weights come out fp32.
        name: the name the model was loaded by (for ``repr`` and equality).
    """

    #: The settings saved beside the weights and read back by :meth:`from_pretrained`.
    config_keys: tuple[str, ...] = _SETTINGS

    def __init__(self, model: nn.Module, *, tokenizer, query_model: nn.Module | None = None, pooling: Pooling = "max",
                 query_max_length: int = 64, doc_max_length: int = 256, query_top_k: int | None = None,
                 doc_top_k: int | None = None, threshold: float = 0.0, batch_size: int = 32, verbose: bool = True,
                 device: str | torch.device | None = None, name: str | None = None, precision: Precision | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.query_model = model if query_model is None else query_model
        self.pooling = check_pooling(pooling)
        for key, value in {"query_max_length": query_max_length, "doc_max_length": doc_max_length}.items():
            if not isinstance(value, int) or value < 2:
                raise ValueError(f"{key} must be an int >= 2 (room for [CLS] and [SEP]), got {value!r}")
        for key, value in {"query_top_k": query_top_k, "doc_top_k": doc_top_k}.items():
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{key} must be a positive int or None (keep all terms), got {value!r}")
        if not isinstance(threshold, (int, float)) or not threshold >= 0:
            raise ValueError(f"threshold must be a number >= 0, got {threshold!r}")
        # a model with learned positions takes no longer input (as the cross-encoders, lengths are capped)
        limit = min(filter(None, (max_positions(m) for m in (model, query_model) if isinstance(m, nn.Module))),
                    default=None)
        self.query_max_length = min(query_max_length, limit or query_max_length)
        self.doc_max_length = min(doc_max_length, limit or doc_max_length)
        self.query_top_k = query_top_k
        self.doc_top_k = doc_top_k
        self.threshold = float(threshold)
        self.batch_size = batch_size
        self.verbose = verbose
        self.device = _device.infer_device(device)
        self.name = name
        #: what encoding runs in and why (``'auto'`` is kept as asked, so a rebuilt model chooses again)
        self.precision_choice = _device.choose_precision(precision, self.device)
        self.precision = self.precision_choice.setting
        self._low_precision = {rep: _device.LowPrecisionCopy(self.precision_choice.precision)
                               for rep in ("query", "doc")} if self.precision_choice.precision in ("bf16", "int8") \
            else None
        self.model.to(self.device)
        self.query_model.to(self.device)
        self.vocab = vocabulary(tokenizer)
        special = set(tokenizer.all_special_ids) - {tokenizer.unk_token_id}  # an unknown word is still content
        self._special_ids = torch.tensor(sorted(special), dtype=torch.long, device=self.device)

    # ---------------------------------------------------------------- loading and saving
    @classmethod
    def from_pretrained(cls, name_or_path: str, *, query_model: str | None = None, pooling: Pooling | None = None,
                        query_max_length: int | None = None, doc_max_length: int | None = None,
                        query_top_k: int | None = None, doc_top_k: int | None = None, threshold: float | None = None,
                        batch_size: int = 32, verbose: bool = True, device: str | torch.device | None = None,
                        precision: Precision | None = None, num_hidden_layers: int | None = None,
                        layers: list[int] | None = None, trust_remote_code: bool = False) -> Splade:
        """Load a masked-LM checkpoint (a Hugging Face name, a local folder, or an alias of
        :mod:`transformers_ir.models` such as ``'splade-tiny'``) as SPLADE.

        Settings not given come from the folder's settings file (written by :meth:`save_pretrained`; see
        :mod:`transformers_ir._checkpoint`),
        else the defaults (max pooling, 64 / 256 tokens). ``query_model`` names a separate query side: a masked-LM,
        a folder saved by :class:`TokenWeights`, or ``'inference-free'`` (uniform token weights); a saved model
        with a ``query/`` sub-folder gets it back.

        ``num_hidden_layers=k`` keeps the first k encoder layers of the masked-LM(s), ``layers=[0, 2, 4]`` those
        layers (a smaller student from a bigger model's body: :func:`transformers_ir._checkpoint.keep_layers`); the
        model then has no name (it is not the checkpoint), and ``save_pretrained`` writes the smaller model.
        """
        path = _checkpoint.checkpoint_dir(name_or_path)
        settings = dict(_DEFAULTS)
        settings.update({k: v for k, v in _checkpoint.read_settings(path).items() if k in cls.config_keys})
        given = {"pooling": pooling, "query_max_length": query_max_length, "doc_max_length": doc_max_length,
                 "query_top_k": query_top_k, "doc_top_k": doc_top_k, "threshold": threshold}
        settings.update({k: v for k, v in given.items() if v is not None})
        model = _load_mlm(str(path), name_or_path, trust_remote_code)
        tokenizer = _checkpoint.load_tokenizer(path, None, trust_remote_code=trust_remote_code)
        _checkpoint.check_tokenizer_fits(tokenizer, getattr(model.config, "vocab_size", None), name_or_path)
        if query_model is None and (path / _checkpoint.QUERY_FOLDER).is_dir():
            query_model = str(path / _checkpoint.QUERY_FOLDER)
        query = None
        if query_model == "inference-free":
            query = TokenWeights.uniform(len(tokenizer))
        elif query_model is not None:
            query_path = _checkpoint.checkpoint_dir(query_model)
            if TokenWeights.is_saved_at(query_path):
                query = TokenWeights.from_pretrained(query_path)
            else:
                query = _load_mlm(str(query_path), query_model, trust_remote_code)
        name = name_or_path
        if num_hidden_layers is not None or layers is not None:
            for mlm in (model, query) if isinstance(query, nn.Module) and not isinstance(query, TokenWeights) \
                    else (model,):
                _checkpoint.keep_layers(mlm, num_hidden_layers=num_hidden_layers, layers=layers, name=str(name))
            name = None
        model.eval()
        if query is not None:
            query.eval()
        return cls(model, tokenizer=tokenizer, query_model=query, batch_size=batch_size, verbose=verbose,
                   device=device, name=name, precision=precision, **settings)

    def save_pretrained(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Hugging Face folder (safetensors) + the settings file (:attr:`config_keys`); a separate query side goes
        in ``query/``. Written atomically; :meth:`from_pretrained` reloads it with the same settings.

        Args:
            path: the folder to write.
            overwrite: replace an existing folder (as the re-rankers).

        Returns:
            ``path``.

        Raises:
            FileExistsError: ``path`` exists and ``overwrite`` is False.
        """
        path = Path(path)
        with _checkpoint.writing(path, overwrite=overwrite) as tmp:
            _checkpoint.save_encoders(tmp, self.model, self.tokenizer, self.query_model)
            _checkpoint.write_settings(tmp, "splade", self.settings())
        return path

    def settings(self) -> dict:
        """The settings that travel with the weights (:attr:`config_keys`), by name.

        Returns:
            ``{"pooling": ..., "query_max_length": ..., ...}``.
        """
        return {key: getattr(self, key) for key in self.config_keys}

    @property
    def asymmetric(self) -> bool:
        """Whether the query side is another model than the document side."""
        return self.query_model is not self.model

    # ---------------------------------------------------------------- the maths
    def tokenize(self, texts: Sequence[str], rep: Rep = "doc"):
        """Tokenizer features (padded, truncated to the rep's max length) on the model's device."""
        max_length = self.query_max_length if _check_rep(rep) == "query" else self.doc_max_length
        # right padding: encoders with absolute positions would otherwise weigh a text by its batch-mates' lengths
        features = self.tokenizer(list(texts), padding=True, truncation=True, max_length=max_length,
                                  padding_side="right", return_tensors="pt")
        return features.to(self.device)

    def _content(self, features) -> torch.Tensor:
        """``[batch, length]``: 1 for the tokens that are neither padding nor special."""
        content = ~torch.isin(features["input_ids"], self._special_ids) & features["attention_mask"].bool()
        return content.long()

    def _has_content(self, features) -> torch.Tensor:
        """Rows with at least one non-special, non-padding token: an empty (or all-special) text weighs nothing."""
        return self._content(features).any(dim=1, keepdim=True)

    def represent(self, features, rep: Rep = "doc") -> torch.Tensor:
        """``[batch, vocab]`` SPLADE weights of tokenised texts: the definition, differentiable when grad is on.

        ``log1p(relu(logits))``, masked by the attention mask, pooled over tokens; texts without a content token
        (empty, or only special tokens) get all-zero rows.
        """
        return self._represent(self.query_model if _check_rep(rep) == "query" else self.model, features)

    def _represent(self, model: nn.Module, features) -> torch.Tensor:
        if isinstance(model, TokenWeights):  # special tokens carry no query term
            weights = model(features["input_ids"], self._content(features))
        else:
            logits = model(**features).logits
            weights = splade_pool(logits, features["attention_mask"], self.pooling)
        return weights.float() * self._has_content(features)

    def _inference_model(self, rep: Rep) -> nn.Module:
        """The module that encodes ``rep``: a bf16 or int8 copy of it, made once and rebuilt only when its
        weights change (as the re-rankers', :class:`transformers_ir._device.LowPrecisionCopy`); the model itself
        in fp32, fp16 (under autocast) and for a :class:`TokenWeights` table (a lookup, nothing to speed up)."""
        model = self.query_model if rep == "query" else self.model
        if self._low_precision is None or isinstance(model, TokenWeights):
            return model
        return self._low_precision[rep].get(model)

    def _infer(self, features, rep: Rep, model: nn.Module | None = None) -> torch.Tensor:
        """:meth:`represent` without gradients, by ``model`` (default: the rep's own; :meth:`encode` gives its
        low-precision copy), through the fused pooling when the model allows it."""
        if model is None:
            model = self.query_model if rep == "query" else self.model
        site = None if isinstance(model, TokenWeights) else _projection_site(model)
        if site is None:
            return self._represent(model, features)
        projection = getattr(*site)
        with _without_projection(model, *site):
            hidden = model(**features).logits
        if hidden.shape[-1] != projection.in_features:  # a head that does more after the projection
            return self._represent(model, features)
        pool = fused_max_pool if self.pooling == "max" else fused_sum_pool
        weights = pool(hidden, features["attention_mask"], projection.weight, projection.bias)
        return weights.float() * self._has_content(features)

    def encode(self, texts: Sequence[str], rep: Rep = "doc", *, batch_size: int | None = None,
               verbose: bool | None = None, pruned: bool = True) -> sp.csr_matrix:
        """SPLADE weights of texts as a ``[len(texts), vocab]`` CSR matrix (float32), in input order.

        Equal (to float rounding) to :meth:`represent`, computed without the ``batch x length x vocab`` logits;
        texts are batched by length to waste little padding. With ``pruned`` the rep's top-k and threshold apply.
        """
        rep = _check_rep(rep)
        texts = texts_for_model(texts)
        batch_size = batch_size or self.batch_size
        verbose = self.verbose if verbose is None else verbose
        top_k = (self.query_top_k if rep == "query" else self.doc_top_k) if pruned else None
        threshold = self.threshold if pruned else 0.0
        order = longest_first([len(t) for t in texts])
        parts = []
        batches = range(0, len(texts), batch_size)
        if verbose:
            batches = pt.tqdm(batches, desc=f"SPLADE {rep} encoding", unit="batch", file=SCREEN)
        own = self.query_model if rep == "query" else self.model
        with _device.eval_mode(own), torch.inference_mode(), \
                _device.autocast(self.device, self.precision_choice.precision):
            model = self._inference_model(rep)
            for start in batches:
                batch = [texts[i] for i in order[start:start + batch_size]]
                weights = self._infer(self.tokenize(batch, rep), rep, model)
                parts.append(to_csr(prune(weights, top_k=top_k, threshold=threshold)))
        if not parts:
            return sp.csr_matrix((0, len(self.vocab)), dtype=np.float32)
        return sp.vstack(parts, format="csr")[inverse(order)]

    def encode_toks(self, texts: Sequence[str], rep: Rep = "doc", **kwargs) -> list[dict[str, float]]:
        """:meth:`encode` as PyTerrier ``{term: weight}`` dicts."""
        return csr_to_toks(self.encode(texts, rep, **kwargs), self.vocab)

    # ---------------------------------------------------------------- stages
    def query_encoder(self, *, batch_size: int | None = None, verbose: bool | None = None) -> pt.Transformer:
        """Adds ``query_toks`` (``{term: weight}``) to a query frame."""
        return SpladeEncoder(self, rep="query", batch_size=batch_size, verbose=verbose)

    def doc_encoder(self, *, text_field: str = "text", batch_size: int | None = None,
                    verbose: bool | None = None) -> pt.Transformer:
        """Adds ``toks`` (``{term: weight}``) to documents; streams (``transform_iter``) into an indexer."""
        return SpladeEncoder(self, rep="doc", text_field=text_field, batch_size=batch_size, verbose=verbose)

    def scorer(self, *, text_field: str = "text", text_loader: pt.Transformer | None = None, doc_weights=None,
               batch_size: int | None = None, verbose: bool | None = None) -> pt.Transformer:
        """Re-ranks a result frame by the sparse dot product of query and document weights. Document text comes
        from ``text_field``, fetched with ``text_loader`` (e.g. ``transformers_ir.data.text_loader(dataset)``)
        when the frame lacks it; ``query_toks`` / ``toks`` already in the frame are used as they are.
        ``doc_weights`` (e.g. :func:`transformers_ir.splade.dataset_doc_weights`) gives the documents' stored
        weights, so that documents an index build encoded are not encoded again."""
        return SpladeScorer(self, text_field=text_field, text_loader=text_loader, doc_weights=doc_weights,
                            batch_size=batch_size, verbose=verbose)

    # ---------------------------------------------------------------- identity
    def cache_key(self, rep: Rep | None = None) -> dict:
        """What decides this model's weights for ``rep`` (both sides when None): for the runner's caches."""
        key = {"model": self.name, "settings": self.settings()}
        if self.precision_choice.precision != "fp32":  # fp32 keys stay as they were before precisions existed
            key["precision"] = self.precision_choice.precision
        if rep in (None, "doc"):
            key["weights"] = weights_hash(self.model)
        if rep in (None, "query"):
            key["query_weights"] = weights_hash(self.query_model)
        return key

    def _key(self) -> tuple:
        def ident(m):
            return id(m) if self.name is None else None

        return (self.name, ident(self.model), self.asymmetric and ident(self.query_model),
                type(self.query_model).__name__, self.precision, *self.settings().values())

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _call_repr(self) -> str:
        """The constructor-like part of the ``repr`` (without :meth:`precision_note`)."""
        shown = [repr(self.name) if self.name is not None else type(self.model).__name__]
        shown += [f"{k}={v!r}" for k, v in self.settings().items() if v != _DEFAULTS[k]]
        if self.asymmetric:
            shown.append(f"query_model={type(self.query_model).__name__}")
        if self.precision != _device.default_precision(self.device):
            shown.append(f"precision={self.precision!r}")
        return f"Splade({', '.join(shown)})"

    def __repr__(self) -> str:
        return self._call_repr() + self.precision_note()

    def precision_note(self) -> str:
        """What ``precision='auto'`` chose here and why (``' [auto: bf16 (...)]'``), shown after the ``repr`` of
        the model and its stages; empty for any other precision."""
        return self.precision_choice.note()
