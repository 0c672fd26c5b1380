"""Quiet by default: what PISA, Terrier and Java print is captured at the file-descriptor level and shown only on
failure or with ``--verbose`` / ``TRANSFORMERS_IR_VERBOSE=1``; our own progress bars stay on the screen.

Each test runs a fresh process and reads its file descriptors 1 and 2, so C++ and Java output is seen as a user
would see it.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from transformers_ir import _paths

ROOT = Path(__file__).resolve().parent.parent
needs_data = pytest.mark.skipif(_paths.data_dir() is None, reason="no offline data folder (../shared/data)")


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("TRANSFORMERS_IR_VERBOSE", "PYTEST_CURRENT_TEST")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return {**env, **extra}


def _python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(**env),
                          timeout=300, cwd=ROOT)


ENGINE = """
import os, subprocess, sys
from transformers_ir._quiet import SCREEN, engine_output
try:
    with engine_output("the engine"):
        os.write(1, b"engine stdout\\n")
        os.write(2, b"engine stderr\\n")
        subprocess.run(["echo", "child process"])  # inherits the captured descriptors, as a JVM's threads write
        print("python print")
        SCREEN.write("our bar\\n")
        if {fail}:
            raise RuntimeError("boom")
except RuntimeError:
    pass
print("after")
"""


def test_engine_output_is_captured_and_ours_is_not():
    done = _python(ENGINE.format(fail=False))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "after\n"
    assert done.stderr == "our bar\n"


def test_engine_output_is_shown_when_the_block_fails():
    done = _python(ENGINE.format(fail=True))
    assert done.stdout == "after\n"
    for line in ("engine stdout", "engine stderr", "child process", "python print", "the engine failed"):
        assert line in done.stderr, (line, done.stderr)


def test_verbose_shows_engine_output_as_it_comes():
    done = _python(ENGINE.format(fail=False), TRANSFORMERS_IR_VERBOSE="1")
    assert "engine stdout" in done.stdout and "child process" in done.stdout and "engine stderr" in done.stderr


PISA_BUILD = """
from transformers_ir.indexes import PisaIndex
docs = [{{"docno": f"d{{i}}", "text": f"apples and pears number {{i}}"}} for i in range(50)]
index = PisaIndex(r"{path}").build(docs)
import pandas as pd
print(len(index.bm25()(pd.DataFrame({{"qid": ["1"], "query": ["apples"]}}))))
"""


def test_a_pisa_build_and_search_print_nothing_but_ours(tmp_path):
    done = _python(PISA_BUILD.format(path=tmp_path / "quiet"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "50\n" and done.stderr == ""
    loud = _python(PISA_BUILD.format(path=tmp_path / "loud"), TRANSFORMERS_IR_VERBOSE="1")
    assert loud.returncode == 0, loud.stderr
    assert "[info]" in loud.stdout + loud.stderr  # what PISA prints, when asked for


#: Lines a run may print on stderr: our progress bars (any tqdm bar) and our own messages.
BAR = re.compile(r"^.*:\s+\d+%\|.*\|.*\]$|^.*: \d+\w* \[[\d:]+(, .*)?\]$")  # with a total, or without


@needs_data
@pytest.mark.java
def test_vaswani_from_an_empty_cache_prints_only_our_lines(tmp_path):
    home = tmp_path / "home"
    env = {"TRANSFORMERS_IR_HOME": str(home), "IR_DATASETS_HOME": str(home / "ir_datasets")}
    prepared = subprocess.run([sys.executable, "-m", "transformers_ir.cli", "prepare"], capture_output=True,
                              text=True, env=_env(**env), timeout=600, cwd=ROOT)
    assert prepared.returncode == 0, prepared.stderr
    assert not (home / "indexes").exists()  # nothing built yet: the run builds both indexes
    done = subprocess.run([sys.executable, "-m", "transformers_ir.cli", "run", "pipelines/vaswani.toml"],
                          capture_output=True, text=True, env=_env(**env), timeout=1800, cwd=ROOT)  # 2 min idle
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout.splitlines()
    assert out[0].startswith("vaswani: irds:vaswani, 93 topics") and all(line.startswith("|") for line in out[1:])
    lines = [line.strip() for line in re.split(r"[\r\n]", done.stderr.replace("\x1b[A", "")) if line.strip()]
    foreign = [line for line in lines if not BAR.match(line)]
    assert foreign == [], foreign[:20]
    assert any(line.startswith("vaswani: systems") for line in lines)  # our bar is still there
    assert any(re.match(r"vaswani documents: .*11429", line) for line in lines)  # the build's bar, to its end
    shutil.rmtree(home, ignore_errors=True)


def test_neural_stages_show_progress_by_default_and_verbose_false_silences(tiny_classifier_path, tiny_mlm_path,
                                                                          capsys):
    import pandas as pd

    from transformers_ir import CrossEncoder, Splade

    frame = pd.DataFrame({"qid": ["1", "1"], "query": ["apples", "apples"], "docno": ["a", "b"],
                          "text": ["apples and pears", "pears"], "score": [1.0, 0.5], "rank": [0, 1]})
    queries = frame[["qid", "query"]].head(1)
    for stage, quiet, given in ((CrossEncoder.from_pretrained(tiny_classifier_path),
                                 CrossEncoder.from_pretrained(tiny_classifier_path, verbose=False), frame),
                                (Splade.from_pretrained(tiny_mlm_path).query_encoder(),
                                 Splade.from_pretrained(tiny_mlm_path, verbose=False).query_encoder(), queries)):
        capsys.readouterr()
        stage(given)
        assert "100%" in capsys.readouterr().err, stage
        quiet(given)
        assert capsys.readouterr().err == "", quiet


def test_loading_a_model_shows_no_hugging_face_bar(tmp_path, monkeypatch, capfd):
    """Hugging Face's own "Loading weights" and "Writing model shards" bars are off while our families load or
    save a checkpoint (on with ``TRANSFORMERS_IR_VERBOSE=1``), and the user's own setting is left as it was."""
    import tiny_models
    from transformers.utils import logging as hf_logging

    from transformers_ir.dense import BiEncoder

    path = tiny_models.bert_encoder(tmp_path / "encoder")
    monkeypatch.setenv("TQDM_DISABLE", "0")
    monkeypatch.delenv("TRANSFORMERS_IR_VERBOSE", raising=False)
    hf_logging.enable_progress_bar()
    capfd.readouterr()  # what building the tiny model printed
    model = BiEncoder.from_pretrained(str(path), pooling="mean")
    model.save_pretrained(tmp_path / "saved")
    err = capfd.readouterr().err
    assert "Loading weights" not in err and "Writing model shards" not in err
    assert hf_logging.is_progress_bar_enabled()  # restored
    monkeypatch.setenv("TRANSFORMERS_IR_VERBOSE", "1")
    BiEncoder.from_pretrained(str(path), pooling="mean").save_pretrained(tmp_path / "again")
    err = capfd.readouterr().err
    assert "Loading weights" in err and "Writing model shards" in err
