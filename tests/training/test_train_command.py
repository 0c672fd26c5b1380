"""``transformers-ir train CONFIG`` end to end with tiny models and a triples file: the final model is written
(atomically) where ``from_pretrained`` reloads it, with the loss log, plot and summary beside it; a second call
finds it and trains nothing."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from transformers_ir.cli import main
from transformers_ir.training import parse_training_config

TRIPLES = [("capital of france", "paris is the capital city of france", "cells divide in the brain"),
           ("cancer cells", "protein gene expression in cancer cells", "the river flows through the city"),
           ("heart risk", "blood pressure and heart risk", "neural ranking models score documents")]


@pytest.mark.parametrize("family, model_fixture, loss, extra", [
    ("cross-encoder", "tiny_classifier_path", "grouped-softmax", {}),
    ("splade", "tiny_mlm_path", "rank-ibn", {"flops_query": 1e-3, "flops_doc": 1e-3}),
])
def test_train_command_writes_a_model_that_reloads(tmp_path, request, family, model_fixture, loss, extra,
                                                   capsys):
    model = request.getfixturevalue(model_fixture)
    triples = tmp_path / "triples.tsv"
    triples.write_text("".join("\t".join(t) + "\n" for t in TRIPLES))
    out = tmp_path / "run"
    config = tmp_path / "config.toml"
    options = '\noptions = { num_labels = 1 }' if family == "cross-encoder" else ""
    losses = "".join(f"{k} = {v}\n" for k, v in extra.items())
    config.write_text(
        f'name = "tiny"\n[model]\nfamily = "{family}"\nname = "{model}"{options}\n'
        f'[data]\ntriples = "triples.tsv"\ngroup_size = 2\n[loss]\nname = "{loss}"\n{losses}'
        f'[train]\nepochs = 2\nbatch_size = 2\nlearning_rate = 1e-3\nmax_length = 32\nquery_max_length = 8\n'
        f'save_steps = 1\nlogging_steps = 1\noutput = "{out}"\n')
    assert main(["train", str(config), "--quiet"]) == 0
    assert "optimiser steps" not in capsys.readouterr().err  # --quiet: no announcement, no bar
    folder = out / "model"
    if family == "splade":
        from transformers_ir.splade import Splade

        reloaded = Splade.from_pretrained(str(folder))
        assert reloaded.encode(["capital of france"], "query").nnz > 0
    else:
        from transformers_ir.cross_encoders import CrossEncoder

        assert CrossEncoder.from_pretrained(folder).score_pairs(["a"], ["b"]).shape == (1,)
    assert not list(out.glob(".tmp-*")), "no temporary folder is left behind"
    summary = json.loads((out / "training.json").read_text())
    assert summary["steps"] == 3 and summary["config_hash"] == parse_training_config(config).config_hash()
    assert (out / "loss.png").is_file() and (out / "loss_log.csv").read_text().startswith("step,epoch,loss")
    card = (folder / "README.md").read_text()  # the model card: what it is, its config and hash, its figures
    assert summary["config_hash"] in card and "optimiser steps | 3" in card and "training loss" in card
    assert config.read_text().strip() in card and f"`{family}` model" in card
    stamp = (folder / "config.json").stat().st_mtime_ns
    assert main(["train", str(config), "--quiet"]) == 0  # trained already: nothing happens
    assert (folder / "config.json").stat().st_mtime_ns == stamp


def test_a_config_can_start_from_the_model_another_config_trains(tmp_path, tiny_classifier_path):
    """``[model] train_config`` trains the parent first when missing and starts from its weights (a round with
    learning rate 0 gives back the parent's scores); the child's cache key follows the parent's weights."""
    from transformers_ir.cross_encoders import CrossEncoder

    (tmp_path / "triples.tsv").write_text("".join("\t".join(t) + "\n" for t in TRIPLES))
    train = 'epochs = 1\nbatch_size = 2\nmax_length = 32\nquery_max_length = 8\n'
    (tmp_path / "parent.toml").write_text(
        f'[model]\nname = "{tiny_classifier_path}"\noptions = {{ num_labels = 1 }}\n[data]\ntriples = "triples.tsv"\n'
        f'group_size = 2\n[train]\nlearning_rate = 1e-2\n{train}output = "parent"\n')
    child = tmp_path / "child.toml"
    child.write_text(f'[model]\ntrain_config = "parent.toml"\n[data]\ntriples = "triples.tsv"\ngroup_size = 2\n'
                     f'[train]\nlearning_rate = 0.0\n{train}output = "child"\n')
    assert main(["train", str(child), "--quiet"]) == 0
    assert (tmp_path / "parent" / "training.json").is_file(), "the parent was trained first"
    queries, docs = [t[0] for t in TRIPLES], [t[1] for t in TRIPLES]
    parent = CrossEncoder.from_pretrained(tmp_path / "parent" / "model").score_pairs(queries, docs)
    start = CrossEncoder.from_pretrained(tmp_path / "child" / "model").score_pairs(queries, docs)
    fresh = CrossEncoder.from_pretrained(tiny_classifier_path, num_labels=1).score_pairs(queries, docs)
    assert abs(parent - start).max() < 1e-6 and abs(parent - fresh).max() > 1e-4

    before = parse_training_config(child).config_hash()
    (tmp_path / "parent.toml").write_text((tmp_path / "parent.toml").read_text().replace("1e-2", "2e-2"))
    assert parse_training_config(child).config_hash() != before, "new parent weights, new child"


def test_train_config_and_name_exclude_each_other_and_the_family_must_match(tmp_path, tiny_classifier_path):
    from transformers_ir.training import ConfigError

    (tmp_path / "parent.toml").write_text(f'[model]\nname = "{tiny_classifier_path}"\n[data]\ntriples = "t.tsv"\n')
    for model, error in [('name = "x"\ntrain_config = "parent.toml"', "not both"),
                         ('family = "splade"\ntrain_config = "parent.toml"', "trains a 'cross-encoder' model"),
                         ('train_config = "nowhere.toml"', "does not exist"),
                         ('train_config = "child.toml"', "cannot start from its own model")]:
        (tmp_path / "child.toml").write_text(f'[model]\n{model}\n[data]\ntriples = "t.tsv"\n[loss]\n'
                                             f'name = "{"rank-ibn" if "splade" in model else "bce"}"\n')
        with pytest.raises(ConfigError, match=error):
            parse_training_config(tmp_path / "child.toml")


def test_torchrun_trains_a_missing_parent_then_the_child(tmp_path, tiny_classifier_path):
    """Under ``torchrun`` every process trains the missing parent, then the child from the parent's saved model:
    the processes other than the first must wait until it is written (and its summary, which the command prints)."""
    (tmp_path / "triples.tsv").write_text("".join("\t".join(t) + "\n" for t in TRIPLES * 2))
    train = 'epochs = 1\nbatch_size = 1\nmax_length = 32\nquery_max_length = 8\nlearning_rate = 1e-3\n'
    (tmp_path / "parent.toml").write_text(
        f'[model]\nname = "{tiny_classifier_path}"\noptions = {{ num_labels = 1 }}\n[data]\ntriples = "triples.tsv"\n'
        f'group_size = 2\n[train]\n{train}output = "parent"\n')
    (tmp_path / "child.toml").write_text(
        f'[model]\ntrain_config = "parent.toml"\n[data]\ntriples = "triples.tsv"\ngroup_size = 2\n'
        f'[train]\n{train}output = "child"\n')
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
                           "-m", "transformers_ir.cli", "train", str(tmp_path / "child.toml"), "--quiet"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, "\n".join(line for line in done.stderr.splitlines()[-400:] if "[rank" in line)
    printed = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [(p["model"], p["steps"]) for p in printed] == [(str(tmp_path / "child" / "model"), 3)]  # first rank
    # (3 steps: 6 groups over 2 processes x batch 1)
    assert (tmp_path / "parent" / "training.json").is_file()


def test_training_says_what_it_will_do_before_it_starts():
    """``run``, ``train`` and ``predict`` train a missing model through ``train``, which first says what it will do."""
    from transformers_ir.training._train import announcement

    spec = parse_training_config(Path(__file__).resolve().parents[2] / "pipelines" / "train" / "minilm-scifact.toml")
    line = announcement(spec, 809)
    assert line.startswith("transformers-ir: training minilm-scifact (cross-encoder, grouped-softmax loss)")
    assert "809 examples, 203 optimiser steps of 4 groups" in line
    # the dataset holds every epoch's groups: three epochs of 919 groups in batches of 2 are 1379 steps, not 3x that
    spec = parse_training_config(Path(__file__).resolve().parents[2] / "pipelines" / "train"
                                 / "minilm-scifact-top30.toml")
    assert "2757 examples, 1379 optimiser steps of 2 groups" in announcement(spec, 2757)


def test_training_says_the_time_left_at_the_measured_rate():
    """After the first steps, one line: the time left at the measured rate; nothing for work under a minute."""
    from types import SimpleNamespace

    from transformers_ir.training._trainer import TimeEstimate, rough_duration

    def run(max_steps, start=0, seconds_a_step=4.0):
        now, lines = [100.0], []
        estimate = TimeEstimate("demo", steps=3, write=lines.append, clock=lambda: now[0])
        state = SimpleNamespace(global_step=start, max_steps=max_steps)
        for _ in range(6):
            estimate.on_step_begin(None, state, None)
            now[0] += seconds_a_step
            state.global_step += 1
            estimate.on_step_end(None, state, None)
        return lines

    lines = run(1000)
    assert lines == ["transformers-ir: demo: about 66 min left (4.0 s a step over the first 3, 997 to go)\n"]
    assert run(1000, start=900) == [
        "transformers-ir: demo: about 6 min left (4.0 s a step over the first 3, 97 to go)\n"]
    assert run(10) == []  # 28 s: not worth a line
    assert [rough_duration(s) for s in (0.2, 40, 600, 5400, 4 * 3600 + 61)] == ["1 s", "40 s", "10 min", "1 h 30 min",
                                                                                  "4 h 01 min"]
