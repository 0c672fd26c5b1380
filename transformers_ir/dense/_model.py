"""The dense bi-encoder family: one object holding the encoder (and an optional query encoder), the maths, and the
stages. Vectors are float32 NumPy rows; an index (:class:`transformers_ir.indexes.VectorIndex`) stores and
searches them by inner product."""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pyterrier as pt
import torch
from torch import nn

from transformers_ir import _checkpoint, _device
from transformers_ir._batching import length_sorted_batches
from transformers_ir._identity import json_hash, tokenizer_hash, weights_hash
from transformers_ir._options import DensePooling, Precision, Similarity, VectorMethod
from transformers_ir._quiet import SCREEN
from transformers_ir._validate import max_positions, texts_for_model
from transformers_ir.dense._pooling import check_pooling, dense_pool, normalise
from transformers_ir.dense._st_format import read_folder, write_folder
from transformers_ir.dense._stages import DenseEncoder, DenseScorer
from transformers_ir.errors import ModelMismatch

Rep = Literal["query", "doc"]
_SETTINGS = ("pooling", "normalize", "similarity", "query_prefix", "doc_prefix", "query_max_length",
             "doc_max_length")
_DEFAULTS = {"pooling": "mean", "normalize": False, "similarity": "dot", "query_prefix": "", "doc_prefix": "",
             "query_max_length": 64, "doc_max_length": 256}


def _check_rep(rep: str) -> str:
    if rep not in ("query", "doc"):
        raise ValueError(f"rep must be 'query' or 'doc', not {rep!r}")
    return rep


def _dimension(model: nn.Module) -> int | None:
    config = getattr(model, "config", None)
    for key in ("hidden_size", "d_model", "dim"):
        value = getattr(config, key, None)
        if isinstance(value, int):
            return value
    return None


def _load_encoder(path: Path, name: str, trust_remote_code: bool) -> nn.Module:
    """The bare encoder (``AutoModel``) of a checkpoint; weights it lacks are refused, except a pooler, which no
    pooling of this family uses (an MLM or a sentence-transformers checkpoint has none)."""
    from transformers import AutoModel

    model, info = _checkpoint.load_pretrained(AutoModel, str(path), trust_remote_code=trust_remote_code)
    info = {**info, "missing_keys": [k for k in info.get("missing_keys") or () if not k.startswith("pooler.")]}
    _checkpoint.refuse_missing_weights(info, name, what="encoder")
    return model.eval()


