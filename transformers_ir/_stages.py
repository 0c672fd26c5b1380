"""What the families' PyTerrier stages share: a stage of one model is equal (and hashed) by its configuration and
reports the model's precision (:class:`ModelStage`); an encoder stage adds one representation per query or
document, in frames and streamed for indexers (:class:`EncoderStage`). The families say only how their model
encodes and what the columns are called (SPLADE's ``query_toks`` / ``toks``, the bi-encoder's ``query_vec`` /
``doc_vec``)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import pandas as pd
import pyterrier as pt

from transformers_ir._batching import CHUNK_BATCHES, chunked
from transformers_ir._quiet import SCREEN
from transformers_ir._validate import check_encoder_input, stage_repr


class ModelStage(pt.Transformer):
    """A stage of one model, held in the attribute (and constructor argument) :attr:`MODEL_ARG`: equal to another
    of its type with the same :meth:`_config`, and reporting the model's precision choice."""

    #: The attribute and constructor argument that hold the model (``pt.inspect`` rebuilds stages from them).
    MODEL_ARG = "model"

    @property
    def stage_model(self):
        """The model this stage runs."""
        return getattr(self, self.MODEL_ARG)

    def _config(self) -> tuple:
        raise NotImplementedError

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and self._config() == other._config()

    def __hash__(self) -> int:
        return hash(self._config())

    @property
    def precision_choice(self):
        """The model's :class:`~transformers_ir._device.PrecisionChoice` (recorded in the experiment manifest)."""
        return self.stage_model.precision_choice


class EncoderStage(ModelStage):
    """Adds the query representation to queries (``rep='query'``, read from ``query``) or the document one to
    documents (``rep='doc'``, read from ``text_field``). A missing query (None/NaN) is refused: there is nothing to
    retrieve for.

    Args:
        model: the model (its family's ``encode`` is called through :meth:`encode_texts`).
        rep: ``'query'`` or ``'doc'``.
        text_field: the documents' text column.
        batch_size: texts per forward pass (default: the model's).
        verbose: show progress (default: the model's).
    """

    #: The output columns for queries and for documents.
    OUT_FIELDS: tuple[str, str] = ("query_rep", "doc_rep")
    #: The family's name on progress bars.
    LABEL = "encoder"

    def __init__(self, model, *, rep: str = "doc", text_field: str = "text", batch_size: int | None = None,
                 verbose: bool | None = None):
        setattr(self, self.MODEL_ARG, model)
        self.rep = rep
        self.text_field = "query" if rep == "query" else text_field
        self.out_field = self.OUT_FIELDS[0] if rep == "query" else self.OUT_FIELDS[1]
        self.batch_size = batch_size
        self.verbose = verbose

    def encode_texts(self, texts: list[str], verbose: bool | None) -> Sequence:
        """One representation per text (the family's encoding)."""
        raise NotImplementedError

    def as_column(self, values: Sequence, index: pd.Index):
        """What :meth:`encode_texts` gave, as a frame column."""
        return list(values)

    def _encode(self, texts: list[str], verbose: bool | None = None) -> Sequence:
        return self.encode_texts(texts, self.verbose if verbose is None else verbose)

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        check_encoder_input(inp, self.rep, self.text_field)
        if len(inp) == 0:
            return inp.assign(**{self.out_field: pd.Series(dtype=object)})
        return inp.assign(**{self.out_field: self.as_column(self._encode(inp[self.text_field].tolist()), inp.index)})

    def transform_iter(self, inp: Iterable[dict]) -> Iterator[dict]:
        """Streams queries or documents (dicts) with the representation added, a few batches at a time: feeds an
        indexer with memory bounded by the chunk, whatever the corpus's size."""
        chunk_size = (self.batch_size or self.stage_model.batch_size) * CHUNK_BATCHES
        verbose = self.stage_model.verbose if self.verbose is None else self.verbose
        docs = pt.tqdm(inp, desc=f"{self.LABEL} {self.rep} encoding", unit=self.rep, file=SCREEN) if verbose else inp
        for chunk in chunked(docs, chunk_size):
            for doc in chunk:
                if self.text_field not in doc:
                    raise KeyError(f"{self.rep} {doc.get('docno', doc.get('qid', '?'))!r} has no "
                                   f"{self.text_field!r} field (fields: {sorted(doc)}): give "
                                   f"doc_encoder(text_field=...)")
                if self.rep == "query" and pd.isna(doc[self.text_field]):
                    raise ValueError(f"query {doc.get('qid', '?')!r} is missing (None/NaN): fill it or drop it")
            values = self._encode([d[self.text_field] for d in chunk], verbose=False)
            for doc, value in zip(chunk, values):
                yield {**doc, self.out_field: value}

    def _config(self) -> tuple:
        return (self.stage_model, self.rep, self.text_field, self.batch_size)

    def cache_key(self) -> dict:
        """What decides the representations: the model's side for this rep and its settings, the text field."""
        return {**self.stage_model.cache_key(self.rep), "rep": self.rep, "text_field": self.text_field}

    def __repr__(self) -> str:
        if self.rep == "query":
            return stage_repr(self.stage_model, "query_encoder", batch_size=self.batch_size)
        text_field = None if self.text_field == "text" else self.text_field
        return stage_repr(self.stage_model, "doc_encoder", text_field=text_field, batch_size=self.batch_size)
