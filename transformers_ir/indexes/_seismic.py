"""Seismic (``pyseismic-lsr``, the ``[seismic]`` extra): approximate retrieval over learned-sparse vectors for
corpora past a million documents.

Seismic keeps, for each term, only its ``n_postings`` strongest postings (on average), groups them into blocks
with a summary vector each, and at query time visits the blocks of the query's ``query_cut`` largest terms whose
summary promises more than the ``k``-th best score divided by ``heap_factor``. Each candidate is scored against its
whole stored vector (a forward index of half-precision weights), so a returned score is the dot product of the
query with the document's fp16 weights: equal to the exact dot product within fp16 rounding. What is approximate
is which documents are found (recall), not their scores.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from transformers_ir._jsonfile import read_json
from transformers_ir.errors import CorruptIndex
from transformers_ir.indexes._sparse import SparseIndex, SparseRetriever
from transformers_ir.indexes._toks import toks_matrix

INDEX_STEM = "seismic"  # Seismic writes <stem>.index.seismic
TERMS = "terms.json"
#: Seismic's standard index addresses terms as 16-bit ids (its "LV" variant, for larger vocabularies, is not used).
U16_TERMS = 1 << 16
#: Relative error of a half-precision weight (2^-11), the rounding Seismic applies to stored weights.
FP16_EPS = 2.0 ** -11
#: Documents whose stored vector is read back and compared with ours after a build.
CHECKED_DOCS = 64
_BATCH = 10_000


def _seismic():
    try:
        import seismic
    except ImportError:
        raise ImportError("the Seismic engine needs pyseismic-lsr: pip install 'transformers-ir[seismic]'") from None
    return seismic


def _check_build_knobs(**knobs) -> dict:
    ints = ("n_postings", "min_cluster_size", "doc_cut")
    for name, value in knobs.items():
        if name in ints:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        elif not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value or \
                (name != "max_fraction" and value > 1):
            bound = "> 0" if name == "max_fraction" else "in (0, 1]"
            raise ValueError(f"{name} must be a number {bound}, got {value!r}")
    return knobs


class SeismicSparseIndex(SparseIndex):
    """Learned-sparse index in Seismic (approximate, for large corpora): the documents' float weights, stored by
    Seismic in half precision; queries scored by the dot product of the weights (no integer ``scale``).

    The build knobs are Seismic's (see its guidelines); a built index keeps those it was built with (in its
    metadata). The search knobs, ``query_cut`` and ``heap_factor``, are the retriever's.

    Args:
        path: the index folder.
        threads: threads for building and retrieval.
        n_postings: postings kept per term on average (the strongest; ``max_fraction`` times that at most for one
            term). Seismic's default, 3500, is tuned for MS MARCO's 8.8M passages.
        centroid_fraction: fraction of a term's postings used as cluster centroids (blocks).
        min_cluster_size: smallest block.
        summary_energy: fraction of a block's weight mass kept in its summary vector.
        max_fraction: the longest posting list, as a multiple of ``n_postings``.
        doc_cut: terms of a document used to assign it to a block.
        scale: accepted for the engines' common signature and recorded; unused (Seismic stores the float weights
            in half precision, not integer impacts).
    """

    engine = "splade-seismic"
    ARTIFACT_FORMAT = "transformers-ir.splade-seismic"
    quantised = False

    def __init__(self, path: str | Path, *, threads: int = 1, n_postings: int = 3500,
                 centroid_fraction: float = 0.1, min_cluster_size: int = 2, summary_energy: float = 0.4,
                 max_fraction: float = 1.5, doc_cut: int = 15, scale: float | None = None):
        super().__init__(path, scale=scale, threads=threads)
        self.n_postings = n_postings
        self.centroid_fraction = centroid_fraction
        self.min_cluster_size = min_cluster_size
        self.summary_energy = summary_energy
        self.max_fraction = max_fraction
        self.doc_cut = doc_cut
        self._build_knobs = _check_build_knobs(
            n_postings=n_postings, centroid_fraction=centroid_fraction, min_cluster_size=min_cluster_size,
            summary_energy=summary_energy, max_fraction=max_fraction, doc_cut=doc_cut)
        self._seismic_index = None

    def _write(self, tmp: Path, docs: Iterator[tuple[str, dict]]) -> int:
        seismic = _seismic()
        lexicon: dict[str, int] = {}
        dataset = seismic.SeismicDataset()  # fed batch by batch: the corpus is never held twice
        first = None  # the first batch, kept to check what Seismic stored
        count = 0

        def add(batch: list[tuple[str, dict]]) -> None:
            nonlocal first, count
            part = toks_matrix([toks for _, toks in batch], lexicon, grow=True, where="toks")
            if len(lexicon) > U16_TERMS:
                raise ValueError(f"the corpus has more than {U16_TERMS} distinct terms, more than Seismic's "
                                 f"standard index addresses: use another engine (SPLADE vocabularies have ~30k)")
            part.sort_indices()  # Seismic wants each row's term ids increasing
            dataset.add_documents_by_id([docno for docno, _ in batch], part.indices.astype(np.int64),
                                        part.data.astype(np.float32), part.indptr.astype(np.int64))
            first = part if first is None else first
            count += len(batch)

        batch: list[tuple[str, dict]] = []
        for doc in docs:
            batch.append(doc)
            if len(batch) == _BATCH:
                add(batch)
                batch = []
        if batch:
            add(batch)
        if dataset.len == 0:
            raise ValueError("no document holds a non-zero weight: there is nothing for Seismic to index")
        index = seismic.SeismicIndex.build_from_dataset(dataset, num_threads=self.threads, **self._build_knobs)
        self._check_stored(index, first)
        index.save(str(tmp / INDEX_STEM))
        (tmp / TERMS).write_text(json.dumps(list(lexicon)))
        self._settings.update(self._build_knobs, seismic_docs=int(index.len))
        return count

    def _check_stored(self, index, part) -> None:
        """The first documents' stored vectors, read back from Seismic, equal ours within fp16 rounding (what
        stops a build whose term ids or weights Seismic took differently from being marked complete)."""
        seen = 0
        for row in range(part.shape[0]):
            if seen == min(CHECKED_DOCS, index.len):
                return
            a, b = part.indptr[row], part.indptr[row + 1]
            if a == b:  # Seismic skips documents without weights
                continue
            ids, values = index.get(seen)
            ids, values = np.asarray(ids, dtype=np.int64), np.asarray(values, dtype=np.float64)
            ours = part.data[a:b].astype(np.float64)
            if not np.array_equal(ids, part.indices[a:b]) or \
                    not np.allclose(values, ours, rtol=FP16_EPS, atol=2.0 ** -24):
                raise CorruptIndex(f"Seismic stored document #{seen} with other weights than given "
                                   f"(terms {ids[:5].tolist()}..., weights {values[:5].tolist()}... for "
                                   f"{part.indices[a:a + 5].tolist()}..., {ours[:5].tolist()}...): "
                                   f"report it with the pyseismic-lsr version")
            seen += 1

    def load(self):
        """The Seismic index and the term -> id lexicon (loaded once)."""
        if self._seismic_index is None:
            _ = self.metadata  # raises, naming the fix, when no complete index is there
            seismic = _seismic()
            kind = seismic.SeismicIndex
            terms = read_json(self.path / TERMS, fix="rebuild the index with overwrite=True", expect=list)
            self._seismic_index = (kind.load(str(self.path / f"{INDEX_STEM}.index.seismic")),
                                   {t: i for i, t in enumerate(terms)})
        return self._seismic_index

    def retriever(self, *, num_results: int = 1000, verbose: bool = False, query_cut: int = 20,
                  heap_factor: float = 0.9) -> SeismicSparseRetriever:
        """Approximate retrieval (see :class:`SeismicSparseRetriever` for the knobs)."""
        self.verify()
        return SeismicSparseRetriever(self, num_results=num_results, verbose=verbose, query_cut=query_cut,
                                      heap_factor=heap_factor)

    def _settings_repr(self) -> str:
        defaults = SeismicSparseIndex.__init__.__kwdefaults__
        changed = [f"{k}={getattr(self, k)!r}" for k in self._build_knobs if getattr(self, k) != defaults[k]]
        return "".join(f", {c}" for c in changed)


class SeismicSparseRetriever(SparseRetriever):
    """Retrieval from a :class:`SeismicSparseIndex`.

    Args:
        index: the built index.
        num_results: results per query.
        verbose: show progress.
        query_cut: the query's largest terms whose posting lists are visited (more: higher recall, slower).
        heap_factor: a block is scored when its summary's score exceeds ``heap_factor`` times the current
            ``num_results``-th best (closer to 1: higher recall, slower).
    """

    def __init__(self, index: SeismicSparseIndex, *, num_results: int = 1000, verbose: bool = False,
                 query_cut: int = 20, heap_factor: float = 0.9):
        super().__init__(index, num_results=num_results, verbose=verbose)
        if not isinstance(query_cut, int) or isinstance(query_cut, bool) or query_cut < 1:
            raise ValueError(f"query_cut must be a positive int (query terms), got {query_cut!r}")
        if not isinstance(heap_factor, (int, float)) or isinstance(heap_factor, bool) or not 0 < heap_factor <= 1:
            raise ValueError(f"heap_factor must be a number in (0, 1], got {heap_factor!r}")
        self.query_cut = query_cut
        self.heap_factor = float(heap_factor)

    def _search(self, toks: list[dict]) -> pd.DataFrame:
        seismic = _seismic()
        index, lexicon = self.index.load()
        string = seismic.get_seismic_string()
        components, values = [], []
        for q in toks:
            known = [(lexicon[t], w) for t, w in q.items() if t in lexicon]
            components.append(np.array([str(i) for i, _ in known], dtype=string))
            values.append(np.array([w for _, w in known], dtype=np.float32))
        found = index.batch_search(np.array([str(i) for i in range(len(toks))], dtype=string), components, values,
                                   k=self.num_results, query_cut=self.query_cut, heap_factor=self.heap_factor,
                                   num_threads=self.index.threads)
        rows = [(int(qid), docno, score) for hits in found for qid, score, docno in hits if score > 0]
        return pd.DataFrame({"qidx": np.array([r[0] for r in rows], dtype=np.int64),
                             "docno": np.array([r[1] for r in rows], dtype=object),
                             "score": np.array([r[2] for r in rows], dtype=np.float64)})

    def _config(self) -> tuple:
        return (*super()._config(), self.query_cut, self.heap_factor)

    def _key_extra(self) -> dict:
        return {"query_cut": self.query_cut, "heap_factor": self.heap_factor}

    def __repr__(self) -> str:
        return (f"{self.index!r}.retriever(num_results={self.num_results}, query_cut={self.query_cut}, "
                f"heap_factor={self.heap_factor:g})")
