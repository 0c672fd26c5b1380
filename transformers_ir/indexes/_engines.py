"""The SPLADE index engines: PISA (default), Terrier (pretokenised), exact (scipy.sparse, brute force) and Seismic
(approximate, for large corpora; in :mod:`._seismic`)."""
from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyterrier as pt
import scipy.sparse as sp

from transformers_ir._jsonfile import read_json
from transformers_ir._options import SPARSE_ENGINES, SparseEngine
from transformers_ir.indexes._pisa_batches import padded_batches
from transformers_ir.indexes._seismic import SeismicSparseIndex
from transformers_ir.indexes._sparse import SparseIndex, SparseRetriever, dot_scale, top_hits
from transformers_ir.indexes._toks import quantise, toks_matrix

# PISA lower-cases ASCII letters of query terms (not of indexed ones), so a term with an upper-case letter
# ('[CLS]', any cased vocabulary) would never match: such terms, and those that could be mistaken for an escaped
# one, are stored and queried as this marker + their UTF-8 in hex (an injective, lower-case spelling).
_ESCAPE = "\u00a7x"
SHARDS = "shards"  # folder of a sharded PISA index's parts


def pisa_term(term: str) -> str:
    """The spelling of ``term`` in a PISA index: itself, or escaped when PISA would change or mis-store it
    (upper-case ASCII, white space or control characters, which PISA's line-based lexicon cannot hold).

    Args:
        term: a vocabulary term.

    Returns:
        The term as stored and queried.
    """
    if not term or term.startswith(_ESCAPE) or any(("A" <= c <= "Z") or c.isspace() or not c.isprintable()
                                                   for c in term):
        return _ESCAPE + term.encode("utf-8", "surrogatepass").hex()
    return term


def _positive_docs(name: str, value) -> int:
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int (documents), got {value!r}")
    return value


class PisaSparseIndex(SparseIndex):
    """Impact index in PISA through pyterrier-pisa's ``toks_indexer``; retrieval with its quantized scorer
    (block-max WAND, exact top-k for the integer impacts).

    Args:
        invert_batch: documents inverted in memory at a time while building (pyterrier-pisa keeps each batch's
            postings as Python lists, about 100 bytes a posting: 10,000 SPLADE documents of ~250 terms take about
            250 MB; pyterrier-pisa's own default, 100,000, takes ten times that). Batches are merged on disk.
        shard_docs: build one PISA index per this many documents (default: one index). PISA compresses a whole
            index in memory, about 12 bytes a posting, so an unsharded build needs memory in proportion to the
            corpus; sharded, in proportion to ``shard_docs``. Retrieval searches every shard and keeps the best
            ``num_results``: the same ranking, since impact scores do not depend on the other documents (only
            which of several documents tied at the cut-off is kept may differ), at the cost of one search per
            shard. A built index keeps the sharding it was built with.
    """

    engine = "splade-pisa"
    ARTIFACT_FORMAT = "transformers-ir.splade-pisa"

    def __init__(self, path: str | Path, *, scale: float | None = None, threads: int = 1,
                 invert_batch: int = 10_000, shard_docs: int | None = None):
        super().__init__(path, scale=scale, threads=threads)
        self.invert_batch = _positive_docs("invert_batch", invert_batch)
        self.shard_docs = None if shard_docs is None else _positive_docs("shard_docs", shard_docs)

    def _guard_options(self) -> dict:
        return {"forbid_spaces": True}

    def _pisa(self, path: Path | None = None):
        import pyterrier_pisa

        # toks_indexer takes the batch size of the PisaIndex (its own batch_size argument is ignored)
        return pyterrier_pisa.PisaIndex(str(path or self.path), stemmer="none", stops="none", threads=self.threads,
                                        batch_size=self.invert_batch)

    def shard_paths(self) -> list[Path]:
        """The folders of the PISA indexes that make up this one (the index itself when it is not sharded)."""
        shards = self.metadata.get("shards")
        return [self.path] if shards is None else [self.path / SHARDS / f"{i:05d}" for i in range(shards)]

    def _write(self, tmp: Path, docs: Iterator[tuple[str, dict]]) -> int:
        stream = ({"docno": docno, "toks": {pisa_term(t): w for t, w in toks.items()}} for docno, toks in docs)
        if self.shard_docs is None:
            return self._write_pisa(tmp, stream)
        count = shards = 0
        while (first := next(stream, None)) is not None:
            count += self._write_pisa(tmp / SHARDS / f"{shards:05d}",
                                      itertools.chain([first], itertools.islice(stream, self.shard_docs - 1)))
            shards += 1
        self._settings["shards"] = shards
        return count

    def _write_pisa(self, folder: Path, docs: Iterator[dict]) -> int:
        pisa = self._pisa(folder)
        with padded_batches():  # pyterrier-pisa's merge of several batches is wrong without it
            pisa.toks_indexer(scale=1.0, mode="overwrite").index(docs)  # impacts are integers already
        return pisa.num_docs()

    def _settings_repr(self) -> str:
        extra = "" if self.shard_docs is None else f", shard_docs={self.shard_docs}"
        return super()._settings_repr() + extra

    def _retriever_class(self) -> type:
        return PisaSparseRetriever


