"""Training groups from topics, qrels and a first stage's run; awkward queries are skipped and counted."""
import pandas as pd
import pytest

from transformers_ir.errors import UsageError
from transformers_ir.training import DataReport, GroupDataset, build_groups, read_triples
from transformers_ir.training._data import drop_missing_texts

TOPICS = pd.DataFrame({"qid": ["1", "2", "3", "4"], "query": ["paris capital", "cells", "no judgments", "  "]})
QRELS = pd.DataFrame({"qid": ["1", "1", "2", "4"], "docno": ["d1", "d2", "d5", "d1"], "label": [1, 2, 1, 1]})
RUN = pd.DataFrame({
    "qid": ["1"] * 6 + ["2"] * 2 + ["3"] * 2,
    "docno": ["d1", "d3", "d2", "d4", "d6", "d7", "d8", "d5", "d1", "d2"],
    "score": [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
})
TEXTS = {f"d{i}": f"text {i}" for i in range(1, 9)}


def test_one_group_per_judged_positive_with_judged_documents_excluded():
    report = DataReport()
    groups = build_groups(TOPICS, QRELS, RUN, group_size=3, depth=3, report=report)
    assert [(g.qid, g.positive) for g in groups] == [("1", "d1"), ("1", "d2"), ("2", "d5")]
    assert groups[0].candidates == ["d3", "d4", "d6"]  # top-3 of the run minus d1, d2 (judged)
    assert groups[1].label == 2.0
    assert (report.no_positive, report.empty_query, report.resampled) == (1, 1, 1)  # query 2 has 1 candidate


def test_few_candidates_skip_drops_the_query_and_counts_it():
    report = DataReport()
    groups = build_groups(TOPICS, QRELS, RUN, group_size=3, depth=3, few_candidates="skip", report=report)
    assert {g.qid for g in groups} == {"1"} and report.few_candidates == 1


def test_dataset_samples_with_replacement_when_candidates_are_few_and_is_deterministic():
    groups = build_groups(TOPICS, QRELS, RUN, group_size=4, depth=5)
    data = GroupDataset(groups, TEXTS, group_size=4, epochs=2, seed=1)
    assert len(data) == 6
    items = [data[i] for i in range(len(data))]
    assert all(len(g.docs) == 4 and g.labels[1:] == [0, 0, 0] for g in items)
    short = [g for g in items if g.qid == "2"]
    assert all(g.docnos[1:] == ["d8"] * 3 for g in short)
    again = GroupDataset(groups, TEXTS, group_size=4, epochs=2, seed=1)
    assert [again[i].docnos for i in range(6)] == [g.docnos for g in items]
    first, second = {tuple(items[i].docnos) for i in range(3)}, {tuple(items[i].docnos) for i in range(3, 6)}
    assert {d[0] for d in first} == {d[0] for d in second}  # every positive once per epoch


def test_documents_without_text_are_dropped_and_empty_training_data_is_an_error():
    groups = build_groups(TOPICS, QRELS, RUN, group_size=2, depth=3)
    report = DataReport()
    kept = drop_missing_texts(groups, {k: v for k, v in TEXTS.items() if k != "d5"}, report)
    assert [g.positive for g in kept] == ["d1", "d2"]
    with pytest.raises(UsageError, match="no training groups"):
        GroupDataset([], TEXTS, group_size=2)


def test_triples_by_id_or_by_text(tmp_path):
    ids = tmp_path / "ids.tsv"
    ids.write_text("1\td1\td3\n2\td5\td8\n")
    groups, by_id = read_triples(ids, TOPICS)
    assert by_id and groups[0].query == "paris capital" and groups[1].candidates == ["d8"]
    texts = tmp_path / "texts.tsv"
    texts.write_text("what is paris\tparis is the capital\tcells divide\n")
    groups, by_id = read_triples(texts, TOPICS)
    assert not by_id and groups[0].positive == "paris is the capital"
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\n")
    with pytest.raises(UsageError, match="needs 3"):
        read_triples(bad)
