"""Ray encoding throughput against the single process: SPLADE-tiny document encoding of SciFact (the first
``--docs`` documents, title + abstract) by ``splade.doc_encoder()`` in this process, then by
``transformers_ir.scale.ray_map`` at 1 and 2 actors (one CPU each), side by side in one run. The Ray times include
starting the actors (each loads the model once) and moving the batches; ``ray.init`` itself is left out. The
outputs are compared row for row (max abs weight difference). The last line is JSON.

    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python bench/ray_encode.py --docs 1000
"""
from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pandas as pd  # noqa: E402


def max_diff(a: pd.Series, b: pd.Series) -> float:
    worst = 0.0
    for x, y in zip(a, b):
        if x.keys() != y.keys():
            return float("inf")
        worst = max([worst, *(abs(x[k] - y[k]) for k in x)])
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()

    import ray

    from transformers_ir.data import get_dataset
    from transformers_ir.scale import ray_map
    from transformers_ir.splade import Splade

    corpus = pd.DataFrame(get_dataset("irds:beir/scifact/test").get_corpus_iter(verbose=False)).head(args.docs)
    docs = pd.DataFrame({"docno": corpus["docno"],
                         "text": (corpus["title"].fillna("") + " " + corpus["text"].fillna("")).str.strip()})
    splade = Splade.from_pretrained("splade-tiny", batch_size=32)
    encoder = splade.doc_encoder()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=500 * 2**20)
    out = {"bench": "ray_encode", "docs": len(docs), "batch_size": args.batch_size}
    start = time.perf_counter()
    want = encoder(docs)
    out["single_s"] = round(time.perf_counter() - start, 2)
    print(f"single process: {out['single_s']}s", flush=True)
    for workers in [int(w) for w in args.workers.split(",")]:
        start = time.perf_counter()
        got = ray_map(encoder, docs, batch_size=args.batch_size, concurrency=workers, num_cpus=1)
        seconds = time.perf_counter() - start
        out[f"ray{workers}_s"] = round(seconds, 2)
        out[f"ray{workers}_overhead"] = round(seconds / out["single_s"] - 1, 3)
        out[f"ray{workers}_max_abs_diff"] = max_diff(want["toks"], got["toks"])
        assert got["docno"].tolist() == want["docno"].tolist()
        print(f"ray, {workers} actor(s): {seconds:.2f}s", flush=True)
    ray.shutdown()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
