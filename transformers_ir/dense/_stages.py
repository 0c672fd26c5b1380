"""The bi-encoder's PyTerrier stages: the query and document encoders (``query_vec`` / ``doc_vec``, as pyterrier_dr
names them) and the re-scorer."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyterrier as pt

from transformers_ir._ranking import rank_results
from transformers_ir._stages import EncoderStage, ModelStage
from transformers_ir._validate import input_error, refuse_missing_queries, stage_repr

if TYPE_CHECKING:  # the family object builds these stages: _model imports this module, not the reverse
    from transformers_ir.dense._model import BiEncoder


def _column(vectors: np.ndarray, index: pd.Index) -> pd.Series:
    """One float32 vector per row (an object column, as pyterrier_dr's)."""
    return pd.Series(list(vectors), index=index, dtype=object)


def stack_vectors(column: pd.Series, name: str) -> np.ndarray:
    """A column of 1-D vectors as a float32 ``[rows, dim]`` matrix.

    Raises:
        ValueError: a row that is not a vector, or rows of different lengths (naming the column).
    """
    try:
        matrix = np.stack([np.asarray(v, dtype=np.float32) for v in column])
    except (ValueError, TypeError) as e:
        raise ValueError(f"column {name!r} must hold one 1-D float vector per row, of one length ({e})") from e
    if matrix.ndim != 2:
        raise ValueError(f"column {name!r} must hold one 1-D float vector per row, got shape {matrix.shape[1:]}")
    return matrix


class DenseEncoder(EncoderStage):
    """Adds ``query_vec`` to queries (``rep='query'``) or ``doc_vec`` to documents (``rep='doc'``).
    Built by :meth:`BiEncoder.query_encoder` / :meth:`BiEncoder.doc_encoder`.

    A missing query (None/NaN) is refused (there is nothing to retrieve for); missing or empty document text is
    encoded as the empty string (see :meth:`BiEncoder.encode`).

    Args:
        model: the bi-encoder.
        rep: ``'query'`` or ``'doc'``.
        text_field: the documents' text column (queries are read from ``query``).
        batch_size: texts per forward pass (default: the model's).
        verbose: show progress (default: the model's).
    """

    OUT_FIELDS = ("query_vec", "doc_vec")
    LABEL = "dense"

    def __init__(self, model: BiEncoder, *, rep: str = "doc", text_field: str = "text",
                 batch_size: int | None = None, verbose: bool | None = None):
        super().__init__(model, rep=rep, text_field=text_field, batch_size=batch_size, verbose=verbose)

    def encode_texts(self, texts: list[str], verbose: bool | None) -> np.ndarray:
        return self.model.encode(texts, self.rep, batch_size=self.batch_size, verbose=verbose)

    def as_column(self, values: np.ndarray, index: pd.Index) -> pd.Series:
        return _column(values, index)


class DenseScorer(ModelStage):
    """Re-ranks a result frame (``qid, query, docno`` + text) by the similarity of query and document vectors.
    Each distinct query and document is encoded once; ``query_vec`` / ``doc_vec`` already in the frame are used.
    Built by :meth:`BiEncoder.scorer`.

    Args:
        model: the bi-encoder.
        text_field: the documents' text column.
        text_loader: fetches the text when the frame lacks it.
        doc_index: a vector index built by this model (:class:`~transformers_ir.indexes.VectorIndex`): the
            documents' stored vectors are used when it holds every document of the frame, so nothing an index
            build encoded is encoded again.
        batch_size: texts per forward pass (default: the model's).
        verbose: show progress (default: the model's).

    Raises:
        IndexMismatch: ``doc_index`` holds another model's vectors.
    """

    def __init__(self, model: BiEncoder, *, text_field: str = "text", text_loader: pt.Transformer | None = None,
                 doc_index=None, batch_size: int | None = None, verbose: bool | None = None):
        if doc_index is not None:
            doc_index.check_model(model.identity)
        self.model = model
        self.text_field = text_field
        self.text_loader = text_loader
        self.doc_index = doc_index
        self.batch_size = batch_size
        self.verbose = verbose
        self._rows: pd.Index | None = None

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        pt.validate.result_frame(inp, extra_columns=[] if "query_vec" in inp.columns else ["query"])
        if len(inp) == 0:
            return inp.assign(score=pd.Series(dtype="float64"), rank=pd.Series(dtype="int64"))
        stored = None if "doc_vec" in inp.columns else self._stored(inp["docno"].drop_duplicates())
        fetched = False
        if stored is None and "doc_vec" not in inp.columns and self.text_field not in inp.columns:
            if self.text_loader is None:
                raise input_error(f"column {self.text_field!r} missing: add transformers_ir.data.text_loader(dataset) "
                                  "before the scorer, or build it with model.scorer(text_loader=text_loader(dataset))",
                                  [self.text_field])
            inp = self.text_loader(inp)
            fetched = True
        if "query_vec" not in inp.columns:
            refuse_missing_queries(inp)
        q_index, queries = self._unique(inp, "qid", "query_vec", "query", "query")
        d_index, docs = stored or self._unique(inp, "docno", "doc_vec", self.text_field, "doc")
        if queries.shape[1] != docs.shape[1]:
            raise ValueError(f"query vectors have {queries.shape[1]} dimensions and document vectors "
                             f"{docs.shape[1]}: they come from different models")
        rows_q, rows_d = q_index.get_indexer(inp["qid"]), d_index.get_indexer(inp["docno"])
        scores = np.einsum("ij,ij->i", queries[rows_q], docs[rows_d])
        out = inp.drop(columns=[self.text_field] if fetched else []).assign(score=scores.astype("float64"))
        return rank_results(out)

    def _stored(self, docnos: pd.Series) -> tuple[pd.Index, np.ndarray] | None:
        """The index's vectors of ``docnos``, or None without an index or when one is not in it."""
        if self.doc_index is None:
            return None
        if self._rows is None:
            self._rows = pd.Index(self.doc_index.docnos.tolist())
        found = self._rows.get_indexer(docnos)
        if (found < 0).any():
            return None
        order = np.argsort(found, kind="stable")  # memory-mapped rows read in file order
        vectors = np.empty((len(found), self.doc_index.dim), dtype=np.float32)
        vectors[order] = self.doc_index.vectors()[found[order]]
        return pd.Index(docnos), vectors

    def _unique(self, inp: pd.DataFrame, key: str, vec_col: str, text_col: str,
                rep: str) -> tuple[pd.Index, np.ndarray]:
        """The frame's distinct ``key`` values and their vectors."""
        first = inp.drop_duplicates(key)
        if vec_col in first.columns:
            return pd.Index(first[key]), stack_vectors(first[vec_col], vec_col)
        return pd.Index(first[key]), self.model.encode(first[text_col].tolist(), rep, batch_size=self.batch_size,
                                                       verbose=self.verbose)

    def _config(self) -> tuple:
        return (self.model, self.text_field, self.text_loader, self.doc_index, self.batch_size)

    def cache_key(self) -> dict:
        """What decides the scores: both sides of the model and their settings, the text field (stored vectors
        are the model's own: the index was built by it)."""
        return {**self.model.cache_key(), "text_field": self.text_field}

    def __repr__(self) -> str:
        text_field = None if self.text_field == "text" else self.text_field
        return stage_repr(self.model, "scorer", text_field=text_field, text_loader=self.text_loader,
                          doc_index=self.doc_index, batch_size=self.batch_size)
