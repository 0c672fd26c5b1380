"""Indexes as PyTerrier artifacts: text indexes for BM25 and other Terrier models (PISA, Terrier), and
learned-sparse impact indexes for SPLADE (PISA, Terrier, exact, Seismic), dense vector indexes for bi-encoders
(exact and HNSW), with the checks every build makes.

Each index is a folder built atomically (complete or absent, with its files' checksums), reopened by
``pt.Artifact.load(path)`` as its own class, and shared with ``build_package()`` / ``pt.Artifact.from_url()``
or ``to_hf()`` / ``pt.Artifact.from_hf()``. An index offers its stages: ``bm25()`` / ``retriever()`` and, for
sparse indexes, ``indexer()``.
"""
from transformers_ir._lazy import lazy_exports

__all__ = [
    "DEFAULT_SCALE", "SPARSE_ENGINES", "CorpusGuard", "CorruptIndex", "ExactSparseIndex", "IndexArtifact",
    "IndexMismatch", "PisaIndex", "PisaSparseIndex", "QueryGuard", "SeismicSparseIndex", "SparseIndex",
    "SparseIndexer", "SparseRetriever", "TerrierIndex", "TerrierSparseIndex", "VectorIndex", "VectorIndexer",
    "VectorRetriever", "csr_to_toks", "pisa_term", "quantise", "quantise_toks", "sparse_index", "sparse_stats",
    "toks_matrix",
]
__getattr__, __dir__ = lazy_exports(__name__, __all__, {
    "._artifact": ["IndexArtifact"],
    "transformers_ir.errors": ["CorruptIndex", "IndexMismatch"],
    "._corpus": ["CorpusGuard"],
    "._engines": ["ExactSparseIndex", "PisaSparseIndex", "TerrierSparseIndex", "pisa_term", "sparse_index"],
    "._pisa": ["PisaIndex"],
    "._queries": ["QueryGuard"],
    "._seismic": ["SeismicSparseIndex"],
    "transformers_ir._options": ["SPARSE_ENGINES"],
    "._sparse": ["SparseIndex", "SparseIndexer", "SparseRetriever", "quantise_toks"],
    "._stats": ["sparse_stats"],
    "._terrier": ["TerrierIndex"],
    "._toks": ["DEFAULT_SCALE", "csr_to_toks", "quantise", "toks_matrix"],
    "._vector": ["VectorIndex", "VectorIndexer", "VectorRetriever"],
})
