"""Scale-out: two processes (rank and world size from the environment, as torchrun sets them) encode their
slices; one step reads the shards back, in corpus order, equal to encoding in one process."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from transformers_ir.dense import encode_shard, read_shards

from .conftest import DOCS

WORKER = textwrap.dedent("""
    import sys
    from transformers_ir.dense import BiEncoder, encode_shard
    sys.path.insert(0, sys.argv[3])
    from conftest import DOCS
    model = BiEncoder.from_pretrained(sys.argv[1], batch_size=3, query_max_length=16, doc_max_length=24,
                                      pooling="mean")
    corpus = [dict(d, docno=f"{d['docno']}-{i}") for i in range(3) for d in DOCS]
    encode_shard(model, iter(corpus), sys.argv[2], block_size=4)
""")


def _corpus():
    return [dict(d, docno=f"{d['docno']}-{i}") for i in range(3) for d in DOCS]


def test_two_processes_encode_shards_read_in_corpus_order(tmp_path, tiny_encoder_path, bi_encoder):
    out = tmp_path / "shards"
    env = {**os.environ, "WORLD_SIZE": "2", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(tiny_encoder_path), str(out),
                               os.path.dirname(__file__)], env={**env, "RANK": str(rank)},
                              stderr=subprocess.PIPE, text=True) for rank in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    assert len(list(out.glob("shard-*"))) == 2
    merged = list(read_shards(out))
    corpus = _corpus()
    assert [d["docno"] for d in merged] == [d["docno"] for d in corpus]  # corpus order, not shard order
    single = bi_encoder.encode([d["text"] for d in corpus], "doc")
    assert np.abs(np.stack([d["doc_vec"] for d in merged]) - single).max() <= 1e-5


def test_a_missing_rank_is_refused(tmp_path, bi_encoder):
    encode_shard(bi_encoder, iter(_corpus()), tmp_path, rank=1, world_size=3, block_size=2)
    with pytest.raises(FileNotFoundError, match=r"ranks \[0, 2\] of 3 have not finished"):
        list(read_shards(tmp_path))
    with pytest.raises(FileExistsError, match="already encoded"):
        encode_shard(bi_encoder, iter(_corpus()), tmp_path, rank=1, world_size=3, block_size=2)
