"""Stale results and ties at a cutoff: a cached run of a rebuilt index is never reused, and ``"%" = K`` keeps what
the (score descending, docno ascending) tie-break says, whatever order the documents came in."""
from __future__ import annotations

import itertools

import pandas as pd
import pyterrier as pt
import pytest

from transformers_ir import _paths
from transformers_ir._cutoff import Cutoff
from transformers_ir._ranking import top_k

pytestmark = pytest.mark.reliability
needs_data = pytest.mark.skipif(_paths.data_dir() is None, reason="no offline data folder (../shared/data)")

# incoming ranks disagree with docno among the tied documents: PyTerrier's % 2 would keep d3 and d1
TIED = pd.DataFrame({"qid": ["1"] * 4 + ["2"] * 2, "query": "q", "docno": ["d9", "d3", "d1", "d2", "b", "a"],
                     "score": [5.0, 1.0, 1.0, 1.0, 2.0, 2.0], "rank": [0, 1, 2, 3, 0, 1]})


def test_cutoff_breaks_ties_by_docno_before_cutting():
    kept = Cutoff(3)(TIED)
    assert kept.groupby("qid")["docno"].apply(list).to_dict() == {"1": ["d9", "d1", "d2"], "2": ["a", "b"]}
    assert (TIED.pipe(lambda f: f[f["rank"] < 3])["docno"].tolist() == ["d9", "d3", "d1", "b", "a"]), \
        "what PyTerrier's % 3 keeps (the incoming ranks)"
    pd.testing.assert_frame_equal(kept, top_k(TIED, 3))
    assert Cutoff(1)(TIED.iloc[:0]).empty
    for bad in (0, -1, 2.5, True, "10"):
        with pytest.raises(ValueError, match="positive whole number"):
            Cutoff(bad)


def _pipeline(tmp_path, body: str):
    file = tmp_path / "p.toml"
    file.write_text('[dataset]\ntopics = "irds:vaswani"\n[evaluation]\nmetrics = ["AP"]\n' + body)
    return file


@needs_data
def test_a_pipeline_cutoff_keeps_the_documented_tie_break(tmp_path):
    from transformers_ir.experiments import run_experiment

    rows = "".join(f"{r.qid} Q0 {r.docno} {r.rank} {r.score} x\n" for r in TIED.itertuples())
    (tmp_path / "tied.run").write_text(rows)
    file = _pipeline(tmp_path, '[[systems]]\nname = "cut"\npipeline = [{ component = "run", path = "tied.run", '
                                '"%" = 3 }]\n')
    result = run_experiment(file, verbose=False, cache=False)
    kept = result.runs[0].results.groupby("qid")["docno"].apply(list).to_dict()
    assert kept == {"1": ["d9", "d1", "d2"], "2": ["a", "b"]}


@needs_data
def test_a_rebuilt_index_is_not_served_the_cached_run_of_the_old_one(tmp_path, monkeypatch):
    """The BM25 cache key carries the index's build id: rebuilding at the same path (here over a tenth of the
    corpus) makes a new cache entry, and the AP follows the new index."""
    from transformers_ir.data import get_dataset
    from transformers_ir.experiments import run_experiment
    from transformers_ir.first_stage import dataset_index
    from transformers_ir.indexes import PisaIndex

    monkeypatch.setenv(_paths.HOME_ENV, str(tmp_path / "home"))
    file = _pipeline(tmp_path, '[[systems]]\nname = "bm25"\npipeline = [{ component = "bm25", engine = "pisa" }]\n')
    first = run_experiment(file, verbose=False, cache_dir=tmp_path / "caches")
    again = run_experiment(file, verbose=False, cache_dir=tmp_path / "caches")
    assert again.runs[0].stages[0].computed_rows == 0, "the same index: served from the cache"
    dataset = get_dataset("irds:vaswani")
    path = dataset_index(dataset, "pisa").path
    subset = list(itertools.islice(dataset.get_corpus_iter(verbose=False), 1000))
    PisaIndex(path).build(iter(subset), overwrite=True)
    rebuilt = run_experiment(file, verbose=False, cache_dir=tmp_path / "caches")
    stage = rebuilt.runs[0].stages[0]
    assert (stage.computed_rows, stage.cached_rows) == (len(rebuilt.topics), 0), "the old index's run was reused"
    assert set(rebuilt.runs[0].results["docno"]) <= {d["docno"] for d in subset}
    assert rebuilt.table["AP"].iloc[0] < first.table["AP"].iloc[0]


def test_a_retriever_without_a_known_index_is_not_cached():
    from transformers_ir.caching import cache_key
    from transformers_ir.indexes import QueryGuard

    inner = pt.Transformer.from_df(TIED, uniform=True)
    assert QueryGuard(inner).cache_key() is None and cache_key(QueryGuard(inner)) is None
    key = QueryGuard(inner, identity={"index": "/x", "build": "b1"}).cache_key()
    assert key["build"] == "b1"