class BiEncoder:
    """A dense bi-encoder (DPR, Karpukhin et al., 2020; Sentence-BERT, Reimers and Gurevych, 2019): a query and a
    document are each encoded to one vector by a transformer and pooling, and scored by their inner product
    (``similarity='dot'``) or cosine (``'cos'``: the vectors are L2-normalised, so an index scores inner products).

    Build it with :meth:`from_pretrained` (any Hugging Face encoder or sentence-transformers folder); its stages are
    :meth:`query_encoder` (adds ``query_vec``), :meth:`doc_encoder` (adds ``doc_vec``), :meth:`scorer`, and with a
    vector index :meth:`indexer` and :meth:`retriever`. Column names are pyterrier_dr's, so frames mix with its
    stages.

    Args:
        model: the encoder (document side, and query side unless ``query_model`` is given); its output's first
            element is the token states (``last_hidden_state``).
        tokenizer: its tokenizer.
        query_model: a separate query encoder (asymmetric); its vectors must have the document model's dimension.
        pooling: ``'mean'``, ``'cls'`` or ``'last'`` (see :mod:`transformers_ir.dense._pooling`).
        normalize: L2-normalise every vector (sentence-transformers' Normalize module).
        similarity: ``'dot'`` or ``'cos'`` (cosine normalises the vectors too).
        query_prefix, doc_prefix: text put before every query / document (E5 / BGE style ``"query: "``).
        query_max_length, doc_max_length: tokens kept per query / document (the prefix included; longer texts are
            truncated), capped at the model's positions.
        batch_size: texts per forward pass.
        precision: ``'fp32'`` (exact, CPU default), ``'bf16'``, ``'fp16'`` (CUDA), ``'int8'`` (CPU) or
            ``'auto'`` (bf16 on a GPU or an AMX CPU, fp32 elsewhere; the choice and its reason in
            :attr:`precision_choice` and the ``repr``); see :mod:`transformers_ir._device`. Vectors are float32
            whatever the precision.
        device: where the models run (default: CUDA when available).
        verbose: progress bars (on by default, as in pyterrier_dr; False silences them).
        name: the name the model was loaded by (for ``repr`` and equality).

    Raises:
        ModelMismatch: a query model whose dimension differs from the document model's.
    """

    #: The settings saved beside the weights and read back by :meth:`from_pretrained`.
    config_keys: tuple[str, ...] = _SETTINGS

    def __init__(self, model: nn.Module, *, tokenizer, query_model: nn.Module | None = None,
                 pooling: DensePooling = "mean", normalize: bool = False, similarity: Similarity = "dot",
                 query_prefix: str = "", doc_prefix: str = "", query_max_length: int = 64, doc_max_length: int = 256,
                 batch_size: int = 32, precision: Precision | None = None, device: str | torch.device | None = None,
                 verbose: bool = True, name: str | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.query_model = model if query_model is None else query_model
        self.pooling = check_pooling(pooling)
        if similarity not in ("dot", "cos"):
            raise ValueError(f"similarity must be 'dot' or 'cos', not {similarity!r}")
        self.normalize = bool(normalize)
        self.similarity = similarity
        for key, value in {"query_prefix": query_prefix, "doc_prefix": doc_prefix}.items():
            if not isinstance(value, str):
                raise ValueError(f"{key} must be a string, got {value!r}")
        self.query_prefix = query_prefix
        self.doc_prefix = doc_prefix
        for key, value in {"query_max_length": query_max_length, "doc_max_length": doc_max_length}.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 2:
                raise ValueError(f"{key} must be an int >= 2 (room for [CLS] and [SEP]), got {value!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        limit = min(filter(None, (max_positions(m) for m in (model, self.query_model))), default=None)
        self.query_max_length = min(query_max_length, limit or query_max_length)
        self.doc_max_length = min(doc_max_length, limit or doc_max_length)
        self.batch_size = batch_size
        self.device = _device.infer_device(device)
        #: what encoding runs in and why (``'auto'`` is kept as asked, so a rebuilt model chooses again)
        self.precision_choice = _device.choose_precision(precision, self.device)
        self.precision = self.precision_choice.setting
        self.verbose = verbose
        self.name = name
        self.model.to(self.device)
        self.query_model.to(self.device)
        self.dim = self._check_dimensions()
        self._low_precision: dict[Rep, dict] = {"query": {}, "doc": {}}

    def _check_dimensions(self) -> int | None:
        dim = _dimension(self.model)
        if self.asymmetric:
            query_dim = _dimension(self.query_model)
            if None not in (dim, query_dim) and dim != query_dim:
                raise ModelMismatch(
                    f"the query model ({type(self.query_model).__name__}) gives {query_dim}-dimensional vectors "
                    f"and the document model ({self.name or type(self.model).__name__}) {dim}-dimensional ones: "
                    f"their inner product is undefined; give a query model of dimension {dim}")
        return dim

    # ---------------------------------------------------------------- loading and saving
    @classmethod
    def from_pretrained(cls, name_or_path: str, *, query_model: str | None = None,
                        pooling: DensePooling | None = None, normalize: bool | None = None,
                        similarity: Similarity | None = None, query_prefix: str | None = None,
                        doc_prefix: str | None = None, query_max_length: int | None = None,
                        doc_max_length: int | None = None, batch_size: int = 32, precision: Precision | None = None,
                        device: str | torch.device | None = None, verbose: bool = True,
                        trust_remote_code: bool = False) -> BiEncoder:
        """Load any Hugging Face encoder or sentence-transformers folder (a hub name in the local cache, a folder,
        or an alias of :mod:`transformers_ir.models` such as ``'all-MiniLM-L6-v2'``) as a bi-encoder.

        Settings not given come from, in order: the folder's settings file (written by :meth:`save_pretrained`),
        its sentence-transformers files (``modules.json``, ``1_Pooling/config.json``, a Normalize module,
        ``sentence_bert_config.json``'s ``max_seq_length`` for both max lengths, the prompts and similarity of
        ``config_sentence_transformers.json``), else the defaults. A folder that says nothing of its pooling gets
        mean pooling, with a warning. ``query_model`` names a separate query encoder; a saved model with a
        ``query/`` sub-folder gets it back.

        Raises:
            UsageError: a sentence-transformers module or pooling this family does not compute.
            ModelMismatch: a query model whose dimension differs from the document model's.
        """
        path = _checkpoint.checkpoint_dir(name_or_path)
        encoder_path, found = read_folder(path)
        found.update({k: v for k, v in _checkpoint.read_settings(path).items() if k in cls.config_keys})
        given = {"pooling": pooling, "normalize": normalize, "similarity": similarity, "query_prefix": query_prefix,
                 "doc_prefix": doc_prefix, "query_max_length": query_max_length, "doc_max_length": doc_max_length}
        given = {k: v for k, v in given.items() if v is not None}
        if "pooling" not in found and "pooling" not in given:
            warnings.warn(f"{name_or_path!r} has no pooling configuration (no sentence-transformers Pooling module "
                          f"or settings file): using mean pooling; pass pooling='cls' or 'last' if it was trained "
                          f"with another", UserWarning, stacklevel=2)
        settings = {**_DEFAULTS, **found, **given}
        model = _load_encoder(encoder_path, name_or_path, trust_remote_code)
        tokenizer = _checkpoint.load_tokenizer(encoder_path, None, trust_remote_code=trust_remote_code)
        if query_model is None and (path / _checkpoint.QUERY_FOLDER).is_dir():
            query_model = str(path / _checkpoint.QUERY_FOLDER)
        query = None
        if query_model is not None:
            query_path, _ = read_folder(_checkpoint.checkpoint_dir(query_model))
            query = _load_encoder(query_path, query_model, trust_remote_code)
        return cls(model, tokenizer=tokenizer, query_model=query, batch_size=batch_size, precision=precision,
                   device=device, verbose=verbose, name=name_or_path, **settings)

    def save_pretrained(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """A folder that :meth:`from_pretrained` and sentence-transformers both load: the Hugging Face encoder
        (safetensors) and tokenizer, the sentence-transformers modules (pooling, Normalize when normalised, the
        prefixes as the ``query`` / ``document`` prompts, the similarity, ``max_seq_length`` = the document max
        length), and the settings file. A separate query encoder goes in ``query/`` (sentence-transformers loads
        the document side only). Written atomically.

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
            _checkpoint.save_encoders(tmp, self.model, self.tokenizer, self.query_model)
            write_folder(tmp, dim=self.dim or 0, pooling=self.pooling, normalize=self.normalize,
                         similarity=self.similarity, query_prefix=self.query_prefix, doc_prefix=self.doc_prefix,
                         max_seq_length=self.doc_max_length)
            _checkpoint.write_settings(tmp, "bi-encoder", self.settings())
        return path

    def settings(self) -> dict:
        """The settings that travel with the weights (:attr:`config_keys`), by name.

        Returns:
            ``{"pooling": ..., "normalize": ..., ...}``.
        """
        return {key: getattr(self, key) for key in self.config_keys}

    @property
    def asymmetric(self) -> bool:
        """Whether the query side is another model than the document side."""
        return self.query_model is not self.model

    @property
    def normalized(self) -> bool:
        """Whether vectors come out L2-normalised (``normalize``, or cosine similarity)."""
        return self.normalize or self.similarity == "cos"

    # ---------------------------------------------------------------- the maths
    def tokenize(self, texts: Sequence[str], rep: Rep = "doc"):
        """Tokenizer features of texts with the rep's prefix, padded to the longest (right padding) and
        truncated to the rep's max length, on the model's device."""
        query = _check_rep(rep) == "query"
        prefix = self.query_prefix if query else self.doc_prefix
        features = self.tokenizer([prefix + t for t in texts] if prefix else list(texts), padding=True,
                                  truncation=True, max_length=self.query_max_length if query else self.doc_max_length,
                                  padding_side="right", return_tensors="pt")
        return features.to(self.device)

    def represent(self, features, rep: Rep = "doc", *, model: nn.Module | None = None) -> torch.Tensor:
        """``[batch, dim]`` vectors of tokenised texts (:meth:`tokenize`): the definition, differentiable when grad
        is on (training calls this; :meth:`encode` runs the same computation).

        Args:
            features: the tokenizer's output.
            rep: which side encodes them.
            model: the module that runs (default: the rep's model; :meth:`encode` passes a low-precision copy).

        Returns:
            The pooled vectors, normalised when :attr:`normalized`.
        """
        if model is None:
            model = self.query_model if _check_rep(rep) == "query" else self.model
        hidden = model(**features)[0]
        vectors = dense_pool(hidden, features["attention_mask"], self.pooling)
        return normalise(vectors) if self.normalized else vectors

    def encode(self, texts: Sequence[str], rep: Rep = "doc", *, batch_size: int | None = None,
               verbose: bool | None = None) -> np.ndarray:
        """Vectors of texts as a float32 ``[len(texts), dim]`` array, in input order.

        Texts are batched longest first and each batch padded to its own longest text (dynamic padding), under
        ``torch.inference_mode`` in the configured precision. A missing text (None, NaN) or an empty one is
        encoded as the empty string: the model's vector of its special tokens alone, what sentence-transformers
        gives (a corpus with an empty document still indexes; queries are checked by the stages).

        Args:
            texts: the texts.
            rep: ``'query'`` or ``'doc'``.
            batch_size: texts per forward pass (default: the model's).
            verbose: show progress (default: the model's).

        Returns:
            The vectors.
        """
        rep = _check_rep(rep)
        texts = texts_for_model(texts)
        batch_size = batch_size or self.batch_size
        verbose = self.verbose if verbose is None else verbose
        side = self.query_model if rep == "query" else self.model
        batches = length_sorted_batches(texts, batch_size)
        bar = pt.tqdm(total=len(texts), desc=f"{self!r} {rep} encoding", unit=rep, file=SCREEN) if verbose else None
        out = None
        with _device.eval_mode(side):
            module, precision = _device.inference_module(side, self.precision_choice.precision, self.device,
                                                         self._low_precision[rep])
            with torch.inference_mode(), _device.autocast(self.device, precision):
                for rows in batches:
                    vectors = self.represent(self.tokenize([texts[i] for i in rows], rep), rep, model=module)
                    if out is None:
                        out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
                    out[rows] = vectors.float().cpu().numpy()
                    if bar is not None:
                        bar.update(len(rows))
        if bar is not None:
            bar.close()
        return out if out is not None else np.zeros((0, self.dim or 0), dtype=np.float32)

    def score(self, queries: Sequence[str], docs: Sequence[str]) -> np.ndarray:
        """Similarity (float32) of each ``(query, doc)`` pair: inner product of their vectors (cosine when
        :attr:`normalized`)."""
        if len(queries) != len(docs):
            raise ValueError(f"{len(queries)} queries but {len(docs)} documents: give one query per document")
        return np.einsum("ij,ij->i", self.encode(queries, "query"), self.encode(docs, "doc"))

    # ---------------------------------------------------------------- stages
    def query_encoder(self, *, batch_size: int | None = None, verbose: bool | None = None) -> pt.Transformer:
        """Adds ``query_vec`` (a float32 vector per row) to a query frame."""
        return DenseEncoder(self, rep="query", batch_size=batch_size, verbose=verbose)

    def doc_encoder(self, *, text_field: str = "text", batch_size: int | None = None,
                    verbose: bool | None = None) -> pt.Transformer:
        """Adds ``doc_vec`` (a float32 vector per row) to documents; streams (``transform_iter``) into an
        indexer with memory bounded by a few batches."""
        return DenseEncoder(self, rep="doc", text_field=text_field, batch_size=batch_size, verbose=verbose)

    def scorer(self, *, text_field: str = "text", text_loader: pt.Transformer | None = None, doc_index=None,
               batch_size: int | None = None, verbose: bool | None = None) -> pt.Transformer:
        """Re-ranks a result frame by the similarity of query and document vectors. Document text comes from
        ``text_field``, fetched with ``text_loader`` (e.g. ``transformers_ir.data.text_loader(dataset)``) when the
        frame lacks it; ``query_vec`` / ``doc_vec`` already in the frame are used as they are, and so are the
        vectors of ``doc_index`` (a vector index this model built) when it holds every document."""
        return DenseScorer(self, text_field=text_field, text_loader=text_loader, doc_index=doc_index,
                           batch_size=batch_size, verbose=verbose)

    def indexer(self, index, *, text_field: str = "text", batch_size: int | None = None,
                verbose: bool | None = None, overwrite: bool = False, hnsw: bool | dict = False) -> pt.Transformer:
        """Encodes documents into a vector index (:class:`transformers_ir.indexes.VectorIndex`), which records
        this model's :attr:`identity`: ``doc_encoder() >> index.indexer(model_id=identity)``.

        Args:
            index: the vector index to build.
            text_field: the documents' text field.
            batch_size: texts per forward pass.
            verbose: show progress.
            overwrite: replace a built index.
            hnsw: also build an HNSW graph (True, or ``{"M": ..., "ef_construction": ...}``).

        Returns:
            The indexing pipeline (``.index(docs)`` builds it).
        """
        return (self.doc_encoder(text_field=text_field, batch_size=batch_size, verbose=verbose)
                >> index.indexer(model_id=self.identity, overwrite=overwrite, hnsw=hnsw, verbose=verbose))

    def retriever(self, index, num_results: int = 1000, *, method: VectorMethod = "exact",
                  ef_search: int | None = None, batch_size: int | None = None,
                  verbose: bool | None = None) -> pt.Transformer:
        """Retrieval from a vector index built by this model: ``query_encoder() >> index.retriever(...)``.

        Args:
            index: a built vector index.
            num_results: documents per query.
            method: ``'exact'`` or ``'hnsw'`` (the index must hold an HNSW graph).
            ef_search: HNSW's candidate list size (more: slower, closer to exact).
            batch_size: queries per forward pass.
            verbose: show progress.

        Returns:
            The retrieval pipeline.

        Raises:
            IndexMismatch: the index holds another model's vectors (both identities named).
        """
        index.check_model(self.identity)
        return (self.query_encoder(batch_size=batch_size, verbose=verbose)
                >> index.retriever(num_results=num_results, method=method, ef_search=ef_search))

    # ---------------------------------------------------------------- identity
    def _doc_side(self) -> dict:
        return {"weights": weights_hash(self.model), "tokenizer": tokenizer_hash(self.tokenizer),
                "pooling": self.pooling, "normalized": self.normalized, "doc_prefix": self.doc_prefix,
                "doc_max_length": self.doc_max_length}

    @property
    def identity(self) -> str:
        """What decides the document vectors, as a short string an index stores: a hash of the document model's
        weights and tokenizer, the pooling, normalisation, document prefix and max length (not the precision: an
        index built in bf16 serves fp32 queries). Two loads of the same weights (by alias or path) agree."""
        return "bi-encoder-" + json_hash(self._doc_side())[:20]

    def cache_key(self, rep: Rep | None = None) -> dict:
        """What decides this model's vectors for ``rep`` (both sides when None): for the runner's caches."""
        key = {"model": self.name, "settings": self.settings(), "precision": self.precision_choice.precision,
               "tokenizer": tokenizer_hash(self.tokenizer)}
        if rep in (None, "doc"):
            key["weights"] = weights_hash(self.model)
        if rep in (None, "query"):
            key["query_weights"] = weights_hash(self.query_model)
        return key

    def _key(self) -> tuple:
        def ident(m):
            return id(m) if self.name is None else None

        return (self.name, ident(self.model), self.asymmetric and ident(self.query_model), self.precision,
                *self.settings().values())

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return self._call_repr() + self.precision_note()

    def precision_note(self) -> str:
        """What ``precision='auto'`` chose here and why, shown after the ``repr`` of the model and its stages;
        empty for any other precision."""
        return self.precision_choice.note()

    def _call_repr(self) -> str:
        """The constructor-like part of the ``repr`` (without :meth:`precision_note`)."""
        shown = [repr(self.name) if self.name is not None else type(self.model).__name__]
        limit = min(filter(None, (max_positions(m) for m in (self.model, self.query_model))), default=None)
        defaults = {**_DEFAULTS, **{k: min(_DEFAULTS[k], limit or _DEFAULTS[k])
                                    for k in ("query_max_length", "doc_max_length")}}
        shown += [f"{k}={v!r}" for k, v in self.settings().items() if v != defaults[k]]
        if self.precision != _device.default_precision(self.device):
            shown.append(f"precision={self.precision!r}")
        if self.asymmetric:
            shown.append(f"query_model={type(self.query_model).__name__}")
        return f"BiEncoder({', '.join(shown)})"
