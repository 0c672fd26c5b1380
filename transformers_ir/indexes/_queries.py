"""Queries as every first stage gets them: checked, cleaned of what an engine chokes on, original text kept.

PISA's C++ bindings fail with a ``SystemError`` on a NUL character or a lone surrogate, and on a None query;
Terrier's query parser gives meaning to quotes, ``:``, ``^``, ``+``, ``-``, parentheses and ``?``; a numeric qid
would silently match no judgments. :class:`QueryGuard` refuses or cleans all of these before the engine sees them.
"""
from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd
import pyterrier as pt

from transformers_ir._quiet import engine_output
from transformers_ir._ranking import rank_results
from transformers_ir._validate import refuse_missing_queries

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+")  # control characters other than tab and newlines
# Characters Terrier's query parser gives meaning to (quotes, field:term, ^boost, +/- requirements, groups, ...).
_QUERY_SYNTAX = re.compile(r"[^\w\s]+")


def plain_query(query: str) -> str:
    """Text every engine can take: lone surrogates become '?', control characters become spaces."""
    return _CONTROL.sub(" ", query.encode("utf-8", "replace").decode("utf-8"))


def sanitise_query(query: str) -> str:
    """Make free text safe for Terrier's query parser: its operators become spaces."""
    return " ".join(_QUERY_SYNTAX.sub(" ", plain_query(query)).split())


def check_queries(topics: pd.DataFrame) -> None:
    """Refuse topics a first stage cannot answer correctly, saying how to fix them."""
    pt.validate.query_frame(topics, extra_columns=["query"])
    if len(topics) == 0:
        return
    if not all(isinstance(q, str) for q in topics["qid"]):
        raise TypeError(
            f"qid column holds {topics['qid'].map(lambda q: type(q).__name__).iloc[0]} values, not str (qrels use "
            f"str qids, so nothing would match): convert with topics.astype({{'qid': str}})"
        )
    refuse_missing_queries(topics)
    repeated = topics["qid"].duplicated()
    if repeated.any():
        raise ValueError(
            f"qids {topics.loc[repeated, 'qid'].unique()[:5].tolist()} appear more than once in the topics: "
            f"give every query its own qid"
        )


class QueryGuard(pt.Transformer):
    """A retriever fed checked queries cleaned by ``clean``; the output keeps the original query, so a re-ranker
    downstream sees the user's text, and is ranked by the library's one tie-break (score, then docno), so a cutoff
    after it (``% K``) keeps what that tie-break says.

    Args:
        retriever: the engine's retriever (query frame in, result frame out).
        clean: maps each query to what the engine is given (:func:`plain_query`, or :func:`sanitise_query`
            for Terrier).
        identity: what identifies the index the retriever reads (its path and build, see
            ``IndexArtifact.identity``): part of the cache key, so a rebuilt index is never served the old
            index's cached results. Without it the retriever is not cached.
    """

    def __init__(self, retriever: pt.Transformer, *, clean: Callable[[str], str] = plain_query,
                 identity: dict | None = None):
        self.retriever = retriever
        self.clean = clean
        self.identity = identity

    def transform(self, topics: pd.DataFrame) -> pd.DataFrame:
        check_queries(topics)
        if len(topics) == 0:
            return pd.DataFrame(columns=[*topics.columns, "docid", "docno", "rank", "score"])
        original = topics.set_index("qid")["query"]
        # not astype(str): with pyarrow installed, pandas 3 makes that an Arrow column, which refuses lone surrogates
        cleaned = topics.assign(query=topics["query"].map(lambda q: self.clean(str(q))))
        with engine_output(f"retrieval with {self.retriever!r}"):  # PISA builds its BM25 index on first use
            results = self.retriever(cleaned)
        query = original.reindex(results["qid"]).to_numpy(dtype=object)  # keeps the column's dtype (see above)
        return rank_results(results.assign(query=pd.Series(query, index=results.index, dtype=original.dtype)))

    def cache_key(self) -> dict | None:
        """The engine's configuration (its ``repr``: index, model, parameters, depth) with the index's build;
        None (not cached) when the index is not known."""
        if self.identity is None:
            return None
        return {"retriever": repr(self.retriever), "clean": self.clean.__name__, **self.identity}

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and (other.retriever, other.clean, other.identity) == (
            self.retriever, self.clean, self.identity)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.retriever, self.clean))

    def __repr__(self) -> str:
        return f"QueryGuard({self.retriever!r}, clean={self.clean.__name__})"
