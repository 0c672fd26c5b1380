"""The Ray backend: encoders and re-rankers mapped on Ray Data give, row for row, the single process's output;
Parquet outputs are read back by the indexing step and refused when from another model; missing Ray and missing
GPUs are clear errors."""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

ray = pytest.importorskip("ray")

from transformers_ir.cross_encoders import CrossEncoder  # noqa: E402
from transformers_ir.errors import CacheMismatch, UsageError  # noqa: E402
from transformers_ir.indexes import sparse_index  # noqa: E402
from transformers_ir.scale import RayStage, ray_map, read_docs, read_output  # noqa: E402
from transformers_ir.splade import Splade  # noqa: E402

WORDS = ("cells divide in the brain protein gene expression cancer river flows through city capital france heat "
         "water temperature blood pressure heart risk neural ranking models score documents search").split()


def _docs(n=23, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"docno": [f"d{i}" for i in range(n)],
                         "text": [" ".join(rng.choice(WORDS, size=int(rng.integers(2, 20)))) for _ in range(n)]})


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 2**20, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def splade(tiny_mlm_path):
    return Splade.from_pretrained(str(tiny_mlm_path), batch_size=4, query_max_length=16, doc_max_length=24)


def _max_diff(a, b) -> float:
    assert [x.keys() for x in a] == [y.keys() for y in b], "the same terms for every document"
    return max(abs(x[k] - y[k]) for x, y in zip(a, b) for k in x)


def test_encoding_on_ray_is_the_single_process_encoding(cluster, splade):
    docs = _docs()
    want = splade.doc_encoder().transform(docs)
    got = ray_map(splade.doc_encoder(), docs, batch_size=5, concurrency=2)
    assert got["docno"].tolist() == want["docno"].tolist()
    # texts are padded with other partners than in one process (batches cut elsewhere): fp32 rounding only
    assert _max_diff(got["toks"].tolist(), want["toks"].tolist()) <= 1e-5
    whole = ray_map(splade.doc_encoder(), docs, batch_size=len(docs))  # one batch: the very same computation
    assert whole["toks"].tolist() == want["toks"].tolist()


def test_reranking_on_ray_gives_the_same_scores_and_ranks(cluster, tiny_classifier_path):
    reranker = CrossEncoder.from_pretrained(str(tiny_classifier_path), batch_size=4)
    docs = _docs(12)
    frame = pd.DataFrame([{"qid": q, "query": query, "docno": d, "text": t}
                          for q, query in (("q1", "cancer cells"), ("q2", "river city"), ("q3", "heat"))
                          for d, t in zip(docs["docno"], docs["text"])])
    want = reranker(frame)
    got = ray_map(reranker, frame, batch_size=7, concurrency=2)  # batches cut across queries
    merged = want.merge(got, on=["qid", "docno"], suffixes=("", "_ray"))
    assert len(merged) == len(frame)
    assert np.abs(merged["score"] - merged["score_ray"]).max() <= 1e-5  # padding partners differ: rounding only
    assert (merged["rank"] == merged["rank_ray"]).all()
    staged = RayStage(reranker, batch_size=len(frame))  # one batch, as in one process: the very same scores
    pd.testing.assert_frame_equal(staged(frame)[["qid", "docno", "score", "rank"]],
                                  want[["qid", "docno", "score", "rank"]])
    assert staged.cache_key()["weights"] == reranker.cache_key()["weights"]


def test_parquet_output_feeds_the_indexer_and_refuses_another_model(cluster, splade, tiny_mlm_path, tmp_path):
    docs = _docs()
    out = ray_map(splade.doc_encoder(), docs, out=tmp_path / "enc", batch_size=6, concurrency=2)
    assert sorted(p.suffix for p in (out / "shards").iterdir()) and (out / "transformers_ir-scale.json").is_file()
    stored = list(read_docs(out, splade.doc_encoder()))
    assert [d["docno"] for d in stored] == docs["docno"].tolist()
    index = sparse_index(tmp_path / "idx", "exact").indexer().index(read_docs(out, splade.doc_encoder()))
    assert index.num_docs() == len(docs)
    pd.testing.assert_frame_equal(read_output(out)[["docno"]], docs[["docno"]])

    other = Splade.from_pretrained(str(tiny_mlm_path), batch_size=4, query_max_length=16, doc_max_length=24)
    other.model.get_output_embeddings().bias.data += 1.0
    with pytest.raises(CacheMismatch, match=r"written by .*Splade.*not by .*Splade"):
        list(read_docs(out, other.doc_encoder()))
    with pytest.raises(FileExistsError, match="overwrite=True"):
        ray_map(splade.doc_encoder(), docs, out=out)
    (out / "transformers_ir-scale.json").unlink()  # as if interrupted before the manifest
    with pytest.raises(FileNotFoundError, match="no complete ray_map output"):
        list(read_docs(out))


def test_a_cluster_without_the_gpus_asked_for_is_refused(cluster, splade):
    with pytest.raises(UsageError, match=r"0 GPUs.*num_gpus=1"):
        ray_map(splade.doc_encoder(), _docs(3), num_gpus=1)


def test_without_ray_the_error_names_the_extra(splade, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without the extra imports
    with pytest.raises(ImportError, match=r"transformers-ir\[ray\]"):
        ray_map(splade.doc_encoder(), _docs(3))
