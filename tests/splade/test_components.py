"""The SPLADE components of pipeline files: a dataset's index built once and reopened, the scorer, fusion."""
from __future__ import annotations

import pandas as pd
import pytest

from transformers_ir.registry import Context, registry
from transformers_ir.splade import Splade
from transformers_ir.splade._dataset import dataset_splade_index

from .conftest import TinyDataset


def test_dataset_index_is_built_once_and_reopened(tmp_path, splade):
    dataset = TinyDataset()
    index = dataset_splade_index(dataset, splade, root=tmp_path)
    built_at = index.metadata["build_seconds"], (index.path / "transformers_ir.json").stat().st_mtime_ns
    again = dataset_splade_index(dataset, splade, root=tmp_path)
    assert again == index and (again.path / "transformers_ir.json").stat().st_mtime_ns == built_at[1]
    exact = dataset_splade_index(dataset, splade, engine="exact", root=tmp_path)
    assert exact.path.parent == index.path.parent  # one encoding of the corpus, shared by the engines
    assert len(list(index.path.parent.glob("encodings/shard-*"))) == 1


def test_dataset_index_in_pisa_shards(tmp_path, splade):
    dataset = TinyDataset()
    whole = dataset_splade_index(dataset, splade, root=tmp_path)
    sharded = dataset_splade_index(dataset, splade, shard_docs=2, root=tmp_path)
    assert sharded.path != whole.path and sharded.metadata["shards"] == -(-len(dataset.docs) // 2) > 1
    assert len(list(whole.path.parent.glob("encodings/shard-*"))) == 1  # the encoding is shared
    columns, queries = ["qid", "docno", "score", "rank"], splade.query_encoder()(dataset.get_topics())
    # every document retrieved: no cut-off, so no choice among documents tied at it
    pd.testing.assert_frame_equal(*[index.retriever(num_results=len(dataset.docs))(queries)[columns]
                                    for index in (whole, sharded)])
    with pytest.raises(ValueError, match="engine 'pisa' only"):
        dataset_splade_index(dataset, splade, engine="exact", shard_docs=2, root=tmp_path)


def test_dataset_index_rebuilds_an_interrupted_build(tmp_path, splade, caplog):
    dataset = TinyDataset()
    index = dataset_splade_index(dataset, splade, root=tmp_path)
    (index.path / "transformers_ir.json").unlink()  # as if killed before the marker was written
    again = dataset_splade_index(dataset, splade, root=tmp_path)
    assert again.built() and again.num_docs() == len(dataset.docs) and "interrupted" in caplog.text


def test_other_weights_get_another_index(tmp_path, tiny_mlm_path, splade):
    other = Splade.from_pretrained(str(tiny_mlm_path), batch_size=3, query_max_length=16, doc_max_length=24)
    other.model.get_output_embeddings().bias.data += 1.0
    a = dataset_splade_index(TinyDataset(), splade, root=tmp_path)
    b = dataset_splade_index(TinyDataset(), other, root=tmp_path)
    assert a.path != b.path


def test_components_build_working_systems(tmp_path, monkeypatch, tiny_mlm_path):
    monkeypatch.setenv("TRANSFORMERS_IR_HOME", str(tmp_path))
    components = registry()
    ctx = Context(dataset=TinyDataset())
    params = {"model": str(tiny_mlm_path), "batch_size": 3, "doc_max_length": 24, "query_max_length": 16}
    retrieval = components["splade"].build(ctx, dict(params, num_results=5))
    topics = TinyDataset().get_topics()
    results = retrieval(topics)
    assert set(results["qid"]) == set(topics["qid"]) and results.groupby("qid").size().max() <= 5
    sharded = components["splade"].build(ctx, dict(params, num_results=5, shard_docs=2))(topics)
    assert len(list(tmp_path.rglob("pisa-scale*-shards2"))) == 1 and len(sharded) == len(results)
    rescored = components["splade-scorer"].build(ctx, params)(results.drop(columns=["query_toks"]))
    assert sorted(rescored["docno"]) == sorted(results["docno"])
    ctx.systems.update(a=retrieval, b=retrieval % 2)
    fused = components["fusion"].build(ctx, {"systems": ["a", "b"]})(topics)
    assert set(fused["qid"]) == set(topics["qid"])
    with pytest.raises(ValueError, match="not defined above"):
        components["fusion"].build(ctx, {"systems": ["a", "nope"]})


def test_the_seismic_engine_in_a_pipeline_file(tmp_path, monkeypatch, tiny_mlm_path):
    """engine = "seismic" with its search knobs: the same documents as exact on a corpus this small (knobs wide
    open); the knobs with another engine are refused, naming the engine."""
    pytest.importorskip("seismic")
    monkeypatch.setenv("TRANSFORMERS_IR_HOME", str(tmp_path))
    components, ctx, topics = registry(), Context(dataset=TinyDataset()), TinyDataset().get_topics()
    params = {"model": str(tiny_mlm_path), "batch_size": 3, "doc_max_length": 24, "query_max_length": 16,
              "num_results": 3}
    seismic = components["splade"].build(ctx, dict(params, engine="seismic", query_cut=100, heap_factor=1.0))
    exact = components["splade"].build(ctx, dict(params, engine="exact"))
    assert len(list(tmp_path.rglob("seismic-scale*"))) == 1
    got, want = seismic(topics), exact(topics)
    assert got[["qid", "docno"]].equals(want[["qid", "docno"]])
    assert got["score"].to_numpy() == pytest.approx(want["score"].to_numpy(), rel=1e-3)
    with pytest.raises(ValueError, match="engine 'seismic' only"):
        components["splade"].build(ctx, dict(params, engine="pisa", query_cut=5))


def test_scorer_reads_the_weights_an_index_build_stored(tmp_path, splade, monkeypatch):
    """Re-scoring a dataset whose SPLADE index is built encodes no document again, with the same scores."""
    from transformers_ir.data import text_loader
    from transformers_ir.splade import dataset_doc_weights

    dataset = TinyDataset()
    assert dataset_doc_weights(dataset, splade, root=tmp_path) is None  # nothing encoded yet
    index = dataset_splade_index(dataset, splade, root=tmp_path)
    results = (splade.query_encoder() >> index.retriever(num_results=5))(dataset.get_topics()).drop(
        columns=["query_toks"])
    encoded = splade.scorer(text_loader=text_loader(dataset))(results)
    stored = dataset_doc_weights(dataset, splade, root=tmp_path)
    calls = []
    encode = splade.encode
    monkeypatch.setattr(splade, "encode", lambda texts, rep="doc", **kw: calls.append(rep) or encode(texts, rep, **kw))
    read = splade.scorer(text_loader=text_loader(dataset), doc_weights=stored)(results)
    assert calls == ["query"], "only the queries are encoded"
    assert read[["qid", "docno", "rank"]].equals(encoded[["qid", "docno", "rank"]])
    assert read["score"].to_numpy() == pytest.approx(encoded["score"].to_numpy(), abs=1e-6)
    unknown = results.assign(docno="not-in-the-corpus").head(1)  # not stored: encoded from its text instead
    assert stored.rows(unknown["docno"]) is None
