"""The public transformers the bad-input matrix runs against, as one table of component factories.

Adding a component is one line: ``Factory(name, role, build)``, where ``build(get)`` returns the transformer
(``get`` fetches a pytest fixture, e.g. a tiny model path, or a built index). A factory whose package is not in
the tree yet is skipped with the reason.

Roles say what input a component takes:

| role | input | output checked |
|---|---|---|
| retriever | topics (``qid, query``) | result frame, finite scores |
| reranker | result frame (``qid, query, docno, text``) | the same pairs, finite scores, rank = score then docno |
| indexer | documents (dicts with ``docno, text``) | all documents indexed and retrievable |
| query-encoder | topics | ``query_toks`` with finite, non-negative weights |
| doc-encoder | documents frame (``docno, text``) | ``toks`` with finite, non-negative weights |
| fusion | two result frames of the same queries | one result frame: finite scores, each pair once, ranked |
| pipeline-file | the bytes of a pipeline ``.toml`` | parsed (or refused naming the file and the problem) |
| training-file | the bytes of a training ``.toml`` | parsed (or refused naming the file and the problem) |
| stored-file | a corruption of a JSON file we wrote (index marker, cache metadata, model settings) | opened |
"""
from __future__ import annotations

import functools
import importlib.util
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

DOCS = [
    {"docno": "d1", "text": "the cat sat on the mat"},
    {"docno": "d2", "text": "dogs chase cats in the park"},
    {"docno": "d3", "text": "stock markets fell sharply today"},
    {"docno": "d4", "text": "a cat and a dog became friends"},
    {"docno": "d5", "text": "protein gene expression in cancer cells"},
]


@dataclass(frozen=True)
class Factory:
    name: str
    role: str
    build: Callable[[Callable[[str], object]], object]
    marks: tuple = field(default=())

    def param(self):
        return pytest.param(self, id=self.name, marks=self.marks)


@functools.cache
def _untracked(module: str) -> bool:
    """In a git checkout, whether the module's file is not committed yet (work in progress of another author)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not (ROOT / ".git").exists():
        return False
    done = subprocess.run(["git", "ls-files", "--error-unmatch", spec.origin], cwd=ROOT, capture_output=True)
    return done.returncode != 0


def needs(module: str, attr: str):
    """``module.attr``, or a skip naming what has not landed in git yet."""
    try:
        if _untracked(module):
            raise ImportError(f"{module} is not committed yet")
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        pytest.skip(f"{module}.{attr} is not in git yet ({type(e).__name__}: {e})")


def _pisa_indexer(get):
    PisaIndex = needs("transformers_ir.indexes", "PisaIndex")
    return lambda docs, path: PisaIndex(path).build(docs)


def _terrier_indexer(get):
    TerrierIndex = needs("transformers_ir.indexes", "TerrierIndex")
    return lambda docs, path: TerrierIndex(path).build(docs)


def _reranker(cls: str, fixture: str, **kwargs):
    def build(get):
        return needs("transformers_ir.cross_encoders", cls).from_pretrained(str(get(fixture)), batch_size=4, **kwargs)

    return build


def _bert_cat(get):
    from transformers import AutoModel, AutoTokenizer

    BertCat, BertCatModel = needs("transformers_ir.cross_encoders", "BertCat"), needs(
        "transformers_ir.cross_encoders", "BertCatModel")
    path = get("tiny_distilbert_path")
    return BertCat(BertCatModel(AutoModel.from_pretrained(path)), AutoTokenizer.from_pretrained(path), batch_size=4)


def _rankt5(get):
    from transformers import AutoTokenizer, T5EncoderModel

    RankT5Encoder, RankT5EncoderModel = needs("transformers_ir.cross_encoders", "RankT5Encoder"), needs(
        "transformers_ir.cross_encoders", "RankT5EncoderModel")
    path = get("tiny_t5_path")
    return RankT5Encoder(RankT5EncoderModel(T5EncoderModel.from_pretrained(path)), AutoTokenizer.from_pretrained(path),
                         batch_size=4)


def _splade(get):
    return needs("transformers_ir.splade", "Splade").from_pretrained(str(get("tiny_mlm_path")), batch_size=4)


def _dense(get):
    return needs("transformers_ir.dense", "BiEncoder").from_pretrained(str(get("tiny_encoder_path")), batch_size=4,
                                                                      pooling="mean")


#: The queries the fusion cases fuse runs of.
FUSION_QUERIES = ("q1", "q2")


def _fuse(method: str):
    def build(get):
        import pandas as pd

        fuse = needs("transformers_ir.first_stage", "fuse")
        queries = pd.DataFrame({"qid": list(FUSION_QUERIES), "query": ["cat", "dog"]})
        return lambda runs: fuse(runs, queries, method=method, num_results=10)

    return build


def _fusion_transformer(get):
    import pandas as pd
    import pyterrier as pt

    Fusion = needs("transformers_ir.first_stage", "Fusion")
    queries = pd.DataFrame({"qid": list(FUSION_QUERIES), "query": ["cat", "dog"]})
    return lambda runs: Fusion([pt.Transformer.from_df(r, uniform=True) for r in runs])(queries)


def _file_parser(kind: str):
    def build(get):
        if kind == "pipeline":
            parse = needs("transformers_ir.experiments", "parse_pipeline")
        else:
            parse = needs("transformers_ir.training", "parse_training_config")

        def run(data: bytes, tmp_path: Path):
            (tmp_path / "p.toml").write_bytes(data)
            return parse(tmp_path / "p.toml")

        return run

    return build


def _stored(kind: str):
    """Build the artifact, corrupt its JSON file with the case's function, open it again."""

    def build(get):
        def run(corrupt, tmp_path: Path):
            if kind == "index-marker":
                from transformers_ir.indexes import PisaIndex

                index = PisaIndex(tmp_path / "built").build(iter(DOCS))
                corrupt(index.path / "transformers_ir.json")
                return PisaIndex(index.path).bm25()
            if kind == "cache-metadata":
                import pyterrier as pt

                from transformers_ir.caching import ScorerCache

                scorer = pt.apply.doc_score(lambda row: 1.0)
                ScorerCache(tmp_path / "cache", scorer, config={"model": "one"})
                corrupt(tmp_path / "cache" / "transformers_ir_cache.json")
                return ScorerCache(tmp_path / "cache", scorer, config={"model": "one"})
            if kind == "splade-settings":
                Splade = needs("transformers_ir.splade", "Splade")
                Splade.from_pretrained(str(get("tiny_mlm_path"))).save_pretrained(tmp_path / "model")
                corrupt(tmp_path / "model" / "transformers_ir_settings.json")
                return Splade.from_pretrained(str(tmp_path / "model"))
            CrossEncoder = needs("transformers_ir.cross_encoders", "CrossEncoder")
            CrossEncoder.from_pretrained(str(get("tiny_classifier_path"))).save_pretrained(tmp_path / "model")
            corrupt(tmp_path / "model" / "transformers_ir_settings.json")
            return CrossEncoder.from_pretrained(str(tmp_path / "model"))

        return run

    return build


