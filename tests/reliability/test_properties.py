"""Properties that must always hold, over generated inputs (hypothesis):

* re-ranking returns exactly the input (qid, docno) rows, finite scores, rank from score (ties by docno) from 0;
* the same input gives the same scores (determinism), whatever the batch it is scored in;
* SPLADE weights are non-negative, and padding adds nothing (a text alone or padded in a batch: equal weights);
* retrieval through the PISA impact index equals brute force over the same integer impacts.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transformers_ir._ranking import rank_results

pytestmark = pytest.mark.reliability

WORDS = ["cat", "dog", "paris", "france", "cells", "cancer", "heart", "risk", "the", "of", "émigré", "🐱", "שלום"]
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
texts = st.lists(st.sampled_from(WORDS + [" ", "\t", "x" * 30]), max_size=40).map(" ".join)
rows = st.lists(st.tuples(st.sampled_from(["q1", "q2", "q3"]), st.sampled_from([f"d{i}" for i in range(8)]), texts),
                min_size=1, max_size=24)


@pytest.fixture(scope="module")
def reranker(tiny_classifier_path):
    from transformers_ir.cross_encoders import CrossEncoder

    return CrossEncoder.from_pretrained(tiny_classifier_path, batch_size=5, max_length=64, query_max_length=16)


@pytest.fixture(scope="module")
def splade(tiny_mlm_path):
    from transformers_ir.splade import Splade

    return Splade.from_pretrained(str(tiny_mlm_path), batch_size=3, doc_max_length=48)


@SETTINGS
@given(rows=rows)
def test_reranking_keeps_every_row_and_ranks_by_score(reranker, rows):
    frame = pd.DataFrame(rows, columns=["qid", "docno", "text"])
    frame["query"] = frame["qid"].map({"q1": "cat paris", "q2": "", "q3": "cancer cells heart"})
    frame["extra"] = np.arange(len(frame))
    out = reranker(frame)
    assert sorted(out["extra"]) == list(range(len(frame))), "every input row comes out once"
    kept = out.set_index("extra").loc[frame["extra"]]
    assert (kept[["qid", "docno", "text"]].to_numpy() == frame[["qid", "docno", "text"]].to_numpy()).all()
    assert np.isfinite(out["score"]).all()
    for _, group in out.groupby("qid"):
        ordered = group.sort_values(["score", "docno"], ascending=[False, True], kind="stable")
        assert sorted(group["rank"]) == list(range(len(group)))
        if not group.duplicated("docno").any():
            assert ordered["rank"].tolist() == list(range(len(group)))
    again = reranker(frame.sample(frac=1.0, random_state=0))  # another order, other batch-mates: same scores
    pd.testing.assert_series_equal(again.set_index("extra")["score"].sort_index(),
                                   out.set_index("extra")["score"].sort_index(), atol=1e-5, check_exact=False)


@SETTINGS
@given(batch=st.lists(texts, min_size=1, max_size=6))
def test_splade_weights_are_non_negative_and_padding_adds_nothing(splade, batch):
    together = splade.encode(batch, "doc").toarray()
    assert (together >= 0).all() and np.isfinite(together).all()
    for i, text in enumerate(batch):  # alone: no padding at all
        np.testing.assert_allclose(splade.encode([text], "doc").toarray()[0], together[i], atol=1e-5)
    if not any(t.strip() for t in batch):
        assert not together.any(), "texts without content weigh nothing"


toks = st.dictionaries(st.sampled_from(["cat", "dog", "paris", "cell", "risk", "gene", "wing", "mach"]),
                       st.floats(min_value=0.02, max_value=3.0), min_size=1, max_size=6)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=st.lists(toks, min_size=1, max_size=15), queries=st.lists(toks, min_size=1, max_size=4))
def test_index_retrieval_equals_brute_force(tmp_path_factory, docs, queries):
    from transformers_ir.indexes import sparse_index

    folder = tmp_path_factory.mktemp("prop")
    corpus = [{"docno": f"d{i}", "toks": t} for i, t in enumerate(docs)]
    pisa = sparse_index(folder / "pisa", "pisa").indexer().index(iter(corpus))
    exact = sparse_index(folder / "exact", "exact").indexer().index(iter(corpus))
    topics = pd.DataFrame({"qid": [f"q{i}" for i in range(len(queries))], "query": "", "query_toks": queries})
    got = rank_results(pisa.retriever(num_results=20)(topics))
    want = rank_results(exact.retriever(num_results=20, quantised=True)(topics))
    key = ["qid", "docno"]
    merged = got[key + ["score"]].merge(want[key + ["score"]], on=key, how="outer", suffixes=("_index", "_exact"))
    assert merged.notna().all().all(), "both return the same documents (those sharing a term with the query)"
    np.testing.assert_allclose(merged["score_index"], merged["score_exact"], rtol=1e-6)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["q1", "q10", "q2", "a"]), st.sampled_from([f"d{i}" for i in range(12)]),
                          st.sampled_from([0.0, 1.0, -1.0, 2.5, np.nan, np.inf, -np.inf])), min_size=1, max_size=40))
def test_ranking_is_one_sort_by_qid_then_score_then_docno(rows):
    """rank_results (which sorts by docno only inside runs of tied scores) orders every frame exactly as a stable
    sort on (qid, -score, docno) does, NaN scores last, duplicates kept in input order, rank from 0 per query."""
    frame = pd.DataFrame(rows, columns=["qid", "docno", "score"]).assign(row=range(len(rows)))
    want = frame.sort_values(["qid", "score", "docno"], ascending=[True, False, True], kind="stable")
    want = want.reset_index(drop=True).assign(rank=lambda f: f.groupby("qid").cumcount().astype("int64"))
    pd.testing.assert_frame_equal(rank_results(frame), want)
