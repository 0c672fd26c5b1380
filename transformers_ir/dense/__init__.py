"""Dense first stage: bi-encoders (one vector per query and document, scored by inner product or cosine), their
encoders and scorer, and scale-out encoding. The vector index itself is :mod:`transformers_ir.indexes`."""
from transformers_ir._lazy import lazy_exports

__all__ = ["BiEncoder", "DenseEncoder", "DenseScorer", "dense_pool", "encode_shard", "read_shards"]
__getattr__, __dir__ = lazy_exports(__name__, __all__, {
    "._model": ["BiEncoder"],
    "._pooling": ["dense_pool"],
    "._shards": ["encode_shard", "read_shards"],
    "._stages": ["DenseEncoder", "DenseScorer"],
})
