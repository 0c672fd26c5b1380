"""Dense vectors as an index artifact: exact search by blocked matrix products, approximate search by HNSW.

The folder holds ``vectors.npy`` (float32, ``docs x dim``, read memory-mapped or a block at a time),
``docnos.npy`` (fixed-width Unicode, read without pickle), optionally ``hnsw.faiss`` (FAISS ``IndexHNSWFlat`` with
inner product, built with the index), PyTerrier's ``pt_meta.json`` (type ``dense_index``, format
``transformers-ir.vectors``) and our marker, written last, which records the model the vectors came from
(``model_id``), their dimension and the files' sizes and checksums. Built atomically like every index here
(:class:`~transformers_ir.indexes.IndexArtifact`): an interrupted build leaves nothing that opens.

Scores are plain inner products: a model with cosine similarity normalises its vectors before indexing, so the
index never needs to know the similarity.

Why FAISS (``faiss-cpu``, the ``dense`` extra) and not pyterrier_dr's ``FlexIndex``: pyterrier-dr 0.8.1 would
install cleanly beside our PyTerrier and pandas (``pip install --dry-run`` adds only npids and pyterrier-adaptive),
but its HNSW *is* FAISS's ``IndexHNSWFlat`` and needs faiss installed anyway; it builds the graph lazily on the first
retrieval and writes it into the index folder in place (not atomically, outside any completion record), and sets
``efSearch`` on the shared graph rather than per search. Using FAISS directly gives the same graph, built with the
index inside its atomic build and checksummed, with ``ef_search`` passed per search (``SearchParametersHNSW``), for
one wheel depending only on numpy. Frames use pyterrier_dr's column names (``query_vec``, ``doc_vec``), so stages of
both mix.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyterrier as pt

from transformers_ir._quiet import SCREEN
from transformers_ir._ranking import check_cutoff, rank_results
from transformers_ir._validate import require_columns
from transformers_ir.errors import IndexMismatch
from transformers_ir.indexes._artifact import IndexArtifact
from transformers_ir.indexes._corpus import CorpusGuard
from transformers_ir.indexes._vector_input import block_vectors, first_dim, frame_rows, positive, query_matrix
from transformers_ir.indexes._vector_search import (
    DEFAULT_BLOCK,
    HEADER_BYTES,
    build_hnsw,
    exact_top_k,
    faiss_module,
    hnsw_search,
    hnsw_settings,
    npy_header,
    read_blocks,
)

VECTORS = "vectors.npy"
DOCNOS = "docnos.npy"
HNSW = "hnsw.faiss"
#: Documents converted and checked at a time while building (the memory the indexer holds beyond the docnos).
BUILD_BLOCK = 4096
METHODS = ("exact", "hnsw")


class _Answer:
    """A yes/no that reads both ways: ``index.built`` (the agreed interface's property) and ``index.built()``
    (the method every other index has): a bound method would always be true, so neither spelling is a trap."""

    __slots__ = ("value",)

    def __init__(self, value: bool):
        self.value = bool(value)

    def __bool__(self) -> bool:
        return self.value

    def __call__(self) -> bool:
        return self.value

    def __eq__(self, other) -> bool:
        return self.value == bool(other) if isinstance(other, (bool, _Answer)) else NotImplemented

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return repr(self.value)


class VectorIndex(IndexArtifact):
    """Document vectors (e.g. from a bi-encoder's ``doc_encoder()``) with exact and HNSW inner-product search.

    Build with ``index.indexer(model_id=...).index(docs)`` (or ``bi_encoder.doc_encoder() >> index.indexer(...)``);
    retrieve with ``query_encoder() >> index.retriever(num_results)``. Reopened by ``VectorIndex(path)`` or
    ``pt.Artifact.load(path)``.

    Args:
        path: the index folder (built or not).
        verbose: show progress by default in its stages.
    """

    engine = "vectors"
    ARTIFACT_TYPE = "dense_index"
    ARTIFACT_FORMAT = "transformers-ir.vectors"

    def __init__(self, path: str | Path, *, verbose: bool = False):
        super().__init__(path)
        self.verbose = verbose
        self._loaded_for: str | None = None

    # ---------------------------------------------------------------- what is there
    @property
    def built(self) -> _Answer:
        """Whether a complete build is here (its marker, written last, exists); also callable, ``built()``."""
        return _Answer(super().built())

    def incomplete(self) -> bool:
        """A folder is there but holds no marker: an interrupted build, never to be used."""
        return self.path.exists() and not self.built

    @property
    def model_id(self) -> str | None:
        """The identity of the model whose vectors the index holds (recorded at build), or None when not built."""
        return self.metadata.get("model_id") if self.built else None

    @property
    def dim(self) -> int:
        """The vectors' dimension."""
        return int(self.metadata["dim"])

    @property
    def docnos(self) -> np.ndarray:
        """The documents' docnos, in index order (a fixed-width Unicode array)."""
        return self._load()["docnos"]

    def __len__(self) -> int:
        return self.num_docs()

    def vectors(self) -> np.ndarray:
        """The document vectors, float32 ``(documents, dim)``, memory-mapped read-only.

        Returns:
            A read-only ``np.memmap`` (rows in the order of :attr:`docnos`).
        """
        return np.load(self._checked_path(VECTORS), mmap_mode="r", allow_pickle=False)

    def docno_order(self) -> np.ndarray:
        """Each document's position in docno order (how ties are broken, as in :func:`rank_results`)."""
        return self._load()["docno_order"]

    def has_hnsw(self) -> bool:
        """Whether an HNSW graph was built with the index."""
        return self.metadata.get("hnsw") is not None

    def check_model(self, model_id: str) -> None:
        """Refuse to retrieve with a model other than the one whose vectors the index holds.

        Args:
            model_id: the identity of the model about to encode queries.

        Raises:
            FileNotFoundError: no complete index here.
            IndexMismatch: the index was built with another model.
        """
        stored = self.metadata.get("model_id")
        if stored != model_id:
            raise IndexMismatch(
                f"the vector index at {self.path} holds vectors of model {stored!r}, not of {model_id!r}: rebuild "
                f"it with this model (its indexer with overwrite=True), or retrieve with the model that built it")

    def _checked_path(self, name: str) -> Path:
        _ = self.metadata  # raises, naming the fix, when no complete index is there
        return self.path / name

    def _load(self) -> dict:
        build = self.build_id
        if self._loaded_for != build:
            docnos = np.load(self._checked_path(DOCNOS), allow_pickle=False)
            order = np.empty(len(docnos), dtype=np.int64)
            order[np.argsort(docnos, kind="stable")] = np.arange(len(docnos))
            self._cache = {"docnos": docnos, "docno_order": order}
            self._loaded_for = build
        return self._cache

    def _graph(self):
        if self._load().get("hnsw") is None:
            self._cache["hnsw"] = faiss_module().read_index(str(self._checked_path(HNSW)))
        return self._cache["hnsw"]

    # ---------------------------------------------------------------- building
    def indexer(self, *, model_id: str, overwrite: bool = False, hnsw: bool | dict = False,
                verbose: bool | None = None) -> VectorIndexer:
        """A ``pt.Indexer`` taking documents with ``docno`` and ``doc_vec`` (e.g. from ``doc_encoder()``).

        Args:
            model_id: the identity of the model that encoded the documents (checked by :meth:`check_model`).
            overwrite: replace a built (or interrupted) index.
            hnsw: also build an HNSW graph: True for ``{"M": 32, "ef_construction": 200}``, or such a dict.
            verbose: show progress (default: the index's).

        Returns:
            The indexer; its ``index(docs)`` returns this index, built.
        """
        return VectorIndexer(self, model_id=model_id, overwrite=overwrite, hnsw=hnsw,
                             verbose=self.verbose if verbose is None else verbose)

    def build(self, docs: Iterable[dict] | pd.DataFrame, *, model_id: str, overwrite: bool = False,
              hnsw: bool | dict = False, verbose: bool | None = None) -> VectorIndex:
        """Build the index from ``{docno, doc_vec}`` documents, streamed a block at a time, atomically.

        Args:
            docs: the documents (dicts, or a frame with ``docno`` and ``doc_vec`` columns); each ``doc_vec`` a
                1-D array of numbers, the same length for all.
            model_id: the identity of the model that encoded them.
            overwrite: replace a built (or interrupted) index.
            hnsw: also build an HNSW graph (see :meth:`indexer`).
            verbose: show progress.

        Returns:
            This index, built.

        Raises:
            ValueError: no model_id, an empty corpus, a vector of another dimension or with NaN or infinite
                values, a duplicate or invalid docno (each naming the document).
        """
        if not isinstance(model_id, str) or not model_id.strip():
            raise ValueError(f"model_id must name the model that encoded the documents, got {model_id!r}")
        graph = hnsw_settings(hnsw)
        if isinstance(docs, pd.DataFrame):
            docs = frame_rows(docs)
        if self.verbose if verbose is None else verbose:
            docs = pt.tqdm(docs, desc="vector indexing", unit="doc", file=SCREEN)
        self._settings = {"model_id": model_id, "dim": None, "dtype": "float32", "hnsw": graph}
        self._build(docs, overwrite=overwrite, settings=self._settings)
        self._loaded_for = None
        return self

    def _build_into(self, tmp: Path, docs, *, model_id: str, dim, dtype: str, hnsw: dict | None) -> int:
        guard = CorpusGuard(docs)
        docnos: list[str] = []
        dim = None
        with open(tmp / VECTORS, "wb") as f:
            f.write(b"\0" * HEADER_BYTES)  # the header, written when the number of rows is known
            stream = iter(guard)
            while block := list(itertools.islice(stream, BUILD_BLOCK)):
                if dim is None:
                    dim = first_dim(block[0])
                vectors = block_vectors(block, dim)
                docnos.extend(doc["docno"] for doc in block)
                f.write(vectors.tobytes())
            guard.check(len(docnos))
            f.seek(0)
            f.write(npy_header(len(docnos), dim))
        np.save(tmp / DOCNOS, np.array(docnos, dtype=str), allow_pickle=False)
        self._settings["dim"] = dim
        if hnsw is not None:
            vectors = np.load(tmp / VECTORS, mmap_mode="r", allow_pickle=False)
            build_hnsw(vectors, tmp / HNSW, M=hnsw["M"], ef_construction=hnsw["ef_construction"])
            del vectors
        return len(docnos)

    # ---------------------------------------------------------------- retrieval
    def retriever(self, num_results: int = 1000, *, method: Literal["exact", "hnsw"] = "exact",
                  block_size: int | None = None, ef_search: int | None = None,
                  verbose: bool | None = None) -> VectorRetriever:
        """Retrieval for queries with ``query_vec`` by inner product with the documents' vectors.

        Args:
            num_results: results per query (all the documents when the corpus is smaller).
            method: ``"exact"`` (every document scored, in blocks) or ``"hnsw"`` (the graph built with the index).
            block_size: documents scored at a time by the exact search (memory, not results, depends on it).
            ef_search: HNSW's candidate list size (at least ``num_results`` is used); more is slower and closer
                to exact.
            verbose: show progress (default: the index's).

        Returns:
            The retriever.

        Raises:
            ValueError: an unknown method, or ``"hnsw"`` on an index built without the graph.
            CorruptIndex: a file changed since the build.
        """
        self.verify()  # raises when not built, or when a file changed since
        if method == "hnsw" and not self.has_hnsw():
            raise ValueError(f"the vector index at {self.path} was built without HNSW: rebuild it with "
                             f"indexer(model_id=..., hnsw=True, overwrite=True), or use method='exact'")
        return VectorRetriever(self, num_results=num_results, method=method, block_size=block_size,
                               ef_search=ef_search, verbose=self.verbose if verbose is None else verbose)

    def search(self, queries: np.ndarray, k: int, *, method: str = "exact", block_size: int | None = None,
               ef_search: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best documents of each query vector, unranked (the retriever ranks them).

        Args:
            queries: ``(queries, dim)`` float32.
            k: results per query.
            method: ``"exact"`` or ``"hnsw"``.
            block_size: documents per block (exact).
            ef_search: HNSW's candidate list size.

        Returns:
            ``(ids, scores)`` of shape ``(queries, min(k, documents))``; HNSW marks missing results with id -1.
        """
        k = min(k, len(self))
        if method == "hnsw":
            return hnsw_search(self._graph(), queries, k, ef_search)
        blocks = read_blocks(self._checked_path(VECTORS), len(self), self.dim, block_size or DEFAULT_BLOCK)
        return exact_top_k(blocks, queries, k, self.docno_order())


class VectorIndexer(pt.Indexer):
    """``index(docs)`` builds the :class:`VectorIndex` from ``{docno, doc_vec}`` documents and returns it.

    Args:
        vector_index: the index to build (named so, not ``index``, which is the indexer's method: ``pt.inspect``
            reads each constructor argument back from the attribute of the same name).
        model_id: the identity of the model that encoded the documents.
        overwrite: replace a built index.
        hnsw: also build an HNSW graph (True or a dict of settings).
        verbose: show progress.
    """

    def __init__(self, vector_index: VectorIndex, *, model_id: str, overwrite: bool = False,
                 hnsw: bool | dict = False, verbose: bool = False):
        hnsw_settings(hnsw)  # refuse bad settings now, not after encoding the corpus
        self.vector_index = vector_index
        self.model_id = model_id
        self.overwrite = overwrite
        self.hnsw = hnsw
        self.verbose = verbose

    def index(self, iter_dict: Iterable[dict] | pd.DataFrame) -> VectorIndex:
        """Build the index (see :meth:`VectorIndex.build`).

        Args:
            iter_dict: the documents.

        Returns:
            The built index.
        """
        return self.vector_index.build(iter_dict, model_id=self.model_id, overwrite=self.overwrite,
                                       hnsw=self.hnsw, verbose=self.verbose)

    def _config(self) -> tuple:
        return (self.vector_index, self.model_id, self.overwrite, repr(hnsw_settings(self.hnsw)))

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other._config() == self._config()

    def __hash__(self) -> int:
        return hash(self._config())

    def __repr__(self) -> str:
        extra = "" if not self.hnsw else f", hnsw={self.hnsw!r}"
        return f"{self.vector_index!r}.indexer(model_id={self.model_id!r}, overwrite={self.overwrite!r}{extra})"


class VectorRetriever(pt.Transformer):
    """Retrieval by inner product of ``query_vec`` with the index's vectors (see :meth:`VectorIndex.retriever`).

    Args:
        index: the built :class:`VectorIndex`.
        num_results: results per query.
        method: ``"exact"`` or ``"hnsw"``.
        block_size: documents scored at a time (exact).
        ef_search: HNSW's candidate list size.
        verbose: show progress.
    """

    def __init__(self, index: VectorIndex, *, num_results: int = 1000, method: str = "exact",
                 block_size: int | None = None, ef_search: int | None = None, verbose: bool = False):
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
        self.index = index
        self.num_results = check_cutoff(num_results, "num_results")
        self.method = method
        self.block_size = positive("block_size", block_size, "documents scored at a time")
        self.ef_search = positive("ef_search", ef_search, "HNSW's candidate list size")
        self.verbose = verbose

    def transform(self, queries: pd.DataFrame) -> pd.DataFrame:
        """Each query's best documents, ranked (score descending, then docno).

        Args:
            queries: ``qid`` and ``query_vec`` (a 1-D array per row of the index's dimension), other columns kept.

        Returns:
            The queries' columns with ``docno``, ``score`` (inner product) and ``rank``.

        Raises:
            pt.validate.InputValidationError: no ``qid`` or ``query_vec`` column.
            ValueError: a query vector of another dimension, or with NaN or infinite values (naming the qid).
        """
        require_columns(queries, ["qid", "query_vec"],
                        "encode the queries first: bi_encoder.query_encoder() adds query_vec, as in "
                        "bi_encoder.query_encoder() >> index.retriever()")
        columns = [c for c in queries.columns if c not in ("docno", "docid", "score", "rank")]
        queries = queries[columns].reset_index(drop=True)
        if len(queries) == 0:
            return queries.assign(docno=pd.Series(dtype=object), score=pd.Series(dtype="float64"),
                                  rank=pd.Series(dtype="int64"))
        matrix = query_matrix(queries, self.index.dim)
        ids, scores = self.index.search(matrix, self.num_results, method=self.method, block_size=self.block_size,
                                        ef_search=self.ef_search)
        rows = np.repeat(np.arange(len(queries)), ids.shape[1])
        ids, scores = ids.ravel(), scores.ravel()
        found = ids >= 0
        results = queries.iloc[rows[found]].reset_index(drop=True)
        results["docno"] = self.index.docnos[ids[found]].astype(object)
        results["score"] = scores[found].astype("float64")
        return rank_results(results)

    def cache_key(self) -> dict:
        """What decides the results: the index's build, the depth, the method and its setting."""
        return {**self.index.identity(), "num_results": self.num_results, "method": self.method,
                "ef_search": self.ef_search if self.method == "hnsw" else None}

    def _config(self) -> tuple:
        return (self.index, self.num_results, self.method, self.block_size, self.ef_search)

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other._config() == self._config()

    def __hash__(self) -> int:
        return hash(self._config())

    def __repr__(self) -> str:
        extra = "" if self.method == "exact" else f", method={self.method!r}"
        extra += "" if self.block_size is None else f", block_size={self.block_size}"
        extra += "" if self.ef_search is None else f", ef_search={self.ef_search}"
        return f"{self.index!r}.retriever(num_results={self.num_results}{extra})"
