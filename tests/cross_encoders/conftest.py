"""Re-rankers over the tiny random models, one per architecture, and a small result frame."""
from __future__ import annotations

import pandas as pd
import pytest
import tiny_models
from transformers import AutoModel, AutoTokenizer, T5EncoderModel, T5ForConditionalGeneration

from transformers_ir.cross_encoders import (
    BertCat,
    BertCatModel,
    CrossEncoder,
    MonoT5,
    RankT5Encoder,
    RankT5EncoderModel,
)

ARCHITECTURES = ["cross-encoder", "cross-encoder-2", "bert-cat", "rankt5-dense", "rankt5-lll", "monot5"]


@pytest.fixture(scope="session")
def tiny_classifier2_path(tmp_path_factory):
    return tiny_models.bert_classifier(tmp_path_factory.mktemp("tiny-classifier-2"), num_labels=2, seed=1)


@pytest.fixture(scope="session")
def build(tiny_classifier_path, tiny_classifier2_path, tiny_distilbert_path, tiny_t5_path):
    """``build(architecture, **settings)``: a fresh re-ranker of that architecture over the tiny models."""
    import torch

    def make(arch: str, **settings):
        torch.manual_seed(0)  # the heads that are not in the tiny checkpoints
        if arch == "cross-encoder":
            return CrossEncoder.from_pretrained(tiny_classifier_path, **settings)
        if arch == "cross-encoder-2":
            return CrossEncoder.from_pretrained(tiny_classifier2_path, **settings)
        if arch == "bert-cat":
            model = BertCatModel(AutoModel.from_pretrained(tiny_distilbert_path))
            return BertCat(model, AutoTokenizer.from_pretrained(tiny_distilbert_path), **settings)
        tokenizer = AutoTokenizer.from_pretrained(tiny_t5_path)
        if arch.startswith("rankt5"):
            head = "dense" if arch == "rankt5-dense" else "linear-layernorm-linear"
            model = RankT5EncoderModel(T5EncoderModel.from_pretrained(tiny_t5_path), head=head)
            return RankT5Encoder(model, tokenizer, **settings)
        return MonoT5(T5ForConditionalGeneration.from_pretrained(tiny_t5_path), tokenizer, **settings)

    return make


@pytest.fixture
def frame():
    """Two queries, varied document lengths, a duplicate row, an empty document, non-ASCII text."""
    return pd.DataFrame({
        "qid": ["q1", "q1", "q1", "q1", "q2", "q2", "q2"],
        "query": ["what protein causes cancer"] * 4 + ["heart risk of blood pressure"] * 3,
        "docno": ["d1", "d2", "d3", "d1", "d4", "d5", "d6"],
        "text": ["the protein gene study results", "cancer", "patients with cancer treatment in clinical trial "
                 "showed lower risk and higher response", "the protein gene study results",
                 "blood pressure and heart risk", "", "r\u00e9sultat \u00e9tude c\u0153ur \u5fc3\u810f"],
        "score": [9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0],
        "rank": [0, 1, 2, 3, 0, 1, 2],
        "extra": list("abcdefg"),
    })
