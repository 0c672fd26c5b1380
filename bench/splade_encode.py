"""SPLADE document encoding: ours against sentence-transformers' ``SparseEncoder`` and pyterrier-splade's ``Splade``.

All three encode the same SciFact documents (text = title + abstract, 256 tokens) with the same model (SPLADE-tiny
by default, max pooling) into what each hands a PyTerrier user: ours and pyterrier-splade ``{term: weight}`` dicts
through their ``doc_encoder()`` transformers (pyterrier-splade's weights are its integer impacts), the
sentence-transformers peer a sparse tensor from ``encode`` (no dicts: the conversion would only slow it). Runs
alternate slice by slice (ours, peers, ours, ...) so a busy shared CPU slows every system alike.

Agreement: the float weights of every (document, term) — ours from ``Splade.encode``, the peers unscaled
(``SparseEncoder.encode``; pyterrier-splade's ``encode(format='np')``) — and the max abs difference over all.

pyterrier-splade is a benchmark peer only (CC BY-NC-SA): ``make bench`` installs it, the package never depends on it.

The detected hardware class and what ``precision='auto'`` chooses on it, and why, are printed and kept in the JSON
(``hardware``, ``auto_precision``, ``auto_reason``). Where auto is not fp32 (a GPU, an AMX CPU), ours runs a second
time with ``precision='auto'`` in the same alternation: its docs/s against our fp32 and the max abs weight difference.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/splade_encode.py --docs 2000
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

from transformers_ir._device import choose_precision  # noqa: E402
from transformers_ir.data import get_dataset  # noqa: E402
from transformers_ir.models import resolve_model  # noqa: E402
from transformers_ir.splade import Splade  # noqa: E402


def documents(n: int) -> pd.DataFrame:
    docs = pd.DataFrame(get_dataset("irds:beir/scifact/test").get_corpus_iter(verbose=False)).head(n)
    text = (docs["title"].fillna("") + " " + docs["text"].fillna("")).str.strip()
    return pd.DataFrame({"docno": docs["docno"], "text": text})


def peers(path: str, max_length: int, batch_size: int) -> dict:
    from sentence_transformers import SparseEncoder
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sparse_encoder.modules import SpladePooling

    encoders = {}
    st = SparseEncoder(modules=[Transformer(path, transformer_task="fill-mask", max_seq_length=max_length),
                                SpladePooling(pooling_strategy="max")], device="cpu")
    encoders["sentence-transformers"] = (
        lambda frame: st.encode(frame["text"].tolist(), batch_size=batch_size, convert_to_sparse_tensor=True),
        lambda texts: st.encode(texts, batch_size=batch_size, convert_to_tensor=True).to_dense().numpy())
    try:
        import pyterrier_splade
    except ImportError:
        warnings.warn("pyterrier-splade is not installed (make bench installs it): it is left out", stacklevel=1)
        return encoders
    pts = pyterrier_splade.Splade(path, max_length=max_length, device="cpu")
    pts_encoder = pts.doc_encoder(batch_size=batch_size)
    encoders["pyterrier-splade"] = (
        pts_encoder,
        lambda texts: np.stack([v for i in range(0, len(texts), batch_size)
                                for v in pts.encode(texts[i:i + batch_size], rep="d", format="np")]))
    return encoders


def max_abs_diff(ours: Splade, reference, texts: list[str]) -> float:
    mine = ours.encode(texts, "doc").toarray()
    theirs = reference(texts).astype(np.float32)
    return float(np.abs(mine - theirs).max())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="splade-tiny")
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--slices", type=int, default=4, help="alternate the systems over this many slices")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    torch.manual_seed(0)
    path = resolve_model(args.model)
    frame = documents(args.docs)
    ours = Splade.from_pretrained(args.model, doc_max_length=args.max_length, batch_size=args.batch_size,
                                  device="cpu")
    systems = {"ours": ours.doc_encoder()}
    choice = choose_precision("auto", ours.device)
    print(f"hardware {choice.hardware}: precision='auto' runs {choice.precision} ({choice.reason})")
    fast = None
    if choice.precision != "fp32":
        fast = Splade(ours.model, tokenizer=ours.tokenizer, batch_size=args.batch_size, device="cpu", precision="auto",
                      **ours.settings())
        systems[f"ours auto ({choice.precision})"] = fast.doc_encoder()
    references = {}
    for name, (encode, reference) in peers(path, args.max_length, args.batch_size).items():
        systems[name] = encode
        references[name] = reference
    seconds = dict.fromkeys(systems, 0.0)
    for system in systems.values():  # warm-up: first calls allocate and load lazily
        system(frame.head(args.batch_size))
    for part in np.array_split(np.arange(len(frame)), args.slices):
        piece = frame.iloc[part]
        for name, system in systems.items():
            start = time.perf_counter()
            system(piece)
            seconds[name] += time.perf_counter() - start
    rates = {name: len(frame) / s for name, s in seconds.items()}
    sample = frame["text"].head(256).tolist()
    diffs = {name: max_abs_diff(ours, reference, sample) for name, reference in references.items()}
    if fast is not None:
        diffs[f"ours auto ({choice.precision})"] = max_abs_diff(fast, lambda t: ours.encode(t, "doc").toarray(), sample)
    print(f"{args.model}: {len(frame)} SciFact documents, {args.max_length} tokens, batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads, {args.slices} alternating slices")
    for name, rate in rates.items():
        extra = "" if name == "ours" else (f"  ours/this {rates['ours'] / rate:.2f}x  max abs weight diff "
                                           f"{diffs[name]:.2e} (first {len(sample)} docs"
                                           f"{', against our fp32' if name.startswith('ours auto') else ''})")
        print(f"{name:>22}: {rate:8.1f} docs/s{extra}")
    peer_names = [n for n in rates if not n.startswith("ours")]
    best = max(peer_names, key=rates.get)
    summary = {"ours_docs_per_s": round(rates["ours"], 2), "best_peer": best,
               "best_peer_docs_per_s": round(rates[best], 2), "ratio": round(rates["ours"] / rates[best], 3),
               "max_abs_diff": float(f"{max(diffs[n] for n in peer_names):.3g}"),
               "hardware": choice.hardware, "auto_precision": choice.precision, "auto_reason": choice.reason}
    if fast is not None:
        name = f"ours auto ({choice.precision})"
        summary.update(auto_docs_per_s=round(rates[name], 2), auto_vs_fp32=round(rates[name] / rates["ours"], 3),
                       auto_max_abs_diff_vs_fp32=float(f"{diffs[name]:.3g}"))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
