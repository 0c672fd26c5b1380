"""Datasets: offline ir_datasets caches, graded Cranfield qrels, TREC DL topics/qrels, document text."""
from transformers_ir._lazy import lazy_exports

__all__ = [
    "CRANFIELD_LABELS", "COLLECTIONS", "JoinFields", "OfflineDataset", "OfflineDatasetProvider",
    "TopicsQrelsDataset", "corpus_docs", "corpus_id", "get_dataset", "prepare_all", "prepare_collection",
    "prepare_terrier", "text_loader",
]
__getattr__, __dir__ = lazy_exports(__name__, __all__, {
    "._datasets": ["CRANFIELD_LABELS", "OfflineDataset", "OfflineDatasetProvider", "TopicsQrelsDataset", "corpus_id",
                   "get_dataset"],
    "._offline": ["COLLECTIONS", "prepare_all", "prepare_collection"],
    "._terrier": ["prepare_terrier"],
    "._text": ["JoinFields", "corpus_docs", "text_loader"],
})
