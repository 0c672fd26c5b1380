"""Load: re-rank 1M candidate rows and encode-and-index 100k documents in one run, recording peak memory.

Each workload runs in its own Python process (so each peak is its own), at two sizes 10x apart, with tiny random
models (hidden 32, 2 layers: the streaming and the frames are what is measured, not the model's speed):

* re-rank: a cross-encoder over a result frame of N rows (``qid, query, docno, text``), ``batch_size`` 64;
* encode: SPLADE document encoding streamed (``doc_encoder().transform_iter``) into a PISA impact index.

For each it prints the RSS before the work (the input frame already built), the peak RSS during it, the growth,
and for re-ranking the growth beyond the output frame itself (a copy of the input's columns plus score and rank,
which is the result and must grow with the frame). The documented bound: re-ranking tokenises ``batch_size *
CHUNK_BATCHES`` pairs at a time from the frame's own column arrays, and ranking holds a few integer arrays of the
frame's length (codes, order, rank: about 20 bytes a row, measured 18 MB at 1M rows); the rest depends on the batch
size. Encoding streams documents; the PISA build inverts ``invert_batch`` documents (10,000) in memory at a time and
compresses one shard of ``shard_docs`` documents at a time (PISA compresses a whole index in memory, about 12 bytes
a posting: unsharded, ``--shard-docs 0``, the build grows with the corpus's postings). The last line is JSON.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/load.py                  # 100k and 1M rows; 10k and 100k documents
    HF_HUB_OFFLINE=1 .venv/bin/python bench/load.py --scale 0.01     # a quick check
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
MB = 2 ** 20


def _status(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def rss() -> int:
    """Current resident set size in bytes, after resetting the peak (Linux: ``5`` into ``clear_refs``), so that
    :func:`peak_rss` measures from here and not from building the input."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status("VmRSS")


def peak_rss() -> int:
    """Peak resident set size (VmHWM) since the last :func:`rss`."""
    return _status("VmHWM")


def texts(n: int, seed: int = 0) -> list[str]:
    import numpy as np
    from tiny_models import WORDS

    rng = np.random.default_rng(seed)
    lengths = rng.integers(8, 60, size=n)
    words = np.array(WORDS)
    return [" ".join(words[rng.integers(0, len(words), size=k)]) for k in lengths]


def rerank(n: int, models: Path, batch_size: int) -> dict:
    import numpy as np
    import pandas as pd

    from transformers_ir.cross_encoders import CrossEncoder

    reranker = CrossEncoder.from_pretrained(str(models / "classifier"), batch_size=batch_size, max_length=128)
    queries = texts(max(1, n // 1000), seed=1)
    frame = pd.DataFrame({"qid": np.repeat([f"q{i}" for i in range(len(queries))], 1000)[:n],
                          "docno": [f"d{i}" for i in range(n)], "text": texts(n)})
    frame["query"] = frame["qid"].map(dict(zip((f"q{i}" for i in range(len(queries))), queries)))
    frame_bytes = int(frame.memory_usage(deep=True).sum())
    reranker(frame.head(batch_size))  # warm-up outside the measurement
    before, start = rss(), time.perf_counter()
    out = reranker(frame)
    seconds = time.perf_counter() - start
    peak = peak_rss()
    out_bytes = int(out.memory_usage(deep=False).sum())  # new column arrays; the strings are shared
    return {"rows": n, "frame_mb": frame_bytes / MB, "before_mb": before / MB, "peak_mb": peak / MB,
            "growth_mb": (peak - before) / MB, "output_mb": out_bytes / MB,
            "beyond_output_mb": (peak - before - out_bytes) / MB, "rows_per_s": n / seconds}


def encode(n: int, models: Path, batch_size: int, shard_docs: int | None = None) -> dict:
    from transformers_ir.indexes import PisaSparseIndex
    from transformers_ir.splade import Splade

    splade = Splade.from_pretrained(str(models / "mlm"), batch_size=batch_size, doc_max_length=128)
    body = texts(n)
    docs = ({"docno": f"d{i}", "text": t} for i, t in enumerate(body))
    with tempfile.TemporaryDirectory() as tmp:
        index = PisaSparseIndex(Path(tmp) / "idx", shard_docs=shard_docs)
        before, start = rss(), time.perf_counter()
        index.build(splade.doc_encoder().transform_iter(docs))
        seconds = time.perf_counter() - start
        peak = peak_rss()
        assert index.num_docs() == n, index.num_docs()
    return {"docs": n, "before_mb": before / MB, "peak_mb": peak / MB, "growth_mb": (peak - before) / MB,
            "docs_per_s": n / seconds}


def child(workload: str, n: int, models: Path, batch_size: int, **options) -> dict:
    script = (f"import sys, json; sys.path[:0] = [{str(ROOT / 'bench')!r}, {str(ROOT / 'tests')!r}]\n"
              f"import load; print(json.dumps(load.{workload}({n}, load.Path({str(models)!r}), {batch_size}, "
              f"**{options!r})))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{workload}({n}) failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size (0.01 for a quick check)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--shard-docs", type=int, default=10_000,
                        help="documents per PISA shard when indexing (0: one unsharded index)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    import tiny_models

    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp)
        tiny_models.bert_classifier(models / "classifier")
        tiny_models.bert_mlm(models / "mlm")
        sizes = {"rerank": [int(100_000 * args.scale), int(1_000_000 * args.scale)],
                 "encode": [int(10_000 * args.scale), int(100_000 * args.scale)]}
        encode_options = {"shard_docs": args.shard_docs or None}
        results = {w: [child(w, n, models, args.batch_size, **(encode_options if w == "encode" else {})) for n in ns]
                   for w, ns in sizes.items()}
    print(f"tiny models (hidden 32, 2 layers), batch_size {args.batch_size}, PISA shard_docs "
          f"{args.shard_docs or 'none (one index)'}")
    for r in results["rerank"]:
        print(f"re-rank {r['rows']:>9,} rows: frame {r['frame_mb']:7.1f} MB; RSS {r['before_mb']:7.1f} -> peak "
              f"{r['peak_mb']:7.1f} MB (+{r['growth_mb']:6.1f}; output frame {r['output_mb']:5.1f}, beyond it "
              f"{r['beyond_output_mb']:+6.1f}); {r['rows_per_s']:,.0f} rows/s")
    for r in results["encode"]:
        print(f"encode+index {r['docs']:>9,} docs: RSS {r['before_mb']:7.1f} -> peak {r['peak_mb']:7.1f} MB "
              f"(+{r['growth_mb']:6.1f}); {r['docs_per_s']:,.0f} docs/s")
    small, large = results["rerank"]
    esmall, elarge = results["encode"]
    print(json.dumps({
        "batch_size": args.batch_size, "shard_docs": args.shard_docs or None,
        "rerank_rows": large["rows"], "rerank_peak_mb": round(large["peak_mb"], 1),
        "rerank_beyond_output_mb_small": round(small["beyond_output_mb"], 1),
        "rerank_beyond_output_mb_large": round(large["beyond_output_mb"], 1),
        "encode_docs": elarge["docs"], "encode_peak_mb": round(elarge["peak_mb"], 1),
        "encode_growth_mb_small": round(esmall["growth_mb"], 1),
        "encode_growth_mb_large": round(elarge["growth_mb"], 1),
    }))


if __name__ == "__main__":
    main()
