"""Bi-encoder training with a tiny encoder: the module's loss is InfoNCE (rank-IBN on q . d / temperature), a
distillation term adds the teacher's loss on each query's own group, configs check what trains a bi-encoder, and the
trained model reloads (and loads in sentence-transformers) scoring identically."""
import pytest
import torch

from transformers_ir.dense import BiEncoder
from transformers_ir.errors import ConfigError
from transformers_ir.training import (
    BiEncoderTrainingModule,
    EncoderCollator,
    GroupDataset,
    KLDivergenceLoss,
    RankIBNLoss,
    TrainingGroup,
    fit,
    parse_training_config,
)

TEXTS = {f"d{i}": t for i, t in enumerate([
    "paris is the capital city of france", "the river flows through the city", "cells divide in the brain",
    "protein gene expression in cancer cells", "blood pressure and heart risk", "neural ranking models score"])}
QUERIES = {"q1": ("capital of france", "d0"), "q2": ("cancer cells", "d3"), "q3": ("heart risk", "d4")}


def _data(group_size=2, teacher=None):
    groups = [TrainingGroup(q, text, pos, [d for d in TEXTS if d != pos]) for q, (text, pos) in QUERIES.items()]
    return GroupDataset(groups, TEXTS, group_size=group_size, epochs=2, seed=0, teacher=teacher)


def _teacher():
    """A teacher that prefers lower document numbers, every pair scored."""
    return {(q, d): 10.0 - int(d[1:]) for q in QUERIES for d in TEXTS}


def _model(path, **kwargs):
    return BiEncoder.from_pretrained(str(path), pooling="mean", query_max_length=16, doc_max_length=32, **kwargs)


def _spec(path, out, **loss):
    return parse_training_config({
        "model": {"family": "bi-encoder", "name": str(path)},
        "data": {"topics": "irds:unused", "group_size": 2},
        "loss": {"name": "rank-ibn", **loss},
        "train": {"epochs": 2, "batch_size": 3, "learning_rate": 1e-3, "logging_steps": 1, "save_steps": 100,
                  "output": str(out)},
    })


def test_module_loss_is_infonce_at_the_temperature(tiny_encoder_path):
    model = _model(tiny_encoder_path, similarity="cos")
    batch = EncoderCollator(model)([_data()[i] for i in range(3)])["batch"]
    q, d = model.represent(batch.queries, "query"), model.represent(batch.docs, "doc")
    for temperature in (0.05, 1.0):
        loss = BiEncoderTrainingModule(model, temperature=temperature)(batch)
        expected = RankIBNLoss().compute_loss(q @ d.T / temperature, batch)
        assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert BiEncoderTrainingModule(model, temperature=0.05)(batch).item() != pytest.approx(
        BiEncoderTrainingModule(model, temperature=1.0)(batch).item(), rel=1e-3)


def test_distillation_adds_the_teacher_loss_on_each_group(tiny_encoder_path):
    model = _model(tiny_encoder_path)
    batch = EncoderCollator(model)([_data(teacher=_teacher())[i] for i in range(3)])["batch"]
    assert batch.teacher is not None and batch.teacher.shape == (3, 2)
    q, d = model.represent(batch.queries, "query"), model.represent(batch.docs, "doc")
    scores = q @ d.T / 0.5
    own = scores.view(3, 3, 2)[torch.arange(3), torch.arange(3)]
    module = BiEncoderTrainingModule(model, distill="kl", distill_weight=0.3, temperature=0.5)
    expected = RankIBNLoss().compute_loss(scores, batch) + 0.3 * KLDivergenceLoss().compute_loss(own, batch)
    assert module(batch).item() == pytest.approx(expected.item(), rel=1e-5)
    alone = BiEncoderTrainingModule(model, loss="kl", temperature=0.5)(batch)
    assert alone.item() == pytest.approx(KLDivergenceLoss().compute_loss(own, batch).item(), rel=1e-5)


