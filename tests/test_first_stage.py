"""BM25 with both engines: builds, reopens, refuses what it must, and never keeps an incomplete index."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from transformers_ir.first_stage import dataset_index
from transformers_ir.indexes import CorpusGuard, PisaIndex
from transformers_ir.indexes._artifact import MARKER

DOCS = [
    {"docno": "d1", "text": "the cat sat on the mat"},
    {"docno": "d2", "text": "dogs chase cats in the park"},
    {"docno": "d3", "text": "stock markets fell sharply today"},
    {"docno": "d4", "text": "a cat and a dog became friends"},
]
TOPICS = pd.DataFrame({"qid": ["q1", "q2"], "query": ["cat", "markets"]})


def _failing_docs(after: int):
    for i, doc in enumerate(DOCS):
        if i == after:
            raise RuntimeError("source broke")
        yield doc


class FakeDataset:
    """A dataset-like object over DOCS (name, text_fields, get_corpus_iter), counting how often it is read."""

    def __init__(self, name="tiny-test-corpus"):
        self.name = name
        self.reads = 0

    def text_fields(self):
        return ["text"]

    def get_corpus_iter(self, verbose=False):
        self.reads += 1
        return iter(DOCS)


def test_pisa_build_retrieve_reopen(tmp_path):
    index = PisaIndex(tmp_path / "idx").build(iter(DOCS))
    assert index.built() and index.num_docs() == 4
    res = index.bm25(num_results=10)(TOPICS)
    assert res[res.qid == "q1"].sort_values("rank")["docno"].iloc[0] in {"d1", "d4"}
    assert set(res[res.qid == "q2"]["docno"]) == {"d3"}
    reopened = PisaIndex(tmp_path / "idx")
    assert reopened.num_docs() == 4
    pd.testing.assert_frame_equal(reopened.bm25(num_results=10)(TOPICS), res)


def test_pisa_empty_topics_and_unknown_terms(tmp_path):
    index = PisaIndex(tmp_path / "idx").build(iter(DOCS))
    out = index.bm25()(TOPICS.iloc[:0])
    assert len(out) == 0
    out = index.bm25()(pd.DataFrame({"qid": ["q9"], "query": ["zebra"]}))
    assert len(out) == 0


def test_existing_index_is_refused_unless_overwrite(tmp_path):
    index = PisaIndex(tmp_path / "idx").build(iter(DOCS))
    with pytest.raises(FileExistsError, match="overwrite=True"):
        index.build(iter(DOCS))
    index.build(iter(DOCS[:2]), overwrite=True)
    assert index.num_docs() == 2


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize("after", [0, 2])
def test_pisa_failing_source_marks_nothing_built(tmp_path, after):
    """pyterrier-pisa swallows the error in its writer thread; our guard re-raises it, and nothing is kept."""
    index = PisaIndex(tmp_path / "idx")
    with pytest.raises(RuntimeError, match="source broke"):
        index.build(_failing_docs(after))
    assert not index.built() and not (tmp_path / "idx").exists()
    assert not list(tmp_path.glob(".tmp-*"))
    index.build(iter(DOCS))
    assert index.num_docs() == 4


def test_pisa_refuses_docnos_with_spaces(tmp_path):
    with pytest.raises(ValueError, match="white space"):
        PisaIndex(tmp_path / "idx").build(iter([{"docno": "a b", "text": "x"}]))
    assert not (tmp_path / "idx").exists()


@pytest.mark.parametrize(
    "docs, message",
    [
        ([{"docno": "a", "text": "x"}, {"docno": "a", "text": "y"}], "duplicate docno 'a'"),
        ([{"docno": 7, "text": "x"}], "convert docnos to str"),
        ([{"text": "x"}], "no 'docno'"),
        ([], "corpus is empty"),
    ],
)
def test_corpus_guard_refuses(docs, message):
    guard = CorpusGuard(docs)
    with pytest.raises((ValueError, TypeError, KeyError), match=message):
        list(guard)
        guard.check()


def test_incomplete_folder_is_refused_then_rebuilt(tmp_path):
    (tmp_path / "idx").mkdir()
    (tmp_path / "idx" / "half-written").write_text("x")
    index = PisaIndex(tmp_path / "idx")
    assert index.incomplete()
    with pytest.raises(FileNotFoundError, match="build it first"):
        index.bm25()
    with pytest.raises(FileExistsError, match="incomplete index"):
        index.build(iter(DOCS))
    index.build(iter(DOCS), overwrite=True)
    assert index.built()


def test_dataset_index_built_once_and_interrupted_build_rebuilt(tmp_path):
    ds = FakeDataset()
    first = dataset_index(ds, "pisa", root=tmp_path)
    again = dataset_index(ds, "pisa", root=tmp_path)
    assert first == again and ds.reads == 1
    (first.path / MARKER).unlink()  # as if the build had been killed before its marker was written
    rebuilt = dataset_index(ds, "pisa", root=tmp_path)
    assert rebuilt.built() and ds.reads == 2


@pytest.mark.java
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_terrier_build_retrieve_and_query_syntax(tmp_path):
    from transformers_ir.indexes import TerrierIndex

    index = TerrierIndex(tmp_path / "t").build(iter(DOCS))
    assert index.num_docs() == 4
    topics = pd.DataFrame({"qid": ["q1", "q2", "q3"],
                           "query": ['"cat" (mat)^2 +dogs -x: what?', "markets'", "?!"]})
    res = index.bm25(num_results=10)(topics)
    assert set(res[res.qid == "q1"]["docno"]) >= {"d1", "d2"}
    assert res[res.qid == "q1"]["query"].iloc[0] == topics["query"].iloc[0], "original query must be kept"
    assert set(res[res.qid == "q2"]["docno"]) == {"d3"}
    assert len(index.tf_idf()(topics.iloc[:0])) == 0
    with pytest.raises(RuntimeError, match="source broke"):
        TerrierIndex(tmp_path / "t2").build(_failing_docs(2))
    assert not (tmp_path / "t2").exists()


def test_pisa_path_needs_no_java(tmp_path):
    """The Java-free path: with jnius made unimportable, PISA BM25 indexes, retrieves and evaluates."""
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules['jnius'] = None   # any attempt to start Java now fails
        import pandas as pd, pyterrier as pt, ir_measures
        from transformers_ir.indexes import PisaIndex
        docs = {DOCS!r}
        index = PisaIndex({str(tmp_path / 'idx')!r}).build(iter(docs))
        res = index.bm25()(pd.DataFrame({{'qid': ['q1'], 'query': ['cat']}}))
        qrels = pd.DataFrame({{'qid': ['q1'], 'docno': ['d1'], 'label': [1]}})
        qrels = qrels.rename(columns={{'qid': 'query_id', 'docno': 'doc_id', 'label': 'relevance'}})
        res = res.rename(columns={{'qid': 'query_id', 'docno': 'doc_id'}})
        print('NDCG', ir_measures.calc_aggregate([ir_measures.nDCG@10], qrels, res)[ir_measures.nDCG@10])
        print('JAVA', pt.java.started())
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "JAVA False" in out.stdout
    assert float(out.stdout.split("NDCG ")[1].split()[0]) > 0
