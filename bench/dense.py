"""Dense corpus encoding: our ``BiEncoder`` against sentence-transformers' ``SentenceTransformer.encode``.

Both encode the same SciFact documents (text = title + abstract, 256 tokens) with the same model
(all-MiniLM-L6-v2 by default: mean pooling, normalised) into float32 vectors, ours through ``doc_encoder()`` (the
stage an indexer reads, one vector per row). Runs alternate slice by slice (ours, peer, ours, ...) so a busy
shared CPU slows both alike.

Agreement: every document's vector, ours against the peer's: the max abs difference and the minimum cosine.

bf16: measured only where the device computes it natively (CUDA with bf16, a CPU with AVX512-BF16 or AMX);
elsewhere ``precision='bf16'`` falls back to fp32 with a warning, and the script says so instead of timing an
emulation. Where it runs, the top-10 overlap of bf16 against fp32 retrieval (the first queries of SciFact, exact
search over the encoded documents) is reported too.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/dense.py --docs 200
"""
from __future__ import annotations

import argparse
import json
import os
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from transformers_ir import _device  # noqa: E402
from transformers_ir.data import get_dataset  # noqa: E402
from transformers_ir.dense import BiEncoder  # noqa: E402
from transformers_ir.models import resolve_model  # noqa: E402


def documents(n: int) -> pd.DataFrame:
    docs = pd.DataFrame(get_dataset("irds:beir/scifact/test").get_corpus_iter(verbose=False)).head(n)
    text = (docs["title"].fillna("") + " " + docs["text"].fillna("")).str.strip()
    return pd.DataFrame({"docno": docs["docno"], "text": text})


def as_matrix(output) -> np.ndarray:
    """A system's output as a float32 matrix: our frame's ``doc_vec`` column, or the peer's array."""
    if isinstance(output, pd.DataFrame):
        return np.stack(output["doc_vec"].to_list()).astype(np.float32)
    return np.asarray(output, dtype=np.float32)


def timed(systems: dict, frame: pd.DataFrame, slices: int, batch_size: int) -> tuple[dict, dict]:
    """docs/s of each system over the same slices, alternating, after a warm-up batch; and the vectors each gave
    (compared afterwards: nothing is encoded twice)."""
    for system in systems.values():
        system(frame.head(batch_size))
    seconds = dict.fromkeys(systems, 0.0)
    vectors: dict[str, list] = {name: [] for name in systems}
    for part in np.array_split(np.arange(len(frame)), slices):
        piece = frame.iloc[part]
        for name, system in systems.items():
            start = time.perf_counter()
            output = system(piece)
            seconds[name] += time.perf_counter() - start
            vectors[name].append(as_matrix(output))
    return ({name: len(frame) / s for name, s in seconds.items()},
            {name: np.concatenate(parts) for name, parts in vectors.items()})


def top10_overlap(a_docs: np.ndarray, b_docs: np.ndarray, a_queries: np.ndarray, b_queries: np.ndarray) -> float:
    a = np.argsort(-(a_queries @ a_docs.T), axis=1, kind="stable")[:, :10]
    b = np.argsort(-(b_queries @ b_docs.T), axis=1, kind="stable")[:, :10]
    return float(np.mean([len(set(x) & set(y)) / 10 for x, y in zip(a, b)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--slices", type=int, default=3, help="alternate the systems over this many slices")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    device = torch.device(args.device)
    frame = documents(args.docs)
    ours = BiEncoder.from_pretrained(args.model, doc_max_length=args.max_length, batch_size=args.batch_size,
                                     device=device, precision="fp32")
    st = SentenceTransformer(resolve_model(args.model), device=str(device))
    st.max_seq_length = args.max_length
    encoder = ours.doc_encoder()
    systems = {"ours fp32": encoder,
               "sentence-transformers": lambda f: st.encode(f["text"].tolist(), batch_size=args.batch_size)}
    native_bf16 = _device.supports("bf16", device)
    if native_bf16:
        fast = BiEncoder.from_pretrained(args.model, doc_max_length=args.max_length, batch_size=args.batch_size,
                                         device=device, precision="bf16")
        systems["ours bf16"] = fast.doc_encoder()
    rates, vectors = timed(systems, frame, args.slices, args.batch_size)
    mine, theirs = vectors["ours fp32"], vectors["sentence-transformers"]
    diff = float(np.abs(mine - theirs).max())
    cosine = float(((mine * theirs).sum(1) / np.linalg.norm(mine, axis=1) / np.linalg.norm(theirs, axis=1)).min())
    print(f"{args.model}: {len(frame)} SciFact documents, {args.max_length} tokens, batch {args.batch_size}, "
          f"{device}, {torch.get_num_threads()} threads, {args.slices} alternating slices")
    for name, rate in rates.items():
        print(f"{name:>22}: {rate:8.1f} docs/s")
    print(f"ours fp32 / sentence-transformers: {rates['ours fp32'] / rates['sentence-transformers']:.2f}x, max abs "
          f"diff {diff:.2e}, min cosine {cosine:.6f}")
    result = {"ours_docs_per_s": round(rates["ours fp32"], 2),
              "peer_docs_per_s": round(rates["sentence-transformers"], 2),
              "ratio": round(rates["ours fp32"] / rates["sentence-transformers"], 3),
              "max_abs_diff": float(f"{diff:.3g}"), "min_cosine": round(cosine, 7),
              "native_bf16": native_bf16}
    if native_bf16:
        queries = get_dataset("irds:beir/scifact/test").get_topics()["query"].head(100).tolist()
        bf16_docs = vectors["ours bf16"]
        result["bf16_docs_per_s"] = round(rates["ours bf16"], 2)
        result["bf16_speedup"] = round(rates["ours bf16"] / rates["ours fp32"], 3)
        result["bf16_top10_overlap"] = round(top10_overlap(mine, bf16_docs, ours.encode(queries, "query"),
                                                           fast.encode(queries, "query")), 4)
        print(f"bf16: {result['bf16_speedup']:.2f}x fp32, top-10 overlap {result['bf16_top10_overlap']:.3f}")
    else:
        result["bf16"] = (f"not measured: {device} has no native bf16 (a CPU needs AVX512-BF16 or AMX); "
                          f"precision='bf16' falls back to fp32 with a warning")
        print(f"bf16: {result['bf16']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
