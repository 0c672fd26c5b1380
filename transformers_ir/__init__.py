"""transformers-ir: multi-stage neural ranking on PyTerrier.

The names most programs need are importable from here (``from transformers_ir import bm25, CrossEncoder,
get_dataset, text_loader``); each is loaded on first use, so ``import transformers_ir`` loads neither torch nor
PyTerrier. The packages hold the rest: :mod:`~transformers_ir.data`, :mod:`~transformers_ir.indexes`,
:mod:`~transformers_ir.first_stage`, :mod:`~transformers_ir.splade`, :mod:`~transformers_ir.cross_encoders`,
:mod:`~transformers_ir.caching`, :mod:`~transformers_ir.training`, :mod:`~transformers_ir.experiments`, and
:mod:`~transformers_ir.errors`.

Importing the package points ir_datasets at the project's offline cache (``IR_DATASETS_HOME``) unless the user
set it already; this must happen before ir_datasets is first imported, because its dataset modules read the
cache folder at import time. See :mod:`transformers_ir._paths`.
"""
from transformers_ir import _paths
from transformers_ir._lazy import lazy_exports
from transformers_ir._version import __version__

_paths.configure_environment()

__all__ = [
    "BertCat", "CrossEncoder", "EncoderCache", "Fusion", "MonoT5", "PisaIndex", "RankT5Encoder", "RetrieverCache",
    "ScorerCache", "Splade", "TerrierIndex", "TransformersIRError", "VectorIndex", "__version__", "bm25",
    "dataset_index", "dataset_splade_index", "ensure_trained", "get_dataset", "parse_pipeline",
    "parse_training_config", "run_experiment", "sparse_index", "terrier", "text_loader", "train",
]
__getattr__, __dir__ = lazy_exports(__name__, __all__, {
    "._version": ["__version__"],
    ".caching": ["EncoderCache", "RetrieverCache", "ScorerCache"],
    ".cross_encoders": ["BertCat", "CrossEncoder", "MonoT5", "RankT5Encoder"],
    ".data": ["get_dataset", "text_loader"],
    ".errors": ["TransformersIRError"],
    ".experiments": ["parse_pipeline", "run_experiment"],
    ".first_stage": ["Fusion", "bm25", "dataset_index", "terrier"],
    ".indexes": ["PisaIndex", "TerrierIndex", "VectorIndex", "sparse_index"],
    ".splade": ["Splade", "dataset_splade_index"],
    ".training": ["ensure_trained", "parse_training_config", "train"],
})
