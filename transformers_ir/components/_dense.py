"""Components of the dense family: retrieval from the corpus's vector index (``dense``), and re-scoring
(``dense-scorer``). ``model`` is an offline alias, a hub name in the local cache, or a folder relative to the
pipeline file; ``train_config = "train/x.toml"`` names it by the training config that makes it."""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from transformers_ir import data, dense
from transformers_ir._options import DensePooling, Precision, Similarity, VectorMethod
from transformers_ir.registry import Context, component

if TYPE_CHECKING:  # annotations only: listing the components imports neither torch nor PyTerrier
    import pyterrier as pt


@functools.lru_cache(maxsize=4)
def _load(model: str, pooling: str | None, normalize: bool | None, similarity: str | None,
          query_prefix: str | None, doc_prefix: str | None, query_max_length: int | None,
          doc_max_length: int | None, batch_size: int, precision: str | None) -> dense.BiEncoder:
    """One loaded model per configuration, shared by the components of a run."""
    return dense.BiEncoder.from_pretrained(model, pooling=pooling, normalize=normalize, similarity=similarity,
                                           query_prefix=query_prefix, doc_prefix=doc_prefix,
                                           query_max_length=query_max_length, doc_max_length=doc_max_length,
                                           batch_size=batch_size, precision=precision)


def _model(ctx: Context, params: dict) -> dense.BiEncoder:
    local = (ctx.base_dir / params["model"]).expanduser()
    keys = ("pooling", "normalize", "similarity", "query_prefix", "doc_prefix", "query_max_length",
            "doc_max_length", "batch_size", "precision")
    return _load(str(local) if local.is_dir() else params["model"], *(params[k] for k in keys))


@component("dense")
def _dense(ctx: Context, *, model: str = "all-MiniLM-L6-v2", method: VectorMethod = "exact", num_results: int = 1000,
           pooling: DensePooling | None = None, normalize: bool | None = None, similarity: Similarity | None = None,
           query_prefix: str | None = None, doc_prefix: str | None = None, query_max_length: int | None = None,
           doc_max_length: int | None = None, batch_size: int = 32, precision: Precision | None = None,
           hnsw_m: int = 32, ef_construction: int = 200, ef_search: int | None = None) -> pt.Transformer:
    """Dense retrieval: queries encoded by a bi-encoder, then the corpus's vector index (encoded and built once per
    model; ``method = "hnsw"`` adds an HNSW graph of ``hnsw_m`` links, built from the same vectors)."""
    bi_encoder = _model(ctx, locals())
    hnsw = {"M": hnsw_m, "ef_construction": ef_construction} if method == "hnsw" else False
    index = dense.dataset_dense_index(ctx.dataset, bi_encoder, hnsw=hnsw, verbose=ctx.verbose)
    return bi_encoder.retriever(index, num_results=num_results, method=method, ef_search=ef_search)


@component("dense-scorer")
def _dense_scorer(ctx: Context, *, model: str = "all-MiniLM-L6-v2", pooling: DensePooling | None = None,
                  normalize: bool | None = None, similarity: Similarity | None = None,
                  query_prefix: str | None = None, doc_prefix: str | None = None, query_max_length: int | None = None,
                  doc_max_length: int | None = None, batch_size: int = 32,
                  precision: Precision | None = None) -> pt.Transformer:
    """Re-rank by a bi-encoder's similarity (document vectors read from the corpus's vector index when built,
    else encoded from the text, fetched from the dataset when missing)."""
    bi_encoder = _model(ctx, locals())
    from transformers_ir.indexes import VectorIndex

    index = VectorIndex(dense.dense_index_dir(ctx.dataset, bi_encoder) / "exact")
    return bi_encoder.scorer(text_loader=data.text_loader(ctx.dataset), doc_index=index if index.built else None)