class PisaSparseRetriever(SparseRetriever):
    def _search(self, toks: list[dict]) -> pd.DataFrame:
        if getattr(self, "_shards", None) is None:  # opening the index costs more than a batch of queries
            self._shards = [self.index._pisa(path).quantized(num_results=self.num_results, toks_scale=1.0,
                                                             threads=self.index.threads, verbose=self.verbose)
                            for path in self.index.shard_paths()]
        frame = pd.DataFrame({"qid": [str(i) for i in range(len(toks))],
                              "query_toks": [{pisa_term(t): w for t, w in q.items()} for q in toks]})
        hits = pd.concat([shard(frame) for shard in self._shards], ignore_index=True)
        hits = pd.DataFrame({"qidx": hits["qid"].astype(np.int64).to_numpy(), "docno": hits["docno"].to_numpy(),
                             "score": hits["score"].to_numpy(dtype="float64") / dot_scale(self.index)})
        if len(self._shards) > 1:  # each shard's best; keep the best of all
            hits = hits.sort_values(["qidx", "score", "docno"], ascending=[True, False, True], kind="stable")
            hits = hits.groupby("qidx", sort=False).head(self.num_results).reset_index(drop=True)
        return hits


class TerrierSparseIndex(SparseIndex):
    """Impact index in Terrier (``IterDictIndexer(pretokenised=True)``, impacts as term frequencies); retrieval
    with the ``Tf`` weighting model (needs Java).

    Args:
        max_docno_length: longest docno Terrier's meta index stores (build only).
    """

    engine = "splade-terrier"
    ARTIFACT_FORMAT = "transformers-ir.splade-terrier"

    def __init__(self, path: str | Path, *, scale: float | None = None, threads: int = 1, max_docno_length: int = 64):
        super().__init__(path, scale=scale, threads=threads)
        self.max_docno_length = max_docno_length

    def _guard_options(self) -> dict:
        return {"max_docno_length": self.max_docno_length}

    def _write(self, tmp: Path, docs: Iterator[tuple[str, dict]]) -> int:
        indexer = pt.IterDictIndexer(str(tmp), pretokenised=True, meta={"docno": self.max_docno_length},
                                     threads=self.threads)
        ref = indexer.index({"docno": docno, "toks": toks} for docno, toks in docs)
        return int(pt.IndexFactory.of(ref).getCollectionStatistics().getNumberOfDocuments())

    def _retriever_class(self) -> type:
        return TerrierSparseRetriever


class TerrierSparseRetriever(SparseRetriever):
    def _search(self, toks: list[dict]) -> pd.DataFrame:
        if getattr(self, "_terrier", None) is None:
            self._terrier = pt.terrier.Retriever(pt.IndexFactory.of(str(self.index.path)), wmodel="Tf",
                                                 num_results=self.num_results, verbose=self.verbose)
        retriever = self._terrier
        asked = [i for i, q in enumerate(toks) if q]  # Terrier warns on, and skips, an empty query
        frame = pd.DataFrame({"qid": [str(i) for i in asked], "query_toks": [toks[i] for i in asked]})
        hits = retriever(frame) if asked else pd.DataFrame(columns=["qid", "docno", "score"])
        qidx = hits["qid"].astype(np.int64).to_numpy()
        # Terrier divides query weights by the largest one; multiply it back to get the integer dot product
        largest = np.array([max(q.values()) if q else 1 for q in toks], dtype="float64")
        scores = hits["score"].to_numpy(dtype="float64") * largest[qidx] / dot_scale(self.index)
        return pd.DataFrame({"qidx": qidx, "docno": hits["docno"].to_numpy(), "score": scores})


