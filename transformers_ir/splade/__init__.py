"""SPLADE learned-sparse first stage: the model family, its encoders and scorer, the corpus's index built once
per model, and scale-out encoding. The inverted indexes themselves are :mod:`transformers_ir.indexes`."""
from transformers_ir._lazy import lazy_exports

__all__ = [
    "Splade", "SpladeEncoder", "SpladeScorer", "StoredDocWeights", "TokenWeights", "dataset_doc_weights",
    "dataset_splade_index", "encode_shard", "launcher_rank", "read_shards", "shards_complete", "splade_pool"
]
__getattr__, __dir__ = lazy_exports(__name__, __all__, {
    "._dataset": ["StoredDocWeights", "dataset_doc_weights", "dataset_splade_index"],
    "._model": ["Splade"],
    "._pooling": ["splade_pool"],
    "._shards": ["encode_shard", "launcher_rank", "read_shards", "shards_complete"],
    "._stages": ["SpladeEncoder", "SpladeScorer"],
    "._token_weights": ["TokenWeights"],
})