java = (pytest.mark.java,)

#: Every public transformer the matrix covers; one line per component.
FACTORIES = [
    Factory("pisa-bm25", "retriever", lambda get: get("pisa_index").bm25(num_results=10)),
    Factory("terrier-bm25", "retriever", lambda get: get("terrier_index").bm25(num_results=10), java),
    Factory("pisa-index", "indexer", _pisa_indexer),
    Factory("terrier-index", "indexer", _terrier_indexer, java),
    Factory("CrossEncoder", "reranker", _reranker("CrossEncoder", "tiny_classifier_path")),
    Factory("BertCat", "reranker", _bert_cat),
    Factory("RankT5Encoder", "reranker", _rankt5),
    Factory("MonoT5", "reranker", _reranker("MonoT5", "tiny_t5_path")),
    Factory("splade-scorer", "reranker", lambda get: _splade(get).scorer()),
    Factory("splade-query-encoder", "query-encoder", lambda get: _splade(get).query_encoder()),
    Factory("splade-doc-encoder", "doc-encoder", lambda get: _splade(get).doc_encoder()),
    Factory("splade-retriever", "retriever",
            lambda get: _splade(get).query_encoder() >> get("splade_index").retriever()),
    Factory("dense-scorer", "reranker", lambda get: _dense(get).scorer()),
    Factory("dense-retriever", "retriever", lambda get: _dense(get).retriever(get("dense_index"))),
    Factory("scorer-cache", "reranker", lambda get: get("cached_cross_encoder")),
    Factory("fuse-rrf", "fusion", _fuse("rrf")),
    Factory("fuse-interpolate", "fusion", _fuse("interpolate")),
    Factory("Fusion", "fusion", _fusion_transformer),
    Factory("parse_pipeline", "pipeline-file", _file_parser("pipeline")),
    Factory("parse_training_config", "training-file", _file_parser("training")),
    Factory("index-marker", "stored-file", _stored("index-marker")),
    Factory("cache-metadata", "stored-file", _stored("cache-metadata")),
    Factory("splade-settings", "stored-file", _stored("splade-settings")),
    Factory("reranker-settings", "stored-file", _stored("reranker-settings")),
]


def by_role(*roles: str) -> list:
    return [f.param() for f in FACTORIES if f.role in roles]
