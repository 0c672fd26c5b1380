"""Terrier indexes and retrieval through PyTerrier (needs Java; imported lazily by the factory)."""
from __future__ import annotations

from pathlib import Path

import pyterrier as pt

from transformers_ir._quiet import engine_output
from transformers_ir._values import check_values
from transformers_ir.indexes._artifact import IndexArtifact
from transformers_ir.indexes._corpus import CorpusGuard
from transformers_ir.indexes._queries import QueryGuard, sanitise_query


def check_weighting_model(wmodel) -> None:
    """Refuse a Terrier weighting model name Terrier does not know, naming it and a few it does."""
    if not isinstance(wmodel, str) or not wmodel.strip():
        raise ValueError(f"wmodel must name a Terrier weighting model (e.g. 'BM25'), got {wmodel!r}")
    factory = pt.java.autoclass("org.terrier.matching.models.WeightingModelFactory")
    if factory.newInstance(wmodel) is None:
        raise ValueError(f"Terrier has no weighting model {wmodel!r}: use one of BM25, TF_IDF, DPH, PL2, DirichletLM, "
                         f"Hiemstra_LM, InL2, Tf (org.terrier.matching.models)")


class TerrierIndex(IndexArtifact):
    """A Terrier index built from a corpus iterator (PyTerrier's ``IterDictIndexer``), with Terrier's default
    English stemming (Porter) and stopwords.

    Example::

        index = TerrierIndex('indexes/vaswani')
        index.build(dataset.get_corpus_iter(), fields=['text'])
        bm25 = index.bm25(num_results=1000)
    """

    engine = "terrier"
    ARTIFACT_FORMAT = "transformers-ir.terrier"

    def build(
        self,
        docs,
        *,
        fields: list[str] | tuple[str, ...] = ("text",),
        max_docno_length: int = 64,
        overwrite: bool = False,
    ) -> TerrierIndex:
        """Build the index from documents, atomically (see :class:`IndexArtifact`).

        Args:
            docs: dicts with ``docno`` and the ``fields``.
            fields: the text fields indexed.
            max_docno_length: the longest docno Terrier's meta index stores.
            overwrite: replace a built (or interrupted) index.

        Returns:
            This index, built.

        Raises:
            FileExistsError: an index (or an interrupted build) is there and ``overwrite`` is False.
        """
        self._build(docs, overwrite=overwrite, settings={"fields": list(fields), "max_docno_length": max_docno_length})
        return self

    def _build_into(self, tmp: Path, docs, *, fields: list[str], max_docno_length: int) -> int:
        guard = CorpusGuard(docs, max_docno_length=max_docno_length, fields=fields)
        indexer = pt.IterDictIndexer(str(tmp), text_attrs=list(fields), meta={"docno": max_docno_length})
        ref = indexer.index(guard.stream())
        guard.check(pt.IndexFactory.of(ref).getCollectionStatistics().getNumberOfDocuments())
        return guard.count

    def index_ref(self):
        """PyTerrier's reference to the Terrier index, after checking it is complete and intact."""
        self.verify()  # raises when not built, or damaged since
        with engine_output("starting Java for Terrier"):  # PyTerrier's "Java started ..." line, Terrier's logging
            return pt.IndexFactory.of(str(self.path))

    def retriever(self, wmodel: str = "BM25", *, num_results: int = 1000, controls: dict | None = None,
                  verbose: bool = False) -> pt.Transformer:
        """A Terrier retriever with any weighting model (``'BM25'``, ``'TF_IDF'``, ``'DPH'``, ...); an unknown one is
        refused here (Terrier would fail on the first query with a NullPointerException)."""
        check_values(num_results=num_results, controls=controls)
        ref = self.index_ref()  # starts Java
        check_weighting_model(wmodel)
        retr = pt.terrier.Retriever(
            ref, wmodel=wmodel, num_results=num_results, controls=controls or {}, verbose=verbose
        )
        return QueryGuard(retr, clean=sanitise_query, identity=self.identity())

    def bm25(self, *, k1: float = 1.2, b: float = 0.75, num_results: int = 1000, verbose: bool = False):
        """BM25 with Terrier's defaults (k1 = 1.2, b = 0.75)."""
        check_values(k1=k1, b=b)
        return self.retriever("BM25", num_results=num_results, controls={"bm25.k_1": k1, "c": b}, verbose=verbose)

    def tf_idf(self, *, num_results: int = 1000, verbose: bool = False):
        """Terrier's TF-IDF (see :meth:`retriever`)."""
        return self.retriever("TF_IDF", num_results=num_results, verbose=verbose)
