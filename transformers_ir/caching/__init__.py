"""Caches keyed on model identity: first-stage results, encoder outputs and re-ranker scores on disk.

Each cache is keyed on the transformer's full configuration (model name, weights hash, head, max lengths,
dtype, pooling: see :func:`cache_key`) and refuses a folder written for another one (:class:`CacheMismatch`).
Entries live in SQLite, in a codec that is never pickle: reading a cache cannot run code.
"""
from transformers_ir._lazy import lazy_exports

__all__ = [
    "CacheMismatch", "CacheWriteError", "EncoderCache", "KeyedCache", "RetrieverCache", "ScorerCache", "cache_key",
    "canonical", "key_hash", "tokenizer_hash", "weights_hash"
]
__getattr__, __dir__ = lazy_exports(__name__, __all__, {
    "._keys": ["cache_key", "canonical", "key_hash"],
    "transformers_ir._identity": ["tokenizer_hash", "weights_hash"],
    "transformers_ir.errors": ["CacheMismatch", "CacheWriteError"],
    "._store": ["EncoderCache", "KeyedCache", "RetrieverCache", "ScorerCache"],
})
