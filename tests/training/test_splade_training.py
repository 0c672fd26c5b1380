"""SPLADE training with a tiny masked-LM: the module's loss is rank-IBN + FLOPS as defined, non-zeros are logged,
the trained Splade reloads and represents identically."""
import pytest
import torch

from transformers_ir.splade import Splade
from transformers_ir.training import (
    FlopsRegularizer,
    GroupDataset,
    RankIBNLoss,
    SpladeCollator,
    SpladeTrainingModule,
    TrainingGroup,
    fit,
    parse_training_config,
)

TEXTS = {f"d{i}": t for i, t in enumerate([
    "paris is the capital city of france", "the river flows through the city", "cells divide in the brain",
    "protein gene expression in cancer cells", "blood pressure and heart risk", "neural ranking models score"])}
QUERIES = {"q1": ("capital of france", "d0"), "q2": ("cancer cells", "d3"), "q3": ("heart risk", "d4")}


def _data(group_size=2):
    groups = [TrainingGroup(q, text, pos, [d for d in TEXTS if d != pos]) for q, (text, pos) in QUERIES.items()]
    return GroupDataset(groups, TEXTS, group_size=group_size, epochs=2, seed=0)


def test_module_loss_is_rank_ibn_plus_weighted_flops(tiny_mlm_path):
    splade = Splade.from_pretrained(str(tiny_mlm_path), query_max_length=16, doc_max_length=32)
    module = SpladeTrainingModule(splade, flops_query=0.3, flops_doc=0.1, flops_warmup_steps=10)
    module.step = 5
    batch = SpladeCollator(splade)([_data()[i] for i in range(3)])["batch"]
    loss = module(batch)
    q, d = splade.represent(batch.queries, "query"), splade.represent(batch.docs, "doc")
    flops = FlopsRegularizer.flops
    expected = RankIBNLoss().compute_loss(q @ d.T, batch) + 0.3 * 0.25 * flops(q) + 0.1 * 0.25 * flops(d)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert module.metrics["nnz_query"] == pytest.approx((q > 0).sum(-1).float().mean().item())
    assert module.metrics["lambda_doc"] == pytest.approx(0.025)


def test_splade_trains_logs_non_zeros_and_reloads_identically(tmp_path, tiny_mlm_path):
    spec = parse_training_config({
        "model": {"family": "splade", "name": str(tiny_mlm_path)},
        "data": {"topics": "irds:unused", "group_size": 2},
        "loss": {"name": "rank-ibn", "flops_query": 1e-3, "flops_doc": 1e-3, "flops_warmup_steps": 2},
        "train": {"epochs": 2, "batch_size": 3, "learning_rate": 1e-3, "logging_steps": 1, "save_steps": 100,
                  "output": str(tmp_path)},
    })
    splade = Splade.from_pretrained(str(tiny_mlm_path), query_max_length=16, doc_max_length=32)
    feats = splade.tokenize(["cancer cells in the brain"], rep="doc")
    with torch.no_grad():
        before = splade.represent(feats, "doc")
    trainer = fit(spec, splade, _data(), tmp_path, resume=False, verbose=False)
    logged = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logged) == 2 and all(h["nnz_query"] > 0 and h["nnz_doc"] > 0 for h in logged)
    assert logged[0]["lambda_query"] == 0.0 and logged[1]["lambda_query"] == pytest.approx(1e-3 * 0.25)
    splade.save_pretrained(tmp_path / "model")
    again = Splade.from_pretrained(str(tmp_path / "model"))
    with torch.no_grad():
        after = splade.represent(feats, "doc")
        torch.testing.assert_close(again.represent(feats, "doc"), after, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(before, after)  # the inference object is the one trained
