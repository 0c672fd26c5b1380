"""Fixtures of the dense tests: the tiny encoder as a bi-encoder, a few documents and queries, a tiny dataset."""
from __future__ import annotations

import pandas as pd
import pytest

from transformers_ir.dense import BiEncoder

DOCS = [
    {"docno": "d0", "text": "paris is the capital city of france"},
    {"docno": "d1", "text": "the river flows through the city"},
    {"docno": "d2", "text": "cells divide in the brain"},
    {"docno": "d3", "text": "protein gene expression in cancer cells"},
    {"docno": "d4", "text": "blood pressure and heart risk"},
    {"docno": "d5", "text": "neural ranking models score documents for search"},
    {"docno": "d6", "text": "water temperature and heat flow in the boundary layer"},
    {"docno": "d7", "text": ""},
]
QUERIES = pd.DataFrame({"qid": ["q1", "q2", "q3"],
                        "query": ["capital of france", "cancer cells protein", "heat flow"]})


class TinyDataset:
    """The few documents above as a dataset with title and text fields (what dataset indexes read)."""

    name = "tiny-dense-test"

    def __init__(self, docs=DOCS):
        self.docs = docs

    def get_corpus_iter(self, verbose=False):
        return iter([{"docno": d["docno"], "title": "title", "text": d["text"]} for d in self.docs])

    def text_fields(self):
        return ["title", "text"]

    def get_topics(self):
        return QUERIES.copy()


@pytest.fixture(scope="session")
def bi_encoder(tiny_encoder_path):
    with pytest.warns(UserWarning, match="mean pooling"):
        return BiEncoder.from_pretrained(str(tiny_encoder_path), batch_size=3, query_max_length=16,
                                         doc_max_length=24)


@pytest.fixture
def docs():
    return [dict(d) for d in DOCS]


@pytest.fixture
def queries():
    return QUERIES.copy()
