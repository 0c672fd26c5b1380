"""The data layer: offline ir_datasets caches, dataset counts, Cranfield's graded labels, TREC DL topics/qrels."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from transformers_ir import _paths
from transformers_ir.data import CRANFIELD_LABELS, JoinFields, get_dataset, prepare_collection
from transformers_ir.errors import DatasetUnavailable

DATA = _paths.data_dir()
needs_data = pytest.mark.skipif(DATA is None, reason="no offline data folder (../shared/data)")


@needs_data
@pytest.mark.parametrize(
    "name, docs, topics, qrels",
    [
        ("irds:vaswani", 11429, 93, 2083),
        ("irds:cranfield", 1400, 225, 1837),
        ("irds:beir/scifact/test", 5183, 300, 339),
        ("irds:beir/scifact/train", 5183, 809, 919),
    ],
)
def test_offline_dataset_counts(name, docs, topics, qrels):
    ds = get_dataset(name)
    assert ds.irds_ref().docs_count() == docs
    assert sum(1 for _ in ds.irds_ref().docs_iter()) == docs
    t = ds.get_topics()
    assert len(t) == topics and list(t.columns) == ["qid", "query"]
    assert t["query"].str.len().min() > 0
    q = ds.get_qrels()
    assert len(q) == qrels
    assert set(q["qid"]) <= set(t["qid"])


@needs_data
def test_vaswani_conversion_keeps_texts(tmp_path):
    """The NPL layout we write parses back to the TREC file's documents and queries, byte for byte."""
    assert prepare_collection("vaswani", DATA, tmp_path) == "prepared"
    assert prepare_collection("vaswani", DATA, tmp_path) == "cached"
    docs = (tmp_path / "vaswani" / "docs.txt").read_text()
    trec = (DATA / "vaswani" / "doc-text.trec").read_text()
    first = trec.split("</DOCNO>\n", 1)[1].split("</DOC>", 1)[0]
    assert docs.startswith("1\n" + first + "   /\n")
    assert docs.count("   /\n") == trec.count("<DOC>")
    assert not list(tmp_path.rglob(".tmp-*")), "temporary files left behind"


def test_missing_data_folder_is_unavailable(tmp_path):
    assert prepare_collection("vaswani", tmp_path / "nothing-here", tmp_path / "home") == "unavailable"
    assert prepare_collection("antique/test", DATA, tmp_path / "home") == "unavailable"
    assert not (tmp_path / "home" / "vaswani").exists()


@needs_data
def test_cranfield_labels_are_graded_most_relevant_highest():
    ds = get_dataset("irds:cranfield")
    raw = pd.read_csv(DATA / "cranfield" / "cranqrel", sep=r"\s+", header=None, names=["qid", "docno", "code"])
    labels = ds.get_qrels()
    assert labels["label"].value_counts().to_dict() == {
        CRANFIELD_LABELS[code]: n for code, n in raw["code"].value_counts().items()
    }
    merged = labels.merge(raw.astype({"qid": str, "docno": str}), on=["qid", "docno"])
    assert len(merged) == len(raw)
    complete = merged[merged["code"] == 1]["label"]
    minimum = merged[merged["code"] == 4]["label"]
    assert complete.min() > minimum.max() > 0
    assert (merged[merged["code"] == -1]["label"] == 0).all()


@needs_data
@pytest.mark.parametrize(
    "name, topics, qrels",
    [
        ("irds:msmarco-passage/trec-dl-2019/judged", 43, 9260),
        ("irds:msmarco-passage/trec-dl-2020/judged", 54, 11386),
        ("irds:msmarco-passage/trec-dl-2020", 200, 11386),
        ("irds:msmarco-passage/dev/small", 6980, 7437),
    ],
)
def test_msmarco_topics_and_qrels_without_passages(name, topics, qrels):
    ds = get_dataset(name)
    assert len(ds.get_topics()) == topics
    assert len(ds.get_qrels()) == qrels
    with pytest.raises(NotImplementedError, match="run"):
        ds.get_corpus_iter()


def test_unknown_dataset_names_the_fix():
    with pytest.raises(DatasetUnavailable, match="unknown dataset 'irds:no/such/dataset'.*ir_datasets list"):
        get_dataset("irds:no/such/dataset")


