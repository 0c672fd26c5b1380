"""First-stage retrieval over a dataset's corpus: BM25 (and other Terrier models) with Terrier or PISA, indexes
built once per corpus and engine, stored runs, and fusion of first stages. The indexes themselves are
:mod:`transformers_ir.indexes`."""
from transformers_ir._lazy import lazy_exports

__all__ = [
    "ENGINES", "Engine", "Fusion", "bm25", "dataset_index", "fuse", "stored_run", "terrier", "tune_interpolation"
]
__getattr__, __dir__ = lazy_exports(__name__, __all__, {
    "._bm25": ["ENGINES", "Engine", "bm25", "dataset_index", "terrier"],
    "._fusion": ["Fusion", "fuse", "tune_interpolation"],
    "._stored": ["stored_run"],
})
