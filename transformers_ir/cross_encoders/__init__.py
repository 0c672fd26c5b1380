"""Cross-encoder re-rankers: any Hugging Face sequence classifier, BERT_Cat, RankT5 encoder, monoT5.

Each is a PyTerrier transformer over a result frame (``qid, query, docno, text``) giving the same rows with a
new ``score`` and ``rank``; each is built by ``from_pretrained(name)`` or from model objects, scores in fp32
(exact) or bf16/fp16 (fast), and saves with ``save_pretrained(path)``.
"""
from transformers_ir._lazy import lazy_exports

__all__ = [
    "HEADS", "BertCat", "BertCatModel", "CrossEncoder", "MonoT5", "PairLayout", "RankT5Encoder", "RankT5EncoderModel",
    "Reranker", "normalise_scores"
]
__getattr__, __dir__ = lazy_exports(__name__, __all__, {
    "._base": ["Reranker", "normalise_scores"],
    "._bert_cat": ["BertCat", "BertCatModel"],
    "._cross_encoder": ["CrossEncoder"],
    "._layout": ["PairLayout"],
    "._monot5": ["MonoT5"],
    "._rankt5": ["HEADS", "RankT5Encoder", "RankT5EncoderModel"],
})
