"""Pipeline-file components of the SPLADE family, and fusion of first stages."""
from __future__ import annotations

import functools
from typing import Literal

import pyterrier as pt

from transformers_ir.data import text_loader
from transformers_ir.experiments._registry import Context, component
from transformers_ir.first_stage._fusion import Fusion
from transformers_ir.splade._dataset import dataset_doc_weights, dataset_splade_index
from transformers_ir.splade._model import Splade
from transformers_ir.splade._toks import DEFAULT_SCALE


@functools.lru_cache(maxsize=4)
def _load(model: str, pooling: str | None, query_max_length: int | None, doc_max_length: int | None,
          query_top_k: int | None, doc_top_k: int | None, threshold: float | None, batch_size: int) -> Splade:
    """One loaded model per configuration, shared by the components of a run."""
    return Splade.from_pretrained(model, pooling=pooling, query_max_length=query_max_length,
                                  doc_max_length=doc_max_length, query_top_k=query_top_k, doc_top_k=doc_top_k,
                                  threshold=threshold, batch_size=batch_size)


@component("splade")
def _splade(ctx: Context, *, model: str = "splade-tiny", engine: Literal["pisa", "terrier", "exact"] = "pisa",
            num_results: int = 1000, scale: float = DEFAULT_SCALE, pooling: Literal["max", "sum"] | None = None,
            query_max_length: int | None = None, doc_max_length: int | None = None,
            query_top_k: int | None = None, doc_top_k: int | None = None, threshold: float | None = None,
            batch_size: int = 32, shard_docs: int | None = None) -> pt.Transformer:
    """SPLADE retrieval: queries encoded, then the corpus's SPLADE index (encoded and built once per model;
    ``shard_docs``: a PISA index per this many documents, for corpora too large to compress in memory at once)."""
    splade = _load(model, pooling, query_max_length, doc_max_length, query_top_k, doc_top_k, threshold, batch_size)
    index = dataset_splade_index(ctx.dataset, splade, engine=engine, scale=scale, shard_docs=shard_docs,
                                 verbose=ctx.verbose)
    return splade.query_encoder() >> index.retriever(num_results=num_results)


@component("splade-scorer")
def _splade_scorer(ctx: Context, *, model: str = "splade-tiny", pooling: Literal["max", "sum"] | None = None,
                   query_max_length: int | None = None, doc_max_length: int | None = None,
                   query_top_k: int | None = None, doc_top_k: int | None = None, threshold: float | None = None,
                   batch_size: int = 32) -> pt.Transformer:
    """Re-rank by SPLADE's sparse dot product (document weights stored by the corpus's SPLADE index when built,
    else encoded from the text, fetched from the dataset when missing)."""
    splade = _load(model, pooling, query_max_length, doc_max_length, query_top_k, doc_top_k, threshold, batch_size)
    return splade.scorer(text_loader=text_loader(ctx.dataset), doc_weights=dataset_doc_weights(ctx.dataset, splade))


@component("fusion")
def _fusion(ctx: Context, *, systems: list[str], method: Literal["rrf", "interpolate"] = "rrf", k: float = 60.0,
            weights: list[float] | None = None, num_results: int = 1000) -> pt.Transformer:
    """Fuse systems defined earlier in the file (by name): reciprocal rank fusion or score interpolation."""
    unknown = [s for s in systems if s not in ctx.systems]
    if unknown:
        raise ValueError(f"fusion names systems {unknown} that are not defined above it "
                         f"(defined: {', '.join(ctx.systems) or 'none'}): list them earlier in the file")
    return Fusion([ctx.systems[s] for s in systems], method=method, k=k, weights=weights, num_results=num_results)
