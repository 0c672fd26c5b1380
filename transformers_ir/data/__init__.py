"""Datasets: offline ir_datasets caches, graded Cranfield qrels, TREC DL topics/qrels, document text."""
from transformers_ir.data._datasets import (
    CRANFIELD_LABELS,
    OfflineDataset,
    TopicsQrelsDataset,
    get_dataset,
)
from transformers_ir.data._offline import COLLECTIONS, prepare_all, prepare_collection
from transformers_ir.data._text import JoinFields, text_loader

__all__ = [
    "CRANFIELD_LABELS",
    "COLLECTIONS",
    "JoinFields",
    "OfflineDataset",
    "TopicsQrelsDataset",
    "get_dataset",
    "prepare_all",
    "prepare_collection",
    "text_loader",
]
