"""SPLADE retrieval: queries/s through the PISA impact index against brute-force scoring (scipy.sparse), with
top-10 agreement and the nDCG@10 that quantisation costs, on the SciFact test queries.

Both engines index the same encoded corpus (SPLADE-tiny by default; encodings and indexes are built once under
``$TRANSFORMERS_IR_HOME/indexes`` and reopened) and answer the same encoded queries; only retrieval is timed,
alternating between the engines over ``--rounds`` rounds. Top-10 agreement is the mean per-query overlap of the
two top-10 lists: against the float brute force (what quantisation changes) and against brute force over the same
integer impacts (what the engine changes: ties only). Terrier's pretokenised index (Java) is measured too unless
``--no-terrier``.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/splade_retrieve.py
"""
from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import ir_measures  # noqa: E402
import pandas as pd  # noqa: E402

from transformers_ir.data import get_dataset  # noqa: E402
from transformers_ir.splade import Splade, dataset_splade_index  # noqa: E402


def top(frame: pd.DataFrame, k: int) -> dict[str, set[str]]:
    frame = frame.sort_values(["qid", "score", "docno"], ascending=[True, False, True])
    return {qid: set(group["docno"].head(k)) for qid, group in frame.groupby("qid")}


def agreement(a: pd.DataFrame, b: pd.DataFrame, qids, k: int = 10) -> float:
    ta, tb = top(a, k), top(b, k)
    return sum(len(ta.get(q, set()) & tb.get(q, set())) / k for q in qids) / len(qids)


def ndcg10(run: pd.DataFrame, qrels: pd.DataFrame) -> float:
    names = {"qid": "query_id", "docno": "doc_id", "label": "relevance"}
    return ir_measures.calc_aggregate([ir_measures.nDCG @ 10], qrels.rename(columns=names),
                                      run.rename(columns=names))[ir_measures.nDCG @ 10]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="splade-tiny")
    parser.add_argument("--num-results", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--terrier", action=argparse.BooleanOptionalAction, default=True,
                        help="also Terrier's pretokenised index (needs Java)")
    args = parser.parse_args()
    dataset = get_dataset("irds:beir/scifact/test")
    topics, qrels = dataset.get_topics(), dataset.get_qrels()
    splade = Splade.from_pretrained(args.model, device="cpu")
    pisa = dataset_splade_index(dataset, splade, engine="pisa", verbose=True)
    exact = dataset_splade_index(dataset, splade, engine="exact", verbose=True)
    queries = splade.query_encoder()(topics)
    systems = {"index": pisa.retriever(num_results=args.num_results),
               "bruteforce": exact.retriever(num_results=args.num_results)}
    if args.terrier:  # the alternative engine (Java): Terrier's pretokenised index over the same impacts
        terrier = dataset_splade_index(dataset, splade, engine="terrier", verbose=True)
        systems["terrier"] = terrier.retriever(num_results=args.num_results)
    results, seconds = {}, dict.fromkeys(systems, float("inf"))
    for system in systems.values():
        system(queries.head(5))  # warm-up: PISA opens its files, the exact engine loads its matrix
    for _ in range(args.rounds):
        for name, system in systems.items():
            start = time.perf_counter()
            results[name] = system(queries)
            seconds[name] = min(seconds[name], time.perf_counter() - start)
    quantised = exact.retriever(num_results=args.num_results, quantised=True)(queries)
    qps = {name: len(queries) / s for name, s in seconds.items()}
    qids = topics["qid"].tolist()
    top10 = agreement(results["index"], results["bruteforce"], qids)
    top10_impacts = agreement(results["index"], quantised, qids)
    scores = {name: ndcg10(run, qrels) for name, run in results.items()}
    scores["bruteforce-impacts"] = ndcg10(quantised, qrels)
    print(f"{args.model}: {len(queries)} SciFact test queries, top {args.num_results}, best of {args.rounds} rounds; "
          f"PISA scale {pisa.scale:g}")
    for name in systems:
        print(f"{name:>12}: {qps[name]:9.1f} queries/s  nDCG@10 {scores[name]:.4f}")
    print(f"top-10 agreement with float brute force {top10:.4f}, with brute force over the same impacts "
          f"{top10_impacts:.4f}; nDCG@10 quantised brute force {scores['bruteforce-impacts']:.4f} "
          f"(quantisation costs {scores['bruteforce'] - scores['index']:+.4f})")
    if "terrier" in results:
        vs_float = agreement(results["terrier"], results["bruteforce"], qids)
        vs_impacts = agreement(results["terrier"], quantised, qids)
        print(f"terrier: top-10 agreement with float brute force {vs_float:.4f}, with brute force over the same "
              f"impacts {vs_impacts:.4f}")
    print(json.dumps({"index_qps": round(qps["index"], 1), "bruteforce_qps": round(qps["bruteforce"], 1),
                      "ratio": round(qps["index"] / qps["bruteforce"], 2), "top10_agreement": round(top10, 4),
                      "top10_agreement_same_impacts": round(top10_impacts, 4),
                      "ndcg10_index": round(scores["index"], 4), "ndcg10_bruteforce": round(scores["bruteforce"], 4)}))


if __name__ == "__main__":
    main()
