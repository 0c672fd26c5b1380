"""SPLADE's PyTerrier stages: the query and document encoders and the re-scorer."""
from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd
import pyterrier as pt
import scipy.sparse as sp

from transformers_ir._ranking import rank_results
from transformers_ir._stages import EncoderStage, ModelStage
from transformers_ir._validate import input_error, stage_repr
from transformers_ir.indexes import toks_matrix

if TYPE_CHECKING:  # the family object builds these stages: _model imports this module, not the reverse
    from transformers_ir.splade._model import Splade


class SpladeEncoder(EncoderStage):
    """Adds ``query_toks`` to queries (``rep='query'``) or ``toks`` to documents (``rep='doc'``).
    Built by :meth:`Splade.query_encoder` / :meth:`Splade.doc_encoder`.

    Args:
        splade: the model.
        rep: ``'query'`` or ``'doc'``.
        text_field: the documents' text column (queries are read from ``query``).
        batch_size: texts per forward pass (default: the model's).
        verbose: show progress (default: the model's).
    """

    MODEL_ARG = "splade"
    OUT_FIELDS = ("query_toks", "toks")
    LABEL = "SPLADE"

    def __init__(self, splade: Splade, *, rep: str = "doc", text_field: str = "text", batch_size: int | None = None,
                 verbose: bool | None = None):
        super().__init__(splade, rep=rep, text_field=text_field, batch_size=batch_size, verbose=verbose)

    def encode_texts(self, texts: list[str], verbose: bool | None) -> list[dict[str, float]]:
        return self.splade.encode_toks(texts, self.rep, batch_size=self.batch_size, verbose=verbose)


class SpladeScorer(ModelStage):
    """Re-ranks a result frame (``qid, query, docno`` + text) by the sparse dot product of SPLADE weights.
    Each distinct query and document is encoded once. Built by :meth:`Splade.scorer`.

    Args:
        splade: the model.
        text_field: the documents' text column.
        text_loader: fetches the text when the frame lacks it.
        doc_weights: the documents' stored weights (:func:`dataset_doc_weights`), used when they cover the frame.
        batch_size: texts per forward pass (default: the model's).
        verbose: show progress (default: the model's).
    """

    MODEL_ARG = "splade"

    def __init__(self, splade: Splade, *, text_field: str = "text", text_loader: pt.Transformer | None = None,
                 doc_weights=None, batch_size: int | None = None, verbose: bool | None = None):
        self.splade = splade
        self.text_field = text_field
        self.text_loader = text_loader
        self.doc_weights = doc_weights
        self.batch_size = batch_size
        self.verbose = verbose

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        pt.validate.result_frame(inp, extra_columns=["query"])
        if len(inp) == 0:
            return inp.assign(score=pd.Series(dtype="float64"), rank=pd.Series(dtype="int64"))
        stored = None
        if "toks" not in inp.columns and self.doc_weights is not None:
            docnos = inp["docno"].drop_duplicates()
            matrix = self.doc_weights.rows(docnos)
            stored = None if matrix is None else _Rows(pd.Index(docnos), sp.csr_matrix(matrix))
        fetched = False
        if stored is None and "toks" not in inp.columns and self.text_field not in inp.columns:
            if self.text_loader is None:
                raise input_error(f"column {self.text_field!r} missing: add "
                                  "transformers_ir.data.text_loader(dataset) before the scorer, or build it with "
                                  "splade.scorer(text_loader=text_loader(dataset))",
                                  [self.text_field])
            inp = self.text_loader(inp)
            fetched = True
        queries = self._unique(inp, "qid", "query_toks", "query", "query")
        docs = stored if stored is not None else self._unique(inp, "docno", "toks", self.text_field, "doc")
        q_rows = queries.index.get_indexer(inp["qid"])
        d_rows = docs.index.get_indexer(inp["docno"])
        scores = np.asarray(queries.matrix[q_rows].multiply(docs.matrix[d_rows]).sum(axis=1)).ravel()
        out = inp.drop(columns=[self.text_field] if fetched else []).assign(score=scores.astype("float64"))
        return rank_results(out)

    def _unique(self, inp: pd.DataFrame, key: str, toks_col: str, text_col: str, rep: str):
        """The frame's distinct ``key`` values and their weights, as CSR rows over the model's vocabulary."""
        first = inp.drop_duplicates(key)
        verbose = self.verbose
        if toks_col in first.columns:
            lexicon = {term: i for i, term in enumerate(self.splade.vocab.tolist())}
            matrix = toks_matrix(first[toks_col].tolist(), lexicon, grow=False, where=f"{toks_col} of {key}")
        else:
            matrix = self.splade.encode(first[text_col].tolist(), rep, batch_size=self.batch_size, verbose=verbose)
        return _Rows(pd.Index(first[key]), sp.csr_matrix(matrix))

    def _config(self) -> tuple:
        return (self.splade, self.text_field, self.text_loader, self.batch_size)

    def cache_key(self) -> dict:
        """What decides the scores: both sides of the model and their settings, the text field."""
        return {**self.splade.cache_key(), "text_field": self.text_field}

    def __repr__(self) -> str:
        text_field = None if self.text_field == "text" else self.text_field
        return stage_repr(self.splade, "scorer", text_field=text_field, text_loader=self.text_loader,
                     batch_size=self.batch_size)


class _Rows(NamedTuple):
    index: pd.Index
    matrix: sp.csr_matrix
