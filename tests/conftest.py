"""Shared fixtures: offline settings, tiny random models (session-scoped, built once), small frames."""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import tiny_models  # noqa: E402


@pytest.fixture(scope="session")
def tiny_mlm_path(tmp_path_factory):
    return tiny_models.bert_mlm(tmp_path_factory.mktemp("tiny-mlm"))


@pytest.fixture(scope="session")
def tiny_deberta_path(tmp_path_factory):
    return tiny_models.deberta_v2_classifier(tmp_path_factory.mktemp("tiny-deberta"))


@pytest.fixture(scope="session")
def tiny_classifier_path(tmp_path_factory):
    return tiny_models.bert_classifier(tmp_path_factory.mktemp("tiny-classifier"))


@pytest.fixture(scope="session")
def tiny_distilbert_path(tmp_path_factory):
    return tiny_models.distilbert(tmp_path_factory.mktemp("tiny-distilbert"))


@pytest.fixture(scope="session")
def tiny_t5_path(tmp_path_factory):
    return tiny_models.t5(tmp_path_factory.mktemp("tiny-t5"))


@pytest.fixture(scope="session")
def tiny_encoder_path(tmp_path_factory):
    return tiny_models.bert_encoder(tmp_path_factory.mktemp("tiny-encoder"))
