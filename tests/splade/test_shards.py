"""Scale-out: two processes (rank and world size from the environment, as torchrun sets them) encode their
slices; one step reads the shards into one index, equal to encoding in one process."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from transformers_ir.indexes import sparse_index
from transformers_ir.splade import encode_shard, launcher_rank, read_shards, shards_complete

from .conftest import DOCS

WORKER = textwrap.dedent("""
    import sys
    from transformers_ir.splade import Splade, encode_shard
    sys.path.insert(0, sys.argv[3])
    from conftest import DOCS
    splade = Splade.from_pretrained(sys.argv[1], batch_size=3, query_max_length=16, doc_max_length=24)
    corpus = [dict(d, docno=f"{d['docno']}-{i}") for i in range(3) for d in DOCS]
    encode_shard(splade, iter(corpus), sys.argv[2], block_size=4)
""")


def _corpus():
    return [dict(d, docno=f"{d['docno']}-{i}") for i in range(3) for d in DOCS]


def test_two_processes_encode_shards_read_into_one_index(tmp_path, tiny_mlm_path, splade):
    out = tmp_path / "shards"
    env = {**os.environ, "WORLD_SIZE": "2", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(tiny_mlm_path), str(out),
                               os.path.dirname(__file__)], env={**env, "RANK": str(rank)},
                              stderr=subprocess.PIPE, text=True) for rank in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    assert shards_complete(out) and len(list(out.glob("shard-*"))) == 2
    merged = list(read_shards(out))
    corpus = _corpus()
    assert [d["docno"] for d in merged] == [d["docno"] for d in corpus]  # corpus order, not shard order
    single = splade.encode_toks([d["text"] for d in corpus])
    for doc, toks in zip(merged, single):
        assert doc["toks"] == pytest.approx(toks, abs=1e-5)
    index = sparse_index(tmp_path / "idx", "pisa").indexer().index(read_shards(out))
    assert index.num_docs() == len(corpus)


def test_a_missing_rank_is_refused(tmp_path, splade):
    encode_shard(splade, iter(_corpus()), tmp_path, rank=1, world_size=3, block_size=2)
    assert not shards_complete(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"ranks \[0, 2\] of 3 have not finished"):
        list(read_shards(tmp_path))
    with pytest.raises(FileExistsError, match="already encoded"):
        encode_shard(splade, iter(_corpus()), tmp_path, rank=1, world_size=3, block_size=2)


def test_rank_from_the_launcher_environment(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS", "OMPI_COMM_WORLD_RANK",
                "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE"):
        monkeypatch.delenv(var, raising=False)
    assert launcher_rank() == (0, 1)
    monkeypatch.setenv("SLURM_PROCID", "3")
    monkeypatch.setenv("SLURM_NTASKS", "4")
    assert launcher_rank() == (3, 4)
    with pytest.raises(ValueError, match="outside"):
        encode_shard(None, [], "unused", rank=4, world_size=4)
