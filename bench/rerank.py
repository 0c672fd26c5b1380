"""Re-ranking speed and agreement: our CrossEncoder (each precision) against sentence-transformers' CrossEncoder.

Both score the same candidates (BM25 top-k of the first SciFact test queries, text = title + abstract) with the
same model: the all-MiniLM-L6-v2 weights (6 layers, hidden 384) with one new head, seeded, copied into the
peer. Timings alternate between the systems slice by slice (a few queries at a time), and a plain matmul in
each dtype is timed between them, so a busy shared CPU slows every system alike.

Modes: fp32 (exact), bf16 (CPUs with AVX512-BF16/AMX; left out elsewhere), int8 (linear layers dynamically
quantised). The fast mode reported in the JSON is the fastest of those this CPU runs natively. The detected
hardware class and what ``precision='auto'`` chooses on it, and why, are printed first and kept in the JSON
(``hardware``, ``auto_precision``, ``auto_reason``): auto runs one of the modes measured here.

Prints, per mode: pairs/s, ratio to the peer, max abs score difference, mean top-10 overlap with the peer's
ranking, model FLOP/s as a fraction of matmul FLOP/s in the same dtype. A second workload (short passages of
varied length: title + first sentence) shows what length sorting saves in padding. The last line is JSON.

``--layers K`` adds a K-layer student (the first K layers of the same model, head copied: ``from_pretrained(...,
num_hidden_layers=K)``), timed in the same rotation as the rest, and reports its pairs/s beside the full fp32
model's (``layers_speedup`` in the JSON); its differences from the peer are the dropped layers', not an error.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/rerank.py --queries 30 --k 100
    HF_HUB_OFFLINE=1 .venv/bin/python bench/rerank.py --queries 10 --k 50 --layers 3
"""
from __future__ import annotations

import argparse
import json
import os
import re
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyterrier as pt  # noqa: E402
import torch  # noqa: E402

from transformers_ir import first_stage  # noqa: E402
from transformers_ir.cross_encoders import CrossEncoder  # noqa: E402
from transformers_ir.cross_encoders._base import CHUNK_BATCHES  # noqa: E402
from transformers_ir.data import get_dataset  # noqa: E402
from transformers_ir.models import resolve_model  # noqa: E402

MODES = ("fp32", "bf16", "int8")
MATMUL_N = 2048


def candidates(dataset, n_queries: int, k: int) -> pd.DataFrame:
    topics = dataset.get_topics().sort_values("qid", key=lambda s: s.astype(int)).head(n_queries)
    res = (first_stage.bm25(dataset, engine="pisa") % k >> pt.text.get_text(dataset, ["title", "text"]))(topics)
    return res.rename(columns={"text": "abstract"})


def with_text(frame: pd.DataFrame, short: bool) -> pd.DataFrame:
    """text = title + abstract (the long workload) or title + the abstract's first sentence (short, varied)."""
    body = frame["abstract"].fillna("")
    if short:
        body = body.map(lambda t: re.split(r"(?<=[.!?])\s", t, maxsplit=1)[0])
    return frame.assign(text=(frame["title"].fillna("") + " " + body).str.strip())


def bert_flops(config, widths: list[int], rows: list[int]) -> float:
    """Matmul FLOPs of a BERT classifier over batches padded to ``widths`` with ``rows`` pairs each."""
    h, f, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    total = 0.0
    for s, b in zip(widths, rows):
        per_layer = 2 * s * (4 * h * h + 2 * h * f) + 2 * 2 * s * s * h  # projections + FFN, QK^T and AV
        total += b * (layers * per_layer + 2 * h * h + 2 * h)  # + pooler and head
    return total


def our_batches(reranker: CrossEncoder, queries: list[str], docs: list[str]) -> tuple[list[int], list[int], int]:
    """The padded widths and sizes of the batches our re-ranker runs (same chunking and sort), and the real
    token count."""
    widths, rows, real = [], [], 0
    chunk = reranker.batch_size * CHUNK_BATCHES
    for start in range(0, len(queries), chunk):
        ids, _ = reranker._encode(queries[start:start + chunk], docs[start:start + chunk])
        lengths = np.sort(np.fromiter(map(len, ids), dtype=np.int64))[::-1]
        real += int(lengths.sum())
        for b in range(0, len(lengths), reranker.batch_size):
            widths.append(int(lengths[b]))
            rows.append(len(lengths[b:b + reranker.batch_size]))
    return widths, rows, real


