"""Fixtures of the reliability suite: small built indexes over ``components.DOCS`` and a cached re-ranker."""
from __future__ import annotations

import pytest

from reliability.components import DOCS, needs


@pytest.fixture(scope="session")
def pisa_index(tmp_path_factory):
    from transformers_ir.first_stage import PisaIndex

    return PisaIndex(tmp_path_factory.mktemp("pisa") / "idx").build(iter(DOCS))


@pytest.fixture(scope="session")
def terrier_index(tmp_path_factory):
    from transformers_ir.first_stage import TerrierIndex

    return TerrierIndex(tmp_path_factory.mktemp("terrier") / "idx").build(iter(DOCS))


@pytest.fixture(scope="session")
def cached_cross_encoder(tmp_path_factory, tiny_classifier_path):
    ScorerCache = needs("transformers_ir.caching", "ScorerCache")
    CrossEncoder = needs("transformers_ir.cross_encoders", "CrossEncoder")
    reranker = CrossEncoder.from_pretrained(str(tiny_classifier_path), batch_size=4)
    return ScorerCache(tmp_path_factory.mktemp("cache") / "scores", reranker)


@pytest.fixture(scope="session")
def splade_index(tmp_path_factory, tiny_mlm_path):
    Splade = needs("transformers_ir.splade", "Splade")
    SpladeIndex = needs("transformers_ir.splade", "PisaSparseIndex")
    splade = Splade.from_pretrained(str(tiny_mlm_path), batch_size=4)
    index = SpladeIndex(tmp_path_factory.mktemp("splade") / "idx")
    (splade.doc_encoder() >> index.indexer()).index(iter(DOCS))
    return index
