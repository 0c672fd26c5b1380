"""SPLADE learned-sparse first stage: the model family, its encoders and scorer, inverted indexes, scale-out."""
from transformers_ir.splade._dataset import StoredDocWeights, dataset_doc_weights, dataset_splade_index
from transformers_ir.splade._engines import (
    ExactSparseIndex,
    PisaSparseIndex,
    TerrierSparseIndex,
    pisa_term,
    sparse_index,
)
from transformers_ir.splade._index import ENGINES, SparseIndex, SparseIndexer, SparseRetriever, quantise_toks
from transformers_ir.splade._model import Splade, infer_device
from transformers_ir.splade._pooling import splade_pool
from transformers_ir.splade._shards import encode_shard, launcher_rank, read_shards, shards_complete
from transformers_ir.splade._stages import SpladeEncoder, SpladeScorer
from transformers_ir.splade._stats import sparse_stats
from transformers_ir.splade._token_weights import TokenWeights
from transformers_ir.splade._toks import DEFAULT_SCALE, quantise

__all__ = [
    "DEFAULT_SCALE",
    "ENGINES",
    "ExactSparseIndex",
    "PisaSparseIndex",
    "SparseIndex",
    "SparseIndexer",
    "SparseRetriever",
    "Splade",
    "SpladeEncoder",
    "SpladeScorer",
    "StoredDocWeights",
    "TerrierSparseIndex",
    "TokenWeights",
    "dataset_doc_weights",
    "dataset_splade_index",
    "encode_shard",
    "infer_device",
    "launcher_rank",
    "pisa_term",
    "quantise",
    "quantise_toks",
    "read_shards",
    "shards_complete",
    "sparse_index",
    "sparse_stats",
    "splade_pool",
]
