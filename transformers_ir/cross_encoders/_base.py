"""What every re-ranker shares: validation, streaming in length-sorted batches, precision, normalisation,
ranking, saving. An architecture only says how a pair is laid out (:meth:`Reranker._layout`) and how a padded
batch becomes scores (:meth:`Reranker._score`)."""
from __future__ import annotations

import inspect
import os
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
import pyterrier as pt
import torch

from transformers_ir import _checkpoint, _device
from transformers_ir._batching import longest_first
from transformers_ir._identity import tokenizer_hash, weights_hash
from transformers_ir._options import NORMALISE, Normalise, Precision
from transformers_ir._quiet import SCREEN
from transformers_ir._ranking import check_finite, minmax, rank_results
from transformers_ir._validate import input_error, max_positions, texts_for_model
from transformers_ir.cross_encoders._layout import PairLayout, collate, encode_pairs

ScoreKind = Literal["logit", "log-probability", "probability", "min-max"]
#: Pairs tokenized together, in batches: peak memory follows this times the batch size, not the frame.
CHUNK_BATCHES = 32


class Reranker(pt.Transformer):
    """Base class of the cross-encoder re-rankers (not used directly).

    Subclasses set :attr:`SCORE_KIND` and :attr:`ARCHITECTURE`, and implement :meth:`_score` (and
    :meth:`_layout` when the pair is not laid out by the tokenizer's own template).

    Args: as :class:`~transformers_ir.cross_encoders.CrossEncoder`, the first subclass, documents them.
    """

    #: What a raw score means: ``'logit'`` (a real number, sigmoid gives the model's probability for classifiers
    #: trained pointwise) or ``'log-probability'`` (log P(relevant)).
    SCORE_KIND: ClassVar[ScoreKind] = "logit"
    ARCHITECTURE: ClassVar[str] = ""
    #: The settings saved beside the weights (:mod:`transformers_ir._checkpoint`'s settings file) and read back by
    #: ``from_pretrained``, so a reloaded re-ranker scores identically.
    config_keys: ClassVar[tuple[str, ...]] = ("query_max_length", "doc_max_length", "max_length")

    def __init__(self, model: torch.nn.Module, tokenizer, *, batch_size: int = 32, text_field: str = "text",
                 query_max_length: int = 64, doc_max_length: int | None = None, max_length: int = 512,
                 precision: Precision | None = None, normalise: Normalise | None = None,
                 device: str | torch.device | None = None, verbose: bool = True, name: str | None = None):
        if normalise is not None and normalise not in NORMALISE:
            raise ValueError(f"normalise must be None, 'sigmoid' or 'minmax', got {normalise!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.device = _device.infer_device(device)
        self.model = model.to(self.device)
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.text_field = text_field
        self.query_max_length = query_max_length
        self.doc_max_length = doc_max_length
        # a longer input would fail deep inside the model (position embeddings): keep to what it was built for
        self.max_length = min(max_length, max_positions(model) or max_length)
        #: what runs and why (``precision='auto'`` is kept as asked, so a rebuilt stage chooses again)
        self.precision_choice = _device.choose_precision(precision, self.device)
        self.precision = self.precision_choice.setting
        self.normalise = normalise
        self.verbose = verbose
        self._prepare()
        self._pair_layout = self._layout()
        if query_max_length < 1 or query_max_length + self._pair_layout.num_constant >= self.max_length:
            raise ValueError(
                f"query_max_length={query_max_length} leaves no room for the document within max_length="
                f"{self.max_length} ({self._pair_layout.num_constant} tokens go to the template): lower it"
            )
        self._with_types = "token_type_ids" in getattr(tokenizer, "model_input_names", ())
        self.name = name  # what from_pretrained loaded, for __repr__, equality and cache keys
        self._fitting_batch_size: int | None = None  # remembered after an out-of-memory error
        self._low_precision = {p: _device.LowPrecisionCopy(p) for p in ("bf16", "int8")}

    # -- what an architecture provides -----------------------------------------------------------------------

    def _prepare(self) -> None:
        """Check the model and tokenizer fit the architecture (a clear error when not)."""

    def _layout(self) -> PairLayout:
        """How a pair is laid out; by default the tokenizer's own pair template."""
        return PairLayout.from_tokenizer(self.tokenizer)

    def score_features(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """Scores ``[n]`` (fp32) of a batch from :meth:`tokenize_pairs` by :attr:`model`; differentiable when
        grad is enabled (training calls this; :meth:`transform` runs the same computation)."""
        return self._score(self.model, features)

    def _score(self, model: torch.nn.Module, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """The architecture's scores ``[n]`` (fp32) of a padded batch by ``model`` (:attr:`model` or its
        low-precision copy)."""
        raise NotImplementedError

    # -- inputs ------------------------------------------------------------------------------------------------

    @property
    def score_kind(self) -> str:
        """What the output ``score`` means after normalisation: the architecture's :attr:`SCORE_KIND`,
        ``'probability'`` with ``normalise='sigmoid'``, ``'min-max'`` (0 to 1 within each query) with
        ``'minmax'``."""
        return {"sigmoid": "probability", "minmax": "min-max"}.get(self.normalise, self.SCORE_KIND)

    def _encode(self, queries: Sequence[str], docs: Sequence[str]):
        return encode_pairs(self.tokenizer, self._pair_layout, queries, docs,
                            query_max_length=self.query_max_length, doc_max_length=self.doc_max_length,
                            max_length=self.max_length, with_types=self._with_types)

    def tokenize_pairs(self, queries: Sequence[str], docs: Sequence[str]) -> dict[str, torch.Tensor]:
        """Padded model inputs (on CPU) for pairs: the query whole up to ``query_max_length`` tokens, the
        document truncated to fit ``doc_max_length`` and ``max_length``."""
        if len(queries) != len(docs):
            raise ValueError(f"{len(queries)} queries but {len(docs)} documents: give one query per document")
        return collate(*self._encode(list(queries), list(docs)), self._pad_id)

    @property
    def _pad_id(self) -> int:
        return self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    # -- scoring -----------------------------------------------------------------------------------------------

    def score_pairs(self, queries: Sequence[str], docs: Sequence[str]) -> np.ndarray:
        """Raw scores (float32, in input order) of ``(query, doc)`` pairs, in streamed chunks of length-sorted
        batches, under ``torch.inference_mode`` and the configured precision. ``queries`` and ``docs`` are any
        sliceable sequences (lists, numpy arrays, pandas arrays): only one chunk's strings are copied for the
        tokenizer at a time. A pair given more than once is scored once, so repeated rows get identical scores (two
        copies scored in different rows of a batch can differ in the last bits: matrix kernels block rows
        differently)."""
        if len(queries) != len(docs):
            raise ValueError(f"{len(queries)} queries but {len(docs)} documents: give one query per document")
        repeated = _repeated_pairs(queries, docs)
        if repeated is None:
            return self._score_distinct(queries, docs)
        first, which = repeated
        return self._score_distinct(_take(queries, first), _take(docs, first))[which]

    def _score_distinct(self, queries: Sequence[str], docs: Sequence[str]) -> np.ndarray:
        out = np.empty(len(queries), dtype=np.float32)
        chunk = self.batch_size * CHUNK_BATCHES
        bar = pt.tqdm(total=len(queries), desc=repr(self), unit="pair", file=SCREEN) if self.verbose else None
        was_training = self.model.training
        self.model.eval()
        try:
            model, precision = self._inference_model()
            with torch.inference_mode(), _device.autocast(self.device, precision):
                for start in range(0, len(queries), chunk):
                    ids, types = self._encode(_clean(queries[start:start + chunk]), _clean(docs[start:start + chunk]))
                    self._score_chunk(model, ids, types, out[start:start + chunk], bar)
        finally:
            self.model.train(was_training)
            if bar is not None:
                bar.close()
        return out

    def _inference_model(self) -> tuple[torch.nn.Module, str]:
        """The module that scores and the autocast precision it runs under
        (:func:`transformers_ir._device.inference_module`: a bf16 or int8 copy made once, fp16 autocast, fp32
        :attr:`model` itself)."""
        return _device.inference_module(self.model, self.precision_choice.precision, self.device, self._low_precision)

    def _score_chunk(self, model, ids, types, out: np.ndarray, bar) -> None:
        """Score one tokenized chunk into ``out``: longest pairs first (an out-of-memory error comes at once),
        each batch padded only to its own longest pair."""
        order = longest_first(np.fromiter(map(len, ids), dtype=np.int64, count=len(ids)))
        done = 0
        while done < len(order):
            size = self._fitting_batch_size or self.batch_size
            rows = order[done:done + size]
            features = collate(ids, types, self._pad_id, rows)
            try:
                scores = self._score(model, {k: v.to(self.device) for k, v in features.items()})
            except torch.OutOfMemoryError:
                if size == 1:
                    raise
                self._fitting_batch_size = size // 2
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            out[rows] = scores.float().cpu().numpy()
            done += len(rows)
            if bar is not None:
                bar.update(len(rows))

    # -- the transformer ---------------------------------------------------------------------------------------

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        """Score every row of a result frame (``qid, query, docno`` and the text field); the same rows with a
        new ``score`` and ``rank`` (score descending, ties by docno)."""
        _validate(inp, self.text_field)
        if len(inp) == 0:
            return rank_results(inp.assign(score=pd.Series(dtype="float64")))
        # the columns' own arrays (sliced per chunk), not lists: a list of a 1M-row column is 8 MB more, its cleaned
        # copy 8 MB again, and an Arrow string column would become 1M Python strings at once
        scores = self.score_pairs(inp["query"].array, inp[self.text_field].array).astype(np.float64)
        out = inp.assign(score=scores)
        if self.normalise is not None:
            out["score"] = normalise_scores(out, self.normalise, self.SCORE_KIND)
        check_finite(out, repr(self))
        return rank_results(out)

    # -- configuration -----------------------------------------------------------------------------------------

    def _settings(self) -> dict:
        """Constructor settings (all but the model and tokenizer), by name."""
        params = list(inspect.signature(type(self).__init__).parameters)[3:]
        return {name: getattr(self, name) for name in params}

    def _non_default(self) -> dict:
        defaults = {n: p.default for n, p in inspect.signature(type(self).__init__).parameters.items()}
        defaults["max_length"] = min(defaults["max_length"], max_positions(self.model) or defaults["max_length"])
        settings = self._settings()
        del settings["name"]  # shown as from_pretrained's argument
        settings["device"] = None if self.device == _device.infer_device() else str(self.device)
        if self.precision == _device.default_precision(self.device):
            settings["precision"] = None
        return {k: v for k, v in settings.items() if v != defaults[k]}

    def __repr__(self) -> str:
        args = "".join(f", {k}={v!r}" for k, v in self._non_default().items())
        chose = self.precision_choice.note()  # auto runs another precision on another machine: say which, why
        if self.name is not None:
            return f"{type(self).__name__}.from_pretrained({self.name!r}{args}){chose}"
        return f"{type(self).__name__}({type(self.model).__name__}(...){args}){chose}"

    def _key(self) -> tuple:
        settings = {k: str(v) if isinstance(v, torch.device) else v for k, v in self._settings().items()}
        settings.pop("verbose")
        return type(self).__name__, self.name or id(self.model), tuple(sorted(settings.items(), key=str))

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other._key() == self._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def cache_key(self) -> dict:
        """What decides the scores, for caches keyed on the model (``transformers_ir.caching``): the name, the
        weights and tokenizer hashes, the weights' dtype, the precision and every setting but batch size,
        device and verbosity."""
        settings = {k: v for k, v in self._settings().items()
                    if k not in ("batch_size", "device", "verbose", "name")}  # the name is "model"
        settings["precision"] = self.precision_choice.precision  # what ran: 'auto' is fp32 here, bf16 elsewhere
        return {"model": self.name, "architecture": self.ARCHITECTURE, "weights": weights_hash(self.model),
                "tokenizer": tokenizer_hash(self.tokenizer), "dtype": str(next(self.model.parameters()).dtype),
                **settings}

    # -- saving and loading ------------------------------------------------------------------------------------


    def save_pretrained(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the weights (safetensors), config, tokenizer and the settings file (:attr:`config_keys` and the
        score kind) to ``path``, atomically. Reload with ``from_pretrained(path)``.

        Args:
            path: the folder to write.
            overwrite: replace an existing folder.

        Returns:
            ``path``.

        Raises:
            FileExistsError: ``path`` exists and ``overwrite`` is False.
        """
        path = Path(path)
        with _checkpoint.writing(path, overwrite=overwrite) as tmp:
            self._save_model(tmp)
            self.tokenizer.save_pretrained(tmp)
            settings = {key: getattr(self, key) for key in self.config_keys}
            _checkpoint.write_settings(tmp, self.ARCHITECTURE, {**settings, "score_kind": self.SCORE_KIND})
        return path

    def _save_model(self, path: Path) -> None:
        self.model.save_pretrained(path)

    @classmethod
    def _build(cls, source: str, model, tokenizer, saved: dict, kwargs: dict) -> Reranker:
        """The re-ranker from loaded parts: saved settings first, then the caller's keywords."""
        settings = {k: saved[k] for k in Reranker.config_keys if k in saved}  # the constructor's; a subclass's own
        # keys (RankT5's head) are read by its from_pretrained
        settings.update(kwargs)
        return cls(model, tokenizer, name=source, **settings)


def normalise_scores(frame: pd.DataFrame, how: str, kind: str) -> pd.Series:
    """Scores made comparable across queries or models.

    Args:
        frame: a result frame (``qid``, ``score``).
        how: ``'sigmoid'``: the probability the score stands for (sigmoid of a logit, exp of a log-probability);
            ``'minmax'``: each query's scores mapped to [0, 1] by :func:`transformers_ir._ranking.minmax` (1.0 when
            a query's scores are all equal, the library's one tie rule, shared with fusion).
        kind: what the raw scores are (:attr:`Reranker.SCORE_KIND`).

    Returns:
        The normalised scores, aligned with ``frame``.
    """
    score = frame["score"]
    if how == "sigmoid":
        return np.exp(score) if kind == "log-probability" else 1.0 / (1.0 + np.exp(-score))
    return pd.Series(minmax(score, frame["qid"]), index=frame.index)


def _repeated_pairs(queries: Sequence, docs: Sequence) -> tuple[np.ndarray, np.ndarray] | None:
    """``(first, which)`` when some ``(query, doc)`` pair occurs more than once: the row of each distinct pair's
    first occurrence, and for every row the index of its pair in ``first``. ``None`` when every pair is distinct.
    Integer codes only (a few int64 arrays of the input's length): the strings are hashed, never copied."""
    query_codes, _ = _factorize(queries)  # a missing value (None, NaN, pd.NA) is -1
    doc_codes, doc_values = _factorize(docs)
    pair_codes = (query_codes.astype(np.int64) + 1) * (len(doc_values) + 1) + (doc_codes + 1)
    del query_codes, doc_codes
    which, distinct = pd.factorize(pair_codes)  # codes in order of first appearance
    if len(distinct) == len(pair_codes):
        return None
    first = np.unique(which, return_index=True)[1]
    return first, which


def _factorize(values: Sequence):
    return pd.factorize(values if hasattr(values, "dtype") else np.asarray(values, dtype=object))


def _take(values: Sequence, rows: np.ndarray):
    """``values`` at ``rows`` (numpy and pandas arrays take; other sequences are indexed one by one)."""
    return values.take(rows) if hasattr(values, "take") else [values[i] for i in rows]


def _clean(texts: Sequence) -> list[str]:
    """Strings for the tokenizer: missing values (None, NaN) become empty strings, others ``str``, invalid
    Unicode replaced."""
    return texts_for_model(texts)


def _validate(inp: pd.DataFrame, text_field: str) -> None:
    missing = [c for c in ("query", text_field) if c not in inp.columns]
    if missing:
        hint = (f"add `pt.text.get_text(dataset, {text_field!r})` (or transformers_ir.data.text_loader(dataset)) "
                "before the re-ranker" if text_field in missing else "the input must carry each query's text")
        raise input_error(f"column(s) {missing} missing: {hint}", missing)
    pt.validate.result_frame(inp, extra_columns=["query", text_field])
