"""First-stage retrieval: BM25 (and other Terrier models) with Terrier or PISA, and fusion of first stages."""
from transformers_ir.first_stage._artifact import CorruptIndex, IndexArtifact
from transformers_ir.first_stage._bm25 import ENGINES, Engine, bm25, dataset_index, terrier
from transformers_ir.first_stage._corpus import CorpusGuard
from transformers_ir.first_stage._fusion import Fusion, fuse, tune_interpolation
from transformers_ir.first_stage._pisa import PisaIndex
from transformers_ir.first_stage._queries import QueryGuard

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
    "terrier",
    "tune_interpolation",
]


def __getattr__(name):  # TerrierIndex imports PyTerrier's Terrier module only when asked for
    if name == "TerrierIndex":
        from transformers_ir.first_stage._terrier import TerrierIndex

        return TerrierIndex
    raise AttributeError(name)