def matmul_seconds(dtype: torch.dtype, reps: int) -> float:
    a = torch.randn(MATMUL_N, MATMUL_N).to(dtype)
    a @ a
    start = time.perf_counter()
    for _ in range(reps):
        a @ a
    return time.perf_counter() - start


def top10_overlap(frame: pd.DataFrame, ours: np.ndarray, peer: np.ndarray) -> float:
    def tops(scores):
        ranked = frame.assign(score=scores).sort_values(["qid", "score", "docno"], ascending=[True, False, True])
        return ranked.groupby("qid")["docno"].apply(lambda d: set(d.head(10)))

    a, b = tops(ours), tops(peer)
    return float(np.mean([len(a[q] & b[q]) / min(10, len(a[q])) for q in a.index]))


def run_workload(frame, ours: dict, peer, batch_size: int, slice_queries: int, matmul: bool):
    """Score ``frame`` with every system, alternating slice by slice; times, scores and matmul seconds."""
    qids = list(dict.fromkeys(frame["qid"]))
    names = ["peer", *ours]
    seconds = dict.fromkeys(names, 0.0)
    scores = {n: np.empty(len(frame), dtype=np.float32) for n in names}
    mm = {torch.float32: [0.0, 0], torch.bfloat16: [0.0, 0]}
    bf16 = "bf16" in ours
    for i in range(0, len(qids), slice_queries):
        rows = np.flatnonzero(frame["qid"].isin(qids[i:i + slice_queries]).to_numpy())
        q, d = frame["query"].iloc[rows].tolist(), frame["text"].iloc[rows].tolist()
        turn = i // slice_queries
        for name in names[turn % len(names):] + names[:turn % len(names)]:  # rotate who goes first
            start = time.perf_counter()
            if name == "peer":
                out = peer.predict(list(zip(q, d)), batch_size=batch_size, show_progress_bar=False)
            else:
                out = ours[name].score_pairs(q, d)
            seconds[name] += time.perf_counter() - start
            scores[name][rows] = out
        if matmul:
            for dtype, reps in ((torch.float32, 4), (torch.bfloat16, 12))[:2 if bf16 else 1]:
                mm[dtype][0] += matmul_seconds(dtype, reps)
                mm[dtype][1] += reps
    mm_flops = {dt: 2 * MATMUL_N**3 * n / s for dt, (s, n) in mm.items() if n}
    return seconds, scores, mm_flops


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--slice-queries", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layers", type=int, default=None, help="also time a student of the first K layers")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    from sentence_transformers import CrossEncoder as PeerCrossEncoder
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    torch.manual_seed(args.seed)
    path = resolve_model("all-MiniLM-L6-v2")
    fp32 = CrossEncoder.from_pretrained(path, num_labels=1, max_length=args.max_length, batch_size=args.batch_size,
                                        device="cpu", precision="fp32")
    ours = {"fp32": fp32}
    for mode in MODES[1:]:
        system = CrossEncoder(fp32.model, fp32.tokenizer, max_length=args.max_length, batch_size=args.batch_size,
                              device="cpu", precision=mode)
        if system.precision != mode:  # this CPU lacks it (bf16 without AVX512-BF16/AMX): fp32 already runs
            print(f"precision {mode!r} is not native on this CPU: left out")
            continue
        ours[mode] = system
    auto = CrossEncoder(fp32.model, fp32.tokenizer, max_length=args.max_length, device="cpu", precision="auto")
    choice = auto.precision_choice
    print(f"hardware {choice.hardware}: precision='auto' runs {choice.precision} ({choice.reason})")
    student_key = None
    if args.layers is not None:
        student = CrossEncoder.from_pretrained(path, num_labels=1, num_hidden_layers=args.layers,
                                               max_length=args.max_length, batch_size=args.batch_size, device="cpu",
                                               precision="fp32")
        student.model.classifier.load_state_dict(fp32.model.classifier.state_dict())
        student_key = f"fp32-L{args.layers}"
        ours[student_key] = student
    peer = PeerCrossEncoder(path, num_labels=1, max_length=args.max_length, activation_fn=torch.nn.Identity(),
                            device="cpu")
    peer[0].model.load_state_dict(fp32.model.state_dict())
    peer.eval()

    dataset = get_dataset("irds:beir/scifact/test")
    base = candidates(dataset, args.queries, args.k)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(base)} pairs "
          f"({base['qid'].nunique()} queries x top-{args.k}), max_length {args.max_length}, "
          f"batch size {args.batch_size}")
    for system in [None, *ours.values()]:  # warm up (None: the peer)
        (peer.predict([("warm up", "up")]) if system is None else system.score_pairs(["warm up"], ["up"]))

    results = {}
    for workload, short in (("long", False), ("short", True)):
        frame = with_text(base, short)
        seconds, scores, mm_flops = run_workload(frame, ours, peer, args.batch_size, args.slice_queries,
                                                 matmul=not short)
        q, d = frame["query"].tolist(), frame["text"].tolist()
        widths, rows, real = our_batches(fp32, q, d)
        flops = bert_flops(fp32.model.config, widths, rows)
        model_flops = {mode: bert_flops(system.model.config, widths, rows) for mode, system in ours.items()}
        padded = sum(w * r for w, r in zip(widths, rows))
        unsorted = sum(max(map(len, fp32._encode(q[b:b + args.batch_size], d[b:b + args.batch_size])[0]))
                       * len(q[b:b + args.batch_size]) for b in range(0, len(q), args.batch_size))
        n = len(frame)
        peer_rate = n / seconds["peer"]
        print(f"\n[{workload}] {'title + first sentence' if short else 'title + abstract'}: mean "
              f"{real / n:.0f} tokens per pair; real tokens / padded tokens: sorted {real / padded:.3f}, "
              f"input order {real / unsorted:.3f}")
        print(f"  peer (sentence-transformers CrossEncoder.predict, fp32): {peer_rate:.1f} pairs/s")
        for mode in ours:
            rate = n / seconds[mode]
            diff = float(np.abs(scores[mode] - scores["peer"]).max())
            overlap = top10_overlap(frame, scores[mode], scores["peer"])
            line = (f"  ours {mode}: {rate:.1f} pairs/s, ratio {rate / peer_rate:.2f}, max abs diff {diff:.2e}, "
                    f"top-10 overlap {overlap:.3f}")
            if not short:
                dtype = torch.bfloat16 if mode == "bf16" else torch.float32  # int8: against fp32 matmul
                flops = model_flops[mode]
                fraction = flops / seconds[mode] / mm_flops[dtype]
                line += (f", {flops / n / 1e9:.2f} GFLOP/pair, {flops / seconds[mode] / 1e9:.0f} GFLOP/s = "
                         f"{fraction:.2f} of {mode} matmul ({mm_flops[dtype] / 1e9:.0f} GFLOP/s)")
                results[mode] = {"ratio": rate / peer_rate, "diff": diff, "overlap": overlap,
                                 "fraction": fraction}
            print(line)
        if student_key is not None:
            speedup = seconds["fp32"] / seconds[student_key]
            print(f"  student {student_key} ({args.layers} of {fp32.model.config.num_hidden_layers} layers): "
                  f"{n / seconds[student_key]:.1f} pairs/s against the full fp32 model's {n / seconds['fp32']:.1f}: "
                  f"{speedup:.2f}x")
            if not short:
                results[student_key]["speedup"] = speedup
    fast = max((m for m in results if m not in ("fp32", student_key)), key=lambda m: results[m]["ratio"])
    summary = {"fp32_ratio": round(results["fp32"]["ratio"], 3),
               "fp32_max_abs_diff": float(f"{results['fp32']['diff']:.3g}"),
               "fp32_flops_fraction": round(results["fp32"]["fraction"], 3),
               "fast_mode": fast, "fast_ratio": round(results[fast]["ratio"], 3),
               "fast_top10_overlap": round(results[fast]["overlap"], 3),
               "fast_max_abs_diff": float(f"{results[fast]['diff']:.3g}"),
               "hardware": choice.hardware, "auto_precision": choice.precision, "auto_reason": choice.reason}
    if student_key is not None:
        summary["layers"] = args.layers
        summary["layers_speedup"] = round(results[student_key]["speedup"], 3)
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
