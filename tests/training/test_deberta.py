"""The seed's DeBERTa-v3 re-ranker recipe, tiny: a DeBERTa-v2-architecture classifier (v3 layout, its own
SentencePiece tokenizer) loads through ``CrossEncoder.from_pretrained``, re-ranks, trains with grouped softmax
over hard negatives (gradient accumulation included), saves and reloads identically, and gives a student of its
layers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from transformers_ir.cross_encoders import CrossEncoder
from transformers_ir.training import GroupDataset, TrainingGroup, fit, parse_training_config

TEXTS = {f"d{i}": t for i, t in enumerate([
    "paris is the capital city of france", "the river flows through the city", "cells divide in the brain",
    "protein gene expression in cancer cells", "blood pressure and heart risk", "the virus infection and immune "
    "response", "sparse retrieval index search", "neural ranking models score documents"])}
QUERIES = {"q1": "capital of france", "q2": "cancer cells", "q3": "heart risk", "q4": "neural ranking"}
POSITIVES = {"q1": "d0", "q2": "d3", "q3": "d4", "q4": "d7"}
SMALL = {"max_length": 64, "query_max_length": 16}


def _train(tmp_path, model_path, ce, **train):
    groups = [TrainingGroup(q, QUERIES[q], POSITIVES[q], [d for d in TEXTS if d != POSITIVES[q]]) for q in QUERIES]
    dataset = GroupDataset(groups, TEXTS, group_size=train.pop("group_size", 4), epochs=3, seed=3)
    spec = parse_training_config({
        "model": {"family": "cross-encoder", "name": str(model_path)},
        "data": {"topics": "irds:unused", "group_size": 4},
        "loss": {"name": "grouped-softmax"},
        "train": {"epochs": 3, "batch_size": 2, "learning_rate": 3e-3, "warmup_ratio": 0.0, "max_length": 64,
                  "logging_steps": 1, "save_steps": 100, "output": str(tmp_path), **train}})
    return fit(spec, ce, dataset, tmp_path, resume=False, verbose=False)


def _margin(ce) -> float:
    """Mean score of each query's positive minus its other documents'."""
    queries = [QUERIES[q] for q in QUERIES for _ in TEXTS]
    docs = [TEXTS[d] for _ in QUERIES for d in TEXTS]
    scores = ce.score_pairs(queries, docs).reshape(len(QUERIES), len(TEXTS))
    positive = np.array([list(TEXTS).index(POSITIVES[q]) for q in QUERIES])
    mask = np.zeros_like(scores, dtype=bool)
    mask[np.arange(len(QUERIES)), positive] = True
    return float(scores[mask].mean() - scores[~mask].mean())


def test_a_deberta_v3_layout_cross_encoder_loads_and_reranks(tiny_deberta_path):
    ce = CrossEncoder.from_pretrained(tiny_deberta_path, **SMALL)
    assert type(ce.model).__name__ == "DebertaV2ForSequenceClassification"
    frame = pd.DataFrame({"qid": ["q1"] * 3, "query": [QUERIES["q1"]] * 3, "docno": ["d0", "d1", "d2"],
                          "text": [TEXTS[d] for d in ("d0", "d1", "d2")]})
    ranked = ce(frame)
    assert sorted(ranked["rank"]) == [0, 1, 2] and np.isfinite(ranked["score"]).all()


def test_a_deberta_cross_encoder_trains_on_hard_negatives_and_reloads_identically(tmp_path, tiny_deberta_path):
    torch.manual_seed(0)
    ce = CrossEncoder.from_pretrained(tiny_deberta_path, **SMALL)
    before = _margin(ce)
    trainer = _train(tmp_path, tiny_deberta_path, ce, gradient_accumulation=2)
    assert trainer.state.global_step == 3  # 4 groups x 3 epochs / (batch 2 x accumulation 2)
    after = _margin(ce)
    # positives pulled above their hard negatives (a random DeBERTa's scores barely differ at first: the head and
    # the layers start near zero, so the margin is compared with where it started, not with a fixed size)
    assert after > 0 and after > 20 * abs(before), (before, after)
    ce.save_pretrained(tmp_path / "model")
    again = CrossEncoder.from_pretrained(tmp_path / "model")
    queries, docs = list(QUERIES.values()), [TEXTS[POSITIVES[q]] for q in QUERIES]
    assert again.score_pairs(queries, docs).tolist() == ce.score_pairs(queries, docs).tolist()


def test_a_large_group_trains_with_one_group_per_micro_batch(tmp_path, tiny_deberta_path):
    """The recipe's long groups (1 positive + many negatives) with one group per forward pass."""
    torch.manual_seed(0)
    ce = CrossEncoder.from_pretrained(tiny_deberta_path, **SMALL)
    trainer = _train(tmp_path, tiny_deberta_path, ce, group_size=8, batch_size=1, gradient_accumulation=4)
    assert trainer.state.global_step == 3
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == 3 and all(np.isfinite(losses))


def test_a_deberta_student_of_its_layers(tiny_deberta_path, tmp_path):
    full = CrossEncoder.from_pretrained(tiny_deberta_path, **SMALL)
    student = CrossEncoder.from_pretrained(tiny_deberta_path, layers=[1], **SMALL)
    assert len(student.model.deberta.encoder.layer) == 1 and student.model.config.num_hidden_layers == 1
    assert torch.equal(student.model.deberta.encoder.layer[0].intermediate.dense.weight,
                       full.model.deberta.encoder.layer[1].intermediate.dense.weight)
    assert torch.equal(student.model.deberta.encoder.rel_embeddings.weight,
                       full.model.deberta.encoder.rel_embeddings.weight)
    student.save_pretrained(tmp_path / "student")
    again = CrossEncoder.from_pretrained(tmp_path / "student")
    queries, docs = list(QUERIES.values()), [TEXTS[POSITIVES[q]] for q in QUERIES]
    assert again.score_pairs(queries, docs).tolist() == student.score_pairs(queries, docs).tolist()
