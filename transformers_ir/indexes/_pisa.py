"""PISA indexes and retrieval through pyterrier-pisa: no Java anywhere on this path."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import pyterrier_pisa

from transformers_ir._quiet import engine_output
from transformers_ir._values import check_values
from transformers_ir.indexes._artifact import IndexArtifact
from transformers_ir.indexes._corpus import CorpusGuard
from transformers_ir.indexes._queries import QueryGuard


class PisaIndex(IndexArtifact):
    """A PISA index built from a corpus iterator.

    Guards pyterrier-pisa's known defects: a document iterator that raises part-way (pyterrier-pisa swallows the
    error in a background thread and keeps a short index) and docnos with spaces (PISA cuts them) both fail the
    build, and nothing is marked built.

    Args:
        path: the index folder.
        stemmer: PISA's stemmer for text indexes (``'porter2'``, ``'krovetz'``, ``'none'``).
        stops: stopword list used at retrieval (``'terrier'``, ``'lucene'``, ``'none'``).
        threads: indexing and retrieval threads.
    """

    engine = "pisa"
    ARTIFACT_FORMAT = "transformers-ir.pisa"

    def __init__(self, path: str | Path, *, stemmer: Literal["porter2", "krovetz", "none"] = "porter2",
                 stops: Literal["terrier", "lucene", "none"] = "terrier", threads: int = 1):
        super().__init__(path)
        self.stemmer = stemmer
        self.stops = stops
        self.threads = threads

    def _pisa(self, path: Path | None = None) -> pyterrier_pisa.PisaIndex:
        return pyterrier_pisa.PisaIndex(
            str(path or self.path), stemmer=self.stemmer, stops=self.stops, threads=self.threads
        )

    def build(self, docs, *, fields: list[str] | tuple[str, ...] = ("text",), overwrite: bool = False) -> PisaIndex:
        """Build the index from documents, atomically (see :class:`IndexArtifact`).

        Args:
            docs: dicts with ``docno`` and the ``fields``.
            fields: the text fields indexed (joined).
            overwrite: replace a built (or interrupted) index.

        Returns:
            This index, built.

        Raises:
            FileExistsError: an index (or an interrupted build) is there and ``overwrite`` is False.
        """
        self._build(docs, overwrite=overwrite, settings={"fields": list(fields), "stemmer": self.stemmer})
        return self

    def _build_into(self, tmp: Path, docs, *, fields: list[str], stemmer: str) -> int:
        guard = CorpusGuard(docs, forbid_spaces=True, fields=fields)
        stream = guard.stream()
        index = self._pisa(tmp)
        index.indexer(text_field=list(fields) if len(fields) > 1 else fields[0], mode="overwrite").index(stream)
        guard.check(index.num_docs())
        return guard.count

    def pisa_index(self) -> pyterrier_pisa.PisaIndex:
        """The underlying ``pyterrier_pisa.PisaIndex`` (after checking the build is complete)."""
        self.verify()  # raises when not built, or damaged since
        return self._pisa()

    def bm25(self, *, k1: float = 0.9, b: float = 0.4, num_results: int = 1000, verbose: bool = False):
        """BM25 with PISA's (and Anserini's) defaults, k1 = 0.9, b = 0.4."""
        check_values(k1=k1, b=b, num_results=num_results)
        with engine_output(f"PISA's BM25 index of {self.path}"):  # built (and logged) on first use
            retriever = self.pisa_index().bm25(k1=k1, b=b, num_results=num_results, verbose=verbose)
        return QueryGuard(retriever, identity=self.identity())
