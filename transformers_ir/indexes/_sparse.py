"""Inverted indexes of ``{term: weight}`` documents (learned sparse, e.g. SPLADE), and retrieval from them with
``{term: weight}`` queries.

Three engines share one interface (:meth:`SparseIndex.indexer`, :meth:`SparseIndex.retriever`,
:meth:`SparseIndex.stats`): PISA (default, no Java), Terrier (pretokenised), and an exact scipy.sparse matrix, the
brute-force reference. PISA and Terrier store integer impacts ``round(weight * scale)`` (one ``scale``, used for
documents and queries alike); their scores are divided by ``scale ** 2`` so that every engine reports the dot
product of the weights. The exact engine keeps the float weights (or scores with the quantised ones when asked).
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyterrier as pt

from transformers_ir._identity import file_hash
from transformers_ir._jsonfile import read_json
from transformers_ir._quiet import SCREEN, engine_output
from transformers_ir._ranking import rank_results
from transformers_ir._validate import require_columns
from transformers_ir.indexes._artifact import MARKER, IndexArtifact
from transformers_ir.indexes._corpus import CorpusGuard
from transformers_ir.indexes._stats import QueryTermCounts, sparse_stats
from transformers_ir.indexes._toks import DEFAULT_SCALE, check_scale, check_toks, quantise

DF_FILE = "term_df.json"


def quantise_toks(toks: dict, scale: float) -> dict[str, int]:
    """``{term: round(weight * scale)}`` without the terms that round to 0.

    Args:
        toks: ``{term: weight}``.
        scale: the quantisation scale.

    Returns:
        The integer impacts.
    """
    if not toks:
        return {}
    ints = quantise(np.fromiter(toks.values(), dtype=np.float64, count=len(toks)), scale).tolist()
    return {term: q for term, q in zip(toks, ints) if q > 0}


class SparseIndex(IndexArtifact):
    """Base of the SPLADE index engines: builds from ``{docno, toks}`` documents under a temporary name, marked
    complete last (an interrupted build is detected and never opened).

    Args:
        path: the index folder.
        scale: integer quantisation scale for impact engines (default :data:`DEFAULT_SCALE`); an index
            that is built keeps the scale it was built with, and a different explicit one is refused.
        threads: threads for building and retrieval.
    """

    quantised = True

    def __init__(self, path: str | Path, *, scale: float | None = None, threads: int = 1):
        super().__init__(path)
        built_scale = self.metadata.get("scale") if self.built() else None
        if scale is not None and built_scale is not None and float(scale) != float(built_scale):
            raise ValueError(f"{self.path} was built with scale={built_scale}, not {scale}: open it without "
                             f"scale, or rebuild it with overwrite=True")
        self.scale = check_scale(scale if scale is not None else built_scale or DEFAULT_SCALE)
        self.threads = threads
        self._df: dict[str, int] | None = None

    # ---------------------------------------------------------------- building
    def indexer(self, *, overwrite: bool = False, verbose: bool = False) -> SparseIndexer:
        """A ``pt.Indexer`` taking documents with ``docno`` and ``toks`` (e.g. from ``splade.doc_encoder()``)."""
        return SparseIndexer(self, overwrite=overwrite, verbose=verbose)

    def build(self, docs: Iterable[dict], *, overwrite: bool = False, verbose: bool = False) -> SparseIndex:
        """Build the index from ``{docno, toks}`` documents, atomically (see :class:`IndexArtifact`).

        Args:
            docs: the documents (e.g. ``splade.doc_encoder().transform_iter(corpus)``).
            overwrite: replace a built (or interrupted) index.
            verbose: show progress.

        Returns:
            This index, built.
        """
        if verbose:
            docs = pt.tqdm(docs, desc=f"{self.engine} indexing", unit="doc", file=SCREEN)
        # the base class writes these settings into the metadata after _build_into, which adds its counts
        self._settings = {"scale": self.scale}
        self._build(docs, overwrite=overwrite, settings=self._settings)
        self._df = None
        return self

    def _build_into(self, tmp: Path, docs, *, scale: float) -> int:
        guard = CorpusGuard(docs, **self._guard_options())
        df: Counter = Counter()
        totals = {"nnz": 0}

        def checked() -> Iterator[tuple[str, dict]]:
            for doc in guard:
                if "toks" not in doc:
                    raise KeyError(f"document {doc['docno']!r} has no 'toks': encode documents with "
                                   f"splade.doc_encoder() before the indexer")
                toks = check_toks(doc["toks"], f"toks of document {doc['docno']!r}")
                toks = toks if not self.quantised else quantise_toks(toks, scale)
                toks = {t: w for t, w in toks.items() if w}
                df.update(toks.keys())
                totals["nnz"] += len(toks)
                yield doc["docno"], toks

        indexed = self._write(tmp, checked())
        guard.check(indexed)
        (tmp / DF_FILE).write_text(json.dumps(df))
        self._settings.update(postings=totals["nnz"], avg_doc_nnz=totals["nnz"] / max(guard.count, 1))
        return guard.count

    def _guard_options(self) -> dict:
        return {}

    def _write(self, tmp: Path, docs: Iterator[tuple[str, dict]]) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    # ---------------------------------------------------------------- retrieval
    def retriever(self, *, num_results: int = 1000, verbose: bool = False) -> pt.Transformer:
        """Retrieval for queries with ``query_toks`` (e.g. from ``splade.query_encoder()``), scored by the dot
        product of the weights; a query sharing no term with the index gets no results."""
        self.verify()  # raises when not built, or when a file changed since
        return self._retriever_class()(self, num_results=num_results, verbose=verbose)

    def _retriever_class(self) -> type:  # pragma: no cover - abstract
        raise NotImplementedError

    def document_frequencies(self) -> dict[str, int]:
        """How many documents hold each term (with a non-zero stored weight)."""
        if self._df is None:
            _ = self.metadata  # raises, naming the fix, when no complete index is there
            self._df = read_json(self.path / DF_FILE, fix="rebuild the index with overwrite=True")
        return self._df

    def stats(self, query_toks: Iterable[dict] | QueryTermCounts | None = None) -> dict:
        """Index statistics (documents, average non-zeros per document, size on disk, build time) and, given
        queries' ``query_toks`` (or their :class:`QueryTermCounts`), the average non-zeros per query and the
        expected FLOPS per query-document pair."""
        return sparse_stats(self, query_toks)

    def _settings_repr(self) -> str:
        return "" if self.scale == DEFAULT_SCALE else f", scale={self.scale:g}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}{self._settings_repr()})"


class SparseIndexer(pt.Indexer):
    """``index(docs)`` builds the :class:`SparseIndex` and returns it.

    Args:
        sparse_index: the index to build (named so, not ``index``: ``pt.inspect`` reads each constructor argument
            back from the attribute of the same name, and ``index`` is the indexer's method).
        overwrite: replace a built index.
        verbose: show progress.
    """

    def __init__(self, sparse_index: SparseIndex, *, overwrite: bool = False, verbose: bool = False):
        self.sparse_index = sparse_index
        self.overwrite = overwrite
        self.verbose = verbose

    def index(self, iter_dict: Iterable[dict]) -> SparseIndex:
        return self.sparse_index.build(iter_dict, overwrite=self.overwrite, verbose=self.verbose)

    def __eq__(self, other) -> bool:
        same = (other.sparse_index, other.overwrite) == (self.sparse_index, self.overwrite)
        return type(other) is type(self) and same

    def __hash__(self) -> int:
        return hash((self.sparse_index, self.overwrite))

    def __repr__(self) -> str:
        return f"{self.sparse_index!r}.indexer(overwrite={self.overwrite!r})"


class SparseRetriever(pt.Transformer):
    """Base of the engines' retrievers: validation, quantisation of the queries, ranking, statistics.

    Args:
        index: the built :class:`SparseIndex`.
        num_results: results per query.
        verbose: show progress.
    """

    def __init__(self, index: SparseIndex, *, num_results: int = 1000, verbose: bool = False):
        if not isinstance(num_results, int) or num_results < 1:
            raise ValueError(f"num_results must be a positive int, got {num_results!r}")
        self.index = index
        self.num_results = num_results
        self.verbose = verbose
        self.query_terms = QueryTermCounts()  # for the statistics; bounded by the vocabulary

    def transform(self, queries: pd.DataFrame) -> pd.DataFrame:
        require_columns(queries, ["qid", "query_toks"],
                        "encode the queries first, e.g. splade.query_encoder() >> index.retriever()")
        columns = [c for c in queries.columns if c not in ("docno", "docid", "score", "rank")]
        queries = queries[columns].reset_index(drop=True)
        if len(queries) == 0:
            return queries.assign(docno=pd.Series(dtype=object), score=pd.Series(dtype="float64"),
                                  rank=pd.Series(dtype="int64"))
        toks = [check_toks(t, f"query_toks of query {q!r}") for q, t in zip(queries["qid"], queries["query_toks"])]
        if self.index.quantised:
            toks = [quantise_toks(t, self.index.scale) for t in toks]
        else:
            toks = [{k: float(v) for k, v in t.items() if v} for t in toks]
        self.query_terms.add(toks)
        with engine_output(f"{self.index.engine} retrieval from {self.index.path}"):
            hits = self._search(toks)  # columns: qidx (int), docno, score (dot product of the weights)
        results = queries.iloc[hits["qidx"].to_numpy()].reset_index(drop=True)
        results["docno"] = hits["docno"].to_numpy()
        results["score"] = hits["score"].to_numpy(dtype="float64")
        return rank_results(results)

    def _search(self, toks: list[dict]) -> pd.DataFrame:  # pragma: no cover - abstract
        raise NotImplementedError

    def stats(self) -> dict:
        """The index's statistics with those of the queries retrieved for so far (see :meth:`SparseIndex.stats`)."""
        return self.index.stats(self.query_terms if self.query_terms.queries else None)

    def sparsity_stats(self, frames: list[pd.DataFrame] | None = None) -> dict:
        """For the pipelines runner: ``doc_nnz, index_mb, build_s`` and, from the queries retrieved for (or the
        ``query_toks`` of ``frames``, when the results came from a cache), ``query_nnz, flops``."""
        queries = self.query_terms if self.query_terms.queries else None
        if queries is None and frames:
            toks = [f.drop_duplicates("qid")["query_toks"] for f in frames if "query_toks" in f.columns and len(f)]
            queries = [t for t in toks[-1] if isinstance(t, dict)] if toks else None
            if queries is not None and self.index.quantised:
                queries = [quantise_toks(q, self.index.scale) for q in queries]
        stats = self.index.stats(queries)
        out = {"doc_nnz": stats["avg_doc_nnz"], "index_mb": stats["index_mb"], "build_s": stats["build_s"]}
        if "flops" in stats:
            out.update(query_nnz=stats["avg_query_nnz"], flops=stats["flops"])
        return out

    def cache_key(self) -> dict:
        """What decides the results: the index folder and its build (the marker's digest), the depth."""
        return {"index": str(self.index.path.resolve()), "built": file_hash(self.index.path / MARKER),
                "num_results": self.num_results, **self._key_extra()}

    def _key_extra(self) -> dict:
        return {}

    def _config(self) -> tuple:
        return (self.index, self.num_results)

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and self._config() == other._config()

    def __hash__(self) -> int:
        return hash(self._config())

    def __repr__(self) -> str:
        return f"{self.index!r}.retriever(num_results={self.num_results})"


def top_hits(scores_rows: Iterable[tuple[int, np.ndarray, np.ndarray]], num_results: int,
             docno_order: np.ndarray | None = None) -> pd.DataFrame:
    """``(qidx, doc ids, scores)`` per query -> the ``num_results`` best as a frame ``qidx, doc, score``
    (ties at the cut broken by docno, the same order as the final ranking: ``docno_order[doc id]`` is the
    position of the document's docno in sorted order; by doc id when not given)."""
    qidx, docs, scores = [], [], []
    for q, ids, values in scores_rows:
        keep = values > 0
        ids, values = ids[keep], values[keep]
        if len(values) > num_results:
            order = np.lexsort((ids if docno_order is None else docno_order[ids], -values))[:num_results]
            ids, values = ids[order], values[order]
        qidx.append(np.full(len(ids), q, dtype=np.int64))
        docs.append(ids)
        scores.append(values)
    if not qidx:
        return pd.DataFrame({"qidx": np.zeros(0, np.int64), "doc": np.zeros(0, np.int64), "score": np.zeros(0)})
    return pd.DataFrame({"qidx": np.concatenate(qidx), "doc": np.concatenate(docs), "score": np.concatenate(scores)})


def dot_scale(index: SparseIndex) -> float:
    """Integer impact scores are ``scale ** 2`` times the dot product of the weights."""
    return index.scale * index.scale if index.quantised else 1.0