class ExactSparseIndex(SparseIndex):
    """The brute-force reference: the documents' float weights as one scipy.sparse matrix, every query scored
    against every document. Its retriever scores float weights, or with ``quantised=True`` the integer impacts
    the other engines store (so their top-k can be checked exactly)."""

    engine = "splade-exact"
    ARTIFACT_FORMAT = "transformers-ir.splade-exact"
    quantised = False

    def _write(self, tmp: Path, docs: Iterator[tuple[str, dict]]) -> int:
        lexicon: dict[str, int] = {}
        docnos: list[str] = []
        parts = []
        batch: list[dict] = []

        def flush():
            if batch:
                parts.append(toks_matrix(batch, lexicon, grow=True, where="toks"))
                batch.clear()

        for docno, toks in docs:
            docnos.append(docno)
            batch.append(toks)
            if len(batch) == 10_000:
                flush()
        flush()
        width = len(lexicon)
        matrix = sp.vstack([sp.csr_matrix(p, shape=(p.shape[0], width)) for p in parts], format="csr") if parts \
            else sp.csr_matrix((0, width), dtype=np.float32)
        sp.save_npz(tmp / "weights.npz", matrix.astype(np.float32))
        (tmp / "docnos.json").write_text(json.dumps(docnos))
        (tmp / "terms.json").write_text(json.dumps(list(lexicon)))
        return len(docnos)

    def load(self) -> tuple[sp.csr_matrix, np.ndarray, dict[str, int]]:
        """The ``[docs, terms]`` weight matrix, the docnos, and the term -> column lexicon."""
        if getattr(self, "_loaded", None) is None:
            _ = self.metadata  # raises, naming the fix, when no complete index is there
            fix = "rebuild the index with overwrite=True"
            terms = read_json(self.path / "terms.json", fix=fix, expect=list)
            self._loaded = (sp.load_npz(self.path / "weights.npz").tocsr(),
                            np.array(read_json(self.path / "docnos.json", fix=fix, expect=list), dtype=object),
                            {t: i for i, t in enumerate(terms)})
        return self._loaded

    def docno_order(self) -> np.ndarray:
        """Each document's position in docno order (ties at a cut are broken by docno, as in the ranking)."""
        if getattr(self, "_docno_order", None) is None:
            self._docno_order = pd.factorize(self.load()[1], sort=True)[0]
        return self._docno_order

    def retriever(self, *, num_results: int = 1000, verbose: bool = False, quantised: bool = False):
        """Brute-force retrieval; ``quantised=True`` scores ``round(w * scale)`` impacts like the impact engines."""
        self.verify()
        return ExactSparseRetriever(self, num_results=num_results, verbose=verbose, quantised=quantised)


class ExactSparseRetriever(SparseRetriever):
    def __init__(self, index: ExactSparseIndex, *, num_results: int = 1000, verbose: bool = False,
                 quantised: bool = False):
        super().__init__(index, num_results=num_results, verbose=verbose)
        self.quantised = quantised

    def _search(self, toks: list[dict]) -> pd.DataFrame:
        matrix, docnos, lexicon = self.index.load()
        queries = toks_matrix(toks, lexicon, grow=False, where="query_toks")
        if self.quantised:
            matrix = matrix.copy()
            matrix.data = quantise(matrix.data, self.index.scale).astype(np.float64)
            queries.data = quantise(queries.data, self.index.scale).astype(np.float64)
        scores = (queries @ matrix.T).tocsr()
        rows = ((q, scores.indices[a:b], scores.data[a:b])
                for q, (a, b) in enumerate(zip(scores.indptr[:-1], scores.indptr[1:])))
        hits = top_hits(rows, self.num_results, self.index.docno_order())
        divisor = self.index.scale ** 2 if self.quantised else 1.0
        return pd.DataFrame({"qidx": hits["qidx"], "docno": docnos[hits["doc"].to_numpy()],
                             "score": hits["score"].to_numpy(dtype="float64") / divisor})

    def _config(self) -> tuple:
        return (*super()._config(), self.quantised)

    def _key_extra(self) -> dict:
        return {"quantised": self.quantised}

    def __repr__(self) -> str:
        extra = ", quantised=True" if self.quantised else ""
        return f"{self.index!r}.retriever(num_results={self.num_results}{extra})"


_CLASSES = {"pisa": PisaSparseIndex, "terrier": TerrierSparseIndex, "exact": ExactSparseIndex,
            "seismic": SeismicSparseIndex}


def sparse_index(path: str | Path, engine: SparseEngine = "pisa", **kwargs) -> SparseIndex:
    """The SPLADE index at ``path`` for an engine: ``'pisa'`` (default, no Java), ``'terrier'``, ``'exact'`` or
    ``'seismic'`` (approximate, the ``[seismic]`` extra).

    Args:
        path: the index folder (built or not).
        engine: the engine.
        **kwargs: the engine class's keywords (``scale``, ``threads``, ``shard_docs``, ...).

    Returns:
        A :class:`PisaSparseIndex`, :class:`TerrierSparseIndex`, :class:`ExactSparseIndex` or
        :class:`SeismicSparseIndex`.

    Raises:
        ValueError: an unknown engine.
    """
    if engine not in _CLASSES:
        raise ValueError(f"unknown engine {engine!r}: choose one of {', '.join(SPARSE_ENGINES)}")
    return _CLASSES[engine](path, **kwargs)
