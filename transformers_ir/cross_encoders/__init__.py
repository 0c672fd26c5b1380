"""Cross-encoder re-rankers: any Hugging Face sequence classifier, BERT_Cat, RankT5 encoder, monoT5.

Each is a PyTerrier transformer over a result frame (``qid, query, docno, text``) giving the same rows with a
new ``score`` and ``rank``; each is built by ``from_pretrained(name)`` or from model objects, scores in fp32
(exact) or bf16/fp16 (fast), and saves with ``save_pretrained(path)``.
"""
from transformers_ir.cross_encoders._base import Reranker, normalise_scores
from transformers_ir.cross_encoders._bert_cat import BertCat, BertCatModel
from transformers_ir.cross_encoders._cross_encoder import CrossEncoder
from transformers_ir.cross_encoders._layout import PairLayout
from transformers_ir.cross_encoders._monot5 import MonoT5
from transformers_ir.cross_encoders._rankt5 import HEADS, RankT5Encoder, RankT5EncoderModel

__all__ = [
    "HEADS",
    "BertCat",
    "BertCatModel",
    "CrossEncoder",
    "MonoT5",
    "PairLayout",
    "RankT5Encoder",
    "RankT5EncoderModel",
    "Reranker",
    "normalise_scores",
]