def test_dataset_neither_cached_nor_downloadable(tmp_path):
    """A real ir_datasets download that cannot connect (a closed local proxy stands for no network)."""
    env = {**os.environ, "IR_DATASETS_HOME": str(tmp_path), "HTTPS_PROXY": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9", "TRANSFORMERS_IR_DATA": str(tmp_path / "empty")}
    code = (
        "from transformers_ir.data import get_dataset\n"
        "from transformers_ir.errors import DatasetUnavailable\n"
        "try:\n    get_dataset('irds:nfcorpus/test').get_topics()\n"
        "except DatasetUnavailable as e:\n    print('UNAVAILABLE', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert "UNAVAILABLE dataset 'irds:nfcorpus/test' could not be loaded" in out.stdout, out.stderr[-2000:]
    assert "TRANSFORMERS_IR_DATA" in out.stdout


def test_join_fields_keeps_other_columns():
    frame = pd.DataFrame({"qid": ["1", "1"], "docno": ["a", "b"], "title": ["T", None], "text": ["body", "x"],
                          "score": [2.0, 1.0]})
    out = JoinFields(["title", "text"])(frame)
    assert out["text"].tolist() == ["T body", "x"]
    assert list(out.columns) == ["qid", "docno", "text", "score"]
    assert len(JoinFields(["title", "text"])(frame.iloc[:0])) == 0


@needs_data
def test_text_loader_joins_title_and_text():
    from transformers_ir.data import text_loader

    ds = get_dataset("irds:beir/scifact/test")
    doc = next(iter(ds.irds_ref().docs_iter()))
    out = text_loader(ds)(pd.DataFrame({"qid": ["1"], "query": ["q"], "docno": [doc.doc_id], "score": [1.0]}))
    assert out["text"].iloc[0] == f"{doc.title} {doc.text}"
    assert "title" not in out.columns


def test_paths_follow_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(_paths.HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv(_paths.DATA_ENV, str(tmp_path / "data"))
    assert _paths.home() == tmp_path / "home"
    assert _paths.index_dir() == tmp_path / "home" / "indexes"
    assert _paths.data_dir() == Path(tmp_path / "data")


@needs_data
def test_pyterrier_finds_our_datasets_through_its_provider_entry_point():
    """``pt.get_dataset("transformers-ir:<id>")`` is our get_dataset (PyTerrier's public dataset_provider point)."""
    import pyterrier as pt

    from transformers_ir.data import OfflineDataset

    ours = pt.get_dataset("transformers-ir:cranfield")
    assert isinstance(ours, OfflineDataset) and isinstance(ours, pt.datasets.Dataset)
    assert set(ours.get_qrels()["label"]) <= set(CRANFIELD_LABELS.values())


class _Corpus:
    """A dataset that knows how many documents it has, as ir_datasets' do."""

    def __init__(self, n, count=None):
        self.docs = [{"docno": f"d{i}", "title": f"t{i}", "text": f"body {i}"} for i in range(n)]
        self.count = count

    def text_fields(self):
        return ["title", "text"]

    def get_corpus_iter(self, verbose=False):
        return iter(self.docs)

    def irds_ref(self):
        if self.count is None:
            raise AttributeError("no ir_datasets dataset")
        return type("Ref", (), {"docs_count": lambda _: self.count, "dataset_id": lambda _: "demo"})()


def test_corpus_docs_says_what_it_reads_for_and_shows_the_total(capsys):
    """Encoding a corpus first says what for and how many documents, then one bar over the whole corpus counts
    to its total (the time left at the measured rate); without ``progress`` nothing is shown."""
    from transformers_ir.data import corpus_docs

    docs = list(corpus_docs(_Corpus(250, count=250), progress="encoding for demo"))
    assert docs[3] == {"docno": "d3", "text": "t3 body 3"}
    err = capsys.readouterr().err
    assert "transformers-ir: encoding for demo: 250 documents of" in err and "250/250" in err
    assert list(corpus_docs(_Corpus(5))) == list(corpus_docs(_Corpus(5), progress=None))
    assert capsys.readouterr().err == ""
    list(corpus_docs(_Corpus(5), progress="encoding for demo"))  # a corpus that does not say its size
    assert "encoding for demo: the documents of" in capsys.readouterr().err
