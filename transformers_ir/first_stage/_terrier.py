"""Terrier indexes and retrieval through PyTerrier (needs Java; imported lazily by the factory)."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyterrier as pt

from transformers_ir.first_stage._artifact import IndexArtifact
from transformers_ir.first_stage._corpus import CorpusGuard

# Characters Terrier's query parser gives meaning to (quotes, field:term, ^boost, +/- requirements, groups, ...).
_QUERY_SYNTAX = re.compile(r"[^\w\s]+")


def sanitise_query(query: str) -> str:
    """Make free text safe for Terrier's query parser: its operators become spaces."""
    return " ".join(_QUERY_SYNTAX.sub(" ", query).split())


class SanitisedRetriever(pt.Transformer):
    """A Terrier retriever fed queries stripped of Terrier's query syntax; the output keeps the original query,
    so a re-ranker downstream sees the user's text."""

    def __init__(self, retriever: pt.Transformer):
        self.retriever = retriever

    def transform(self, topics: pd.DataFrame) -> pd.DataFrame:
        pt.validate.query_frame(topics, extra_columns=["query"])
        if len(topics) == 0:
            return pd.DataFrame(columns=[*topics.columns, "docid", "docno", "rank", "score"])
        original = topics.set_index("qid")["query"]
        results = self.retriever(topics.assign(query=topics["query"].astype(str).map(sanitise_query)))
        return results.assign(query=results["qid"].map(original))

    def fuse_rank_cutoff(self, k: int):
        fused = getattr(self.retriever, "fuse_rank_cutoff", lambda k: None)(k)
        return SanitisedRetriever(fused) if fused is not None else None

    def __repr__(self) -> str:
        return f"SanitisedRetriever({self.retriever!r})"


class TerrierIndex(IndexArtifact):
    """A Terrier index built from a corpus iterator (PyTerrier's ``IterDictIndexer``), with Terrier's default
    English stemming (Porter) and stopwords.

    Example::

        index = TerrierIndex('indexes/vaswani')
        index.build(dataset.get_corpus_iter(), fields=['text'])
        bm25 = index.bm25(num_results=1000)
    """

    engine = "terrier"

    def build(
        self,
        docs,
        *,
        fields: list[str] | tuple[str, ...] = ("text",),
        max_docno_length: int = 64,
        overwrite: bool = False,
    ) -> TerrierIndex:
        self._build(docs, overwrite=overwrite, settings={"fields": list(fields), "max_docno_length": max_docno_length})
        return self

    def _build_into(self, tmp: Path, docs, *, fields: list[str], max_docno_length: int) -> int:
        guard = CorpusGuard(docs, max_docno_length=max_docno_length)
        indexer = pt.IterDictIndexer(str(tmp), text_attrs=list(fields), meta={"docno": max_docno_length})
        ref = indexer.index(iter(guard))
        guard.check(pt.IndexFactory.of(ref).getCollectionStatistics().getNumberOfDocuments())
        return guard.count

    def index_ref(self):
        self.metadata  # raises when not built
        return pt.IndexFactory.of(str(self.path))

    def retriever(self, wmodel: str = "BM25", *, num_results: int = 1000, controls: dict | None = None,
                  verbose: bool = False) -> pt.Transformer:
        """A Terrier retriever with any weighting model (``'BM25'``, ``'TF_IDF'``, ``'DPH'``, ...)."""
        retr = pt.terrier.Retriever(
            self.index_ref(), wmodel=wmodel, num_results=num_results, controls=controls or {}, verbose=verbose
        )
        return SanitisedRetriever(retr)

    def bm25(self, *, k1: float = 1.2, b: float = 0.75, num_results: int = 1000, verbose: bool = False):
        """BM25 with Terrier's defaults (k1 = 1.2, b = 0.75)."""
        return self.retriever("BM25", num_results=num_results, controls={"bm25.k_1": k1, "c": b}, verbose=verbose)

    def tf_idf(self, *, num_results: int = 1000, verbose: bool = False):
        return self.retriever("TF_IDF", num_results=num_results, verbose=verbose)
