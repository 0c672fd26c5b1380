"""Components of the SPLADE family: retrieval from the corpus's SPLADE index, and re-scoring."""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from transformers_ir import data, splade
from transformers_ir._options import DEFAULT_SCALE, Pooling, Precision, SparseEngine
from transformers_ir.registry import Context, component

if TYPE_CHECKING:  # annotations only: listing the components imports neither torch nor PyTerrier
    import pyterrier as pt


@functools.lru_cache(maxsize=4)
def _load(model: str, pooling: str | None, query_max_length: int | None, doc_max_length: int | None,
          query_top_k: int | None, doc_top_k: int | None, threshold: float | None, batch_size: int,
          precision: str | None) -> splade.Splade:
    """One loaded model per configuration, shared by the components of a run."""
    return splade.Splade.from_pretrained(model, pooling=pooling, query_max_length=query_max_length,
                                         doc_max_length=doc_max_length, query_top_k=query_top_k,
                                         doc_top_k=doc_top_k, threshold=threshold, batch_size=batch_size,
                                         precision=precision)


@component("splade")
def _splade(ctx: Context, *, model: str = "splade-tiny", engine: SparseEngine = "pisa", num_results: int = 1000,
            scale: float = DEFAULT_SCALE, pooling: Pooling | None = None, query_max_length: int | None = None,
            doc_max_length: int | None = None, query_top_k: int | None = None, doc_top_k: int | None = None,
            threshold: float | None = None, batch_size: int = 32, shard_docs: int | None = None,
            precision: Precision | None = None, query_cut: int | None = None,
            heap_factor: float | None = None) -> pt.Transformer:
    """SPLADE retrieval: queries encoded, then the corpus's SPLADE index (encoded and built once per model;
    ``shard_docs``: a PISA index per this many documents, for corpora too large to compress in memory at once;
    ``precision``: of encoding, e.g. ``'auto'``, see :class:`transformers_ir.splade.Splade`;
    ``query_cut`` / ``heap_factor``: Seismic's search knobs, with ``engine = "seismic"`` only)."""
    knobs = {k: v for k, v in (("query_cut", query_cut), ("heap_factor", heap_factor)) if v is not None}
    if knobs and engine != "seismic":
        raise ValueError(f"{', '.join(knobs)} applies to engine 'seismic' only (got engine {engine!r}): drop it "
                         f"or use engine = \"seismic\"")
    model = _load(model, pooling, query_max_length, doc_max_length, query_top_k, doc_top_k, threshold, batch_size,
                  precision)
    index = splade.dataset_splade_index(ctx.dataset, model, engine=engine, scale=scale, shard_docs=shard_docs,
                                        verbose=ctx.verbose)
    return model.query_encoder() >> index.retriever(num_results=num_results, **knobs)


@component("splade-scorer")
def _splade_scorer(ctx: Context, *, model: str = "splade-tiny", pooling: Pooling | None = None,
                   query_max_length: int | None = None, doc_max_length: int | None = None,
                   query_top_k: int | None = None, doc_top_k: int | None = None, threshold: float | None = None,
                   batch_size: int = 32, precision: Precision | None = None) -> pt.Transformer:
    """Re-rank by SPLADE's sparse dot product (document weights stored by the corpus's SPLADE index when built,
    else encoded from the text, fetched from the dataset when missing)."""
    model = _load(model, pooling, query_max_length, doc_max_length, query_top_k, doc_top_k, threshold, batch_size,
                  precision)
    return model.scorer(text_loader=data.text_loader(ctx.dataset),
                        doc_weights=splade.dataset_doc_weights(ctx.dataset, model))
