"""The trainer with tiny models: the trained object is the inference object, checkpoints resume exactly, a kill
while a checkpoint is written leaves the previous one loadable, torchrun with gloo works on CPU."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers

from transformers_ir.cross_encoders import BertCat, CrossEncoder
from transformers_ir.training import (
    GroupDataset,
    TrainingGroup,
    fit,
    last_checkpoint,
    parse_training_config,
)
from transformers_ir.training._trainer import RankingTrainer, TrainingClock

TEXTS = {f"d{i}": t for i, t in enumerate([
    "paris is the capital city of france", "the river flows through the city", "cells divide in the brain",
    "protein gene expression in cancer cells", "blood pressure and heart risk", "the virus infection and immune "
    "response", "sparse retrieval index search", "neural ranking models score documents"])}
QUERIES = {"q1": "capital of france", "q2": "cancer cells", "q3": "heart risk", "q4": "neural ranking"}
SMALL = {"max_length": 64, "query_max_length": 16}
POSITIVES = {"q1": "d0", "q2": "d3", "q3": "d4", "q4": "d7"}


def _dataset(group_size=3, epochs=2.0):
    groups = [TrainingGroup(q, QUERIES[q], POSITIVES[q], [d for d in TEXTS if d != POSITIVES[q]]) for q in QUERIES]
    return GroupDataset(groups, TEXTS, group_size=group_size, epochs=epochs, seed=3)


def _spec(tmp_path, model, **train):
    return parse_training_config({
        "model": {"family": "cross-encoder", "name": str(model)},
        "data": {"topics": "irds:unused", "group_size": 3},
        "loss": {"name": "grouped-softmax"},
        "train": {"epochs": 2, "batch_size": 2, "learning_rate": 1e-3, "warmup_ratio": 0.0, "max_length": 64,
                  "logging_steps": 1, "save_steps": 2, "save_total_limit": 10, "output": str(tmp_path), **train},
    })


class _KillAfterSave(transformers.TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        raise KeyboardInterrupt(f"killed after step {state.global_step}")


def _losses(trainer):
    return [h["loss"] for h in trainer.state.log_history if "loss" in h]


def test_the_trained_object_reloads_and_scores_identically(tmp_path, tiny_classifier_path):
    torch.manual_seed(0)
    ce = CrossEncoder.from_pretrained(tiny_classifier_path, max_length=64, query_max_length=16)
    before = ce.score_pairs(["capital of france"], [TEXTS["d0"]])
    trainer = fit(_spec(tmp_path, tiny_classifier_path), ce, _dataset(), tmp_path, resume=False, verbose=False)
    assert trainer.state.global_step == 4  # 4 groups x 2 epochs / batch 2
    after = ce.score_pairs(list(QUERIES.values()), [TEXTS[POSITIVES[q]] for q in QUERIES])
    assert not np.allclose(before, after[:1])  # the inference object's weights moved
    ce.save_pretrained(tmp_path / "model")
    again = CrossEncoder.from_pretrained(tmp_path / "model")
    np.testing.assert_allclose(again.score_pairs(list(QUERIES.values()), [TEXTS[POSITIVES[q]] for q in QUERIES]),
                               after, atol=1e-5)
    log = (tmp_path / "checkpoints" / "loss_log.csv").read_text().splitlines()
    assert log[0].startswith("step,epoch,loss") and len(log) == 5


def test_bert_cat_trains_through_the_same_path(tmp_path, tiny_distilbert_path):
    from transformers import AutoModel, AutoTokenizer

    from transformers_ir.cross_encoders._bert_cat import BertCatModel

    torch.manual_seed(0)
    cat = BertCat(BertCatModel(AutoModel.from_pretrained(tiny_distilbert_path)),
                  AutoTokenizer.from_pretrained(tiny_distilbert_path), max_length=64,
                  query_max_length=16)
    start = [p.detach().clone() for p in cat.model.parameters()]
    fit(_spec(tmp_path, tiny_distilbert_path, max_steps=2), cat, _dataset(), tmp_path, resume=False, verbose=False)
    assert any(not torch.equal(a, b) for a, b in zip(start, cat.model.parameters()))


def test_resume_after_a_kill_gives_the_same_loss_curve(tmp_path, tiny_classifier_path):
    torch.manual_seed(0)
    full = fit(_spec(tmp_path / "a", tiny_classifier_path), CrossEncoder.from_pretrained(tiny_classifier_path, **SMALL),
               _dataset(), tmp_path / "a", resume=False, verbose=False)
    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):  # killed right after step 2's checkpoint
        fit(_spec(tmp_path / "b", tiny_classifier_path), CrossEncoder.from_pretrained(tiny_classifier_path, **SMALL),
            _dataset(), tmp_path / "b", resume=False, verbose=False, callbacks=[_KillAfterSave()])
    assert last_checkpoint(tmp_path / "b" / "checkpoints").name == "checkpoint-2"
    killed_run = TrainingClock.saved_in(tmp_path / "b" / "checkpoints" / "checkpoint-2")
    torch.manual_seed(123)  # a different fresh start: resuming must not depend on it
    model = CrossEncoder.from_pretrained(tiny_classifier_path, **SMALL)
    resumed = fit(_spec(tmp_path / "b", tiny_classifier_path), model, _dataset(), tmp_path / "b", resume=True,
                  verbose=False)
    np.testing.assert_allclose(_losses(resumed), _losses(full), rtol=1e-5)
    # the training time of the killed run is carried over, not lost
    assert killed_run > 0 and resumed.clock.earlier == killed_run and resumed.clock.seconds() > killed_run


def test_a_kill_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path, tiny_classifier_path, monkeypatch):
    calls = {"n": 0}
    original = RankingTrainer._save_rng_state

    def dies_on_second_save(self, output_dir):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed while writing")
        return original(self, output_dir)

    monkeypatch.setattr(RankingTrainer, "_save_rng_state", dies_on_second_save)
    with pytest.raises(KeyboardInterrupt):
        model = CrossEncoder.from_pretrained(tiny_classifier_path, **SMALL)
        fit(_spec(tmp_path, tiny_classifier_path), model, _dataset(), tmp_path, resume=False, verbose=False)
    folder = tmp_path / "checkpoints"
    assert last_checkpoint(folder).name == "checkpoint-2"
    assert not (folder / "checkpoint-4").exists()  # the half-written one never got its final name
    monkeypatch.undo()
    resumed = fit(_spec(tmp_path, tiny_classifier_path), CrossEncoder.from_pretrained(tiny_classifier_path, **SMALL),
                  _dataset(), tmp_path, resume=True, verbose=False)
    assert resumed.state.global_step == 4 and not list(folder.glob(".tmp-*"))


@pytest.mark.slow  # two processes each importing torch and transformers: > 30 s, and over 300 s on a busy CPU
def test_torchrun_two_processes_with_gloo(tmp_path, tiny_classifier_path):
    script = tmp_path / "ddp.py"
    script.write_text(textwrap.dedent(f"""\
        import sys, torch
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_trainer import _dataset, _spec
        from transformers_ir.cross_encoders import CrossEncoder
        from transformers_ir.training import fit
        torch.manual_seed(0)
        out = sys.argv[1]
        model = CrossEncoder.from_pretrained({str(tiny_classifier_path)!r}, max_length=64, query_max_length=16)
        t = fit(_spec(out, {str(tiny_classifier_path)!r}), model, _dataset(group_size=3, epochs=2),
                __import__('pathlib').Path(out), resume=False, verbose=False)
        print('WORLD', t.args.world_size, t.state.global_step, t.args.ddp_backend, t.args.use_cpu, t.args.n_gpu)
        """))
    # the checkout under test first (not an editable install of another checkout), then tests/ for tiny_models
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(str(Path(__file__).parents[i]) for i in (2, 1))}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--standalone", str(script), str(tmp_path / "ddp")],
                          capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "WORLD 2 2 gloo True 0" in done.stdout  # 8 groups over 2 processes x batch 2 = 2 steps, on the CPU
    assert last_checkpoint(tmp_path / "ddp" / "checkpoints").name == "checkpoint-2"


def test_torchrun_on_cpu_asks_the_trainer_for_gloo_and_the_cpu(monkeypatch):
    from transformers_ir.training._fit import _distributed

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert _distributed() == {}
    monkeypatch.setenv("WORLD_SIZE", "2")
    expected = {} if torch.cuda.is_available() else {"ddp_backend": "gloo", "use_cpu": True}
    assert _distributed() == expected


def test_head_learning_rate_finds_the_new_head_in_any_checkpoint_format(tmp_path, tiny_mlm_path):
    """The new head (what head_learning_rate trains faster) is found whatever holds the starting weights: a
    safetensors folder, or a pytorch_model.bin-only one (before, only *.safetensors were read, so for a .bin
    checkpoint or a hub name every parameter counted as old and head_learning_rate was silently ignored)."""
    import shutil

    import safetensors.torch

    from transformers_ir.training import CrossEncoderTrainingModule
    from transformers_ir.training._fit import new_parameters

    bin_only = tmp_path / "bin-only"
    shutil.copytree(tiny_mlm_path, bin_only)
    torch.save(safetensors.torch.load_file(bin_only / "model.safetensors"), bin_only / "pytorch_model.bin")
    (bin_only / "model.safetensors").unlink()
    found = {}
    for name, source in (("safetensors", tiny_mlm_path), ("bin", bin_only)):
        torch.manual_seed(0)
        ce = CrossEncoder.from_pretrained(source, num_labels=1, **SMALL)  # the masked LM's body, a new head
        found[name] = new_parameters(CrossEncoderTrainingModule(ce), str(source))
    assert found["bin"] == found["safetensors"]
    assert {"parts.model.classifier.weight", "parts.model.classifier.bias"} <= found["bin"]
    assert not any(".encoder." in n or ".embeddings." in n for n in found["bin"]), "the body is not new"
