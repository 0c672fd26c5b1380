"""First-stage retrieval: BM25 (and other Terrier models) with Terrier or PISA, and fusion of first stages."""
from transformers_ir._lazy import lazy_exports

__all__ = [
    "ENGINES",
    "CorpusGuard",
    "CorruptIndex",
    "Engine",
    "Fusion",
    "IndexArtifact",
    "PisaIndex",
    "QueryGuard",
    "TerrierIndex",
    "bm25",
    "dataset_index",
    "fuse",
    "stored_run",
    "terrier",
    "tune_interpolation",
]
__getattr__, __dir__ = lazy_exports(__name__, __all__, {
    "._artifact": ["CorruptIndex", "IndexArtifact"],
    "._bm25": ["ENGINES", "Engine", "bm25", "dataset_index", "terrier"],
    "._corpus": ["CorpusGuard"],
    "._fusion": ["Fusion", "fuse", "tune_interpolation"],
    "._pisa": ["PisaIndex"],
    "._queries": ["QueryGuard"],
    "._stored": ["stored_run"],
    "._terrier": ["TerrierIndex"],
})