def test_bi_encoder_trains_and_reloads_identically(tmp_path, tiny_encoder_path):
    spec = _spec(tiny_encoder_path, tmp_path)
    model = _model(tiny_encoder_path, similarity="cos")
    texts = ["cancer cells in the brain", "capital of france"]
    before = model.encode(texts, rep="doc")
    trainer = fit(spec, model, _data(), tmp_path, resume=False, verbose=False)
    logged = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logged) == 2 and all(h["score_pos"] == h["score_pos"] for h in logged)
    after = model.encode(texts, rep="doc")
    assert not torch.allclose(torch.from_numpy(before), torch.from_numpy(after))  # the served model is the trained one
    model.save_pretrained(tmp_path / "model")
    again = BiEncoder.from_pretrained(str(tmp_path / "model"))
    torch.testing.assert_close(torch.from_numpy(again.encode(texts, rep="doc")), torch.from_numpy(after),
                               atol=1e-5, rtol=1e-5)
    st = pytest.importorskip("sentence_transformers").SentenceTransformer(str(tmp_path / "model"), device="cpu")
    # cosine similarity: sentence-transformers' vectors normalised are ours
    torch.testing.assert_close(torch.from_numpy(st.encode(texts, normalize_embeddings=True)), torch.from_numpy(after),
                               atol=1e-5, rtol=1e-5)


def test_training_lowers_the_contrastive_loss(tmp_path, tiny_encoder_path):
    model = _model(tiny_encoder_path, similarity="cos")
    spec = parse_training_config({
        "model": {"family": "bi-encoder", "name": str(tiny_encoder_path)},
        "data": {"topics": "irds:unused", "group_size": 3},
        "loss": {"name": "rank-ibn"},
        "train": {"epochs": 30, "batch_size": 3, "learning_rate": 3e-3, "warmup_ratio": 0, "logging_steps": 1,
                  "save_steps": 1000, "output": str(tmp_path)},
    })
    data = GroupDataset(_data().groups, TEXTS, group_size=3, epochs=30, seed=0)
    every_group = EncoderCollator(model)([data[i] for i in range(3)])["batch"]  # the three queries, one batch
    module = BiEncoderTrainingModule(model, temperature=0.05)

    def loss() -> float:
        with torch.no_grad():
            return module.eval()(every_group).item()

    before = loss()
    fit(spec, model, data, tmp_path, resume=False, verbose=False)
    assert loss() < 0.6 * before  # about 0.5x; the tiny model (a fresh random one each session) moves it a little


@pytest.mark.parametrize("loss, message", [
    ({"name": "grouped-softmax"}, "does not train the 'bi-encoder' family"),
    ({"name": "rank-ibn", "flops_doc": 1e-3}, "regularise SPLADE"),
    ({"name": "rank-ibn", "temperature": 0}, "temperature"),
    ({"name": "rank-ibn", "distill": "kl"}, "needs teacher"),
])
def test_bad_bi_encoder_configs_are_named(loss, message):
    with pytest.raises(ConfigError, match=message):
        parse_training_config({"model": {"family": "bi-encoder", "name": "all-MiniLM-L6-v2"},
                               "data": {"topics": "irds:unused"}, "loss": loss})


def test_re_rankers_refuse_dual_encoder_keys():
    with pytest.raises(ConfigError, match="temperature trains a dual encoder"):
        parse_training_config({"model": {"family": "cross-encoder", "name": "all-MiniLM-L6-v2"},
                               "data": {"topics": "irds:unused"}, "loss": {"temperature": 0.1}})


def test_temperature_enters_the_hash_only_when_set():
    base = {"model": {"family": "bi-encoder", "name": "all-MiniLM-L6-v2"}, "data": {"topics": "irds:unused"},
            "loss": {"name": "rank-ibn"}}
    default = parse_training_config(base)
    assert default.loss.effective_temperature("bi-encoder") == 0.05
    assert default.loss.effective_temperature("splade") == 1.0
    other = parse_training_config({**base, "loss": {"name": "rank-ibn", "temperature": 0.1}})
    assert other.config_hash() != default.config_hash()
