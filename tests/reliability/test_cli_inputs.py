"""Every file input of the bad-input matrix, and inputs that fail only when the run reaches a library (PyTerrier,
Java, pandas), through the CLI: exit status 2 and one line naming the problem, never a traceback."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from reliability.file_cases import PIPELINE, PIPELINE_CASES, TRAINING, TRAINING_CASES
from transformers_ir import _paths

pytestmark = pytest.mark.reliability
ROOT = Path(__file__).resolve().parents[2]
needs_data = pytest.mark.skipif(_paths.data_dir() is None, reason="no offline data folder (../shared/data)")


def cli(args: list[str], capsys) -> tuple[int, str]:
    from transformers_ir.cli import main

    code = main(args)
    return code, capsys.readouterr().err


def assert_one_line_error(code: int, err: str, match: str) -> None:
    assert "Traceback" not in err, err[-3000:]
    errors = [line for line in err.splitlines() if line.startswith("transformers-ir: error:")]
    assert code == 2 and len(errors) == 1, err[-3000:]
    assert re.search(match, errors[0], re.IGNORECASE), errors[0]


@pytest.mark.parametrize("case", [c for c in PIPELINE_CASES if not c.ok], ids=lambda c: c.name)
def test_every_hostile_pipeline_file_is_one_line(case, tmp_path, capsys):
    (tmp_path / "p.toml").write_bytes(case.text(PIPELINE))
    code, err = cli(["run", str(tmp_path / "p.toml"), "--quiet", "--no-cache", "--out", str(tmp_path / "out")],
                    capsys)
    assert_one_line_error(code, err, case.match)
    assert str(tmp_path / "p.toml") in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", [c for c in TRAINING_CASES if not c.ok], ids=lambda c: c.name)
def test_every_hostile_training_config_is_one_line(case, tmp_path, capsys):
    (tmp_path / "t.toml").write_bytes(case.text(TRAINING))
    code, err = cli(["train", str(tmp_path / "t.toml"), "--quiet"], capsys)
    assert_one_line_error(code, err, case.match)
    assert str(tmp_path / "t.toml") in err


BASE = '[dataset]\ntopics = "irds:vaswani"\n{dataset}[evaluation]\nmetrics = ["AP"]\n[[systems]]\nname = "s"\n' \
       'pipeline = [{pipeline}]\n'


def _run_file(tmp_path: Path, lines: str) -> str:
    (tmp_path / "x.run").write_text(lines)
    return '{ component = "run", path = "x.run" }'


RUNTIME = {
    # the qrels of another collection: no topic is judged
    "qrels-of-another-collection": (lambda t: BASE.format(
        dataset='qrels = "irds:msmarco-passage/trec-dl-2019/judged"\n', pipeline=_run_file(t, "1 Q0 1 0 1.0 x\n")),
        "none of the 93 topics.*another collection"),
    # results naming documents the corpus does not hold, then their text
    "docno-missing-from-corpus": (lambda t: BASE.format(dataset="", pipeline=_run_file(
        t, "1 Q0 no-such-doc 0 2.0 x\n1 Q0 1 1 1.0 x\n") + ', { component = "text" }'),
        r"system 's', stage 2 \(text\).*no-such-doc.*not in the corpus"),
    # a malformed run file
    "malformed-run-file": (lambda t: BASE.format(dataset="", pipeline=_run_file(t, "1 Q0 d1\n")),
                           "system 's': component 'run' could not be built"),
    # scores that are not numbers, rows ranked twice
    "nan-scores": (lambda t: BASE.format(dataset="", pipeline=_run_file(t, "1 Q0 1 0 nan x\n")), "NaN"),
    "pairs-twice": (lambda t: BASE.format(dataset="", pipeline=_run_file(t, "1 Q0 1 0 2 x\n1 Q0 1 1 1 x\n")),
                    "more than once"),
    # a dataset id that does not exist
    "unknown-dataset": (lambda t: BASE.format(dataset="", pipeline=_run_file(t, "1 Q0 1 0 1 x\n")).replace(
        "irds:vaswani", "irds:no-such-collection"), "no-such-collection"),
}


@needs_data
@pytest.mark.parametrize("name", list(RUNTIME))
def test_errors_from_libraries_name_the_system(name, tmp_path, capsys):
    make, match = RUNTIME[name]
    (tmp_path / "p.toml").write_text(make(tmp_path))
    code, err = cli(["run", str(tmp_path / "p.toml"), "--quiet", "--no-cache"], capsys)
    assert_one_line_error(code, err, match)


@needs_data
@pytest.mark.java
def test_an_unknown_terrier_weighting_model_names_the_parameter(tmp_path, capsys):
    (tmp_path / "p.toml").write_text(BASE.format(dataset="", pipeline='{ component = "terrier", wmodel = "Nope" }'))
    code, err = cli(["run", str(tmp_path / "p.toml"), "--quiet", "--no-cache"], capsys)
    assert_one_line_error(code, err, "system 's': component 'terrier'.*no weighting model 'Nope'")


@needs_data
def test_a_corrupt_cache_is_one_line(tmp_path, capsys):
    (tmp_path / "p.toml").write_text(BASE.format(dataset="", pipeline='{ component = "bm25", engine = "pisa" }'))
    args = ["run", str(tmp_path / "p.toml"), "--quiet", "--cache-dir", str(tmp_path / "caches")]
    assert cli(args, capsys)[0] == 0
    for meta in (tmp_path / "caches").rglob("transformers_ir_cache.json"):
        meta.write_text(meta.read_text()[:40])
    code, err = cli(args, capsys)
    assert_one_line_error(code, err, "transformers_ir_cache.json is unreadable")


def test_a_real_process_prints_no_traceback(tmp_path):
    """The same through a fresh interpreter (stdout redirection, logging, thread hooks as a user gets them)."""
    cases = [c for c in PIPELINE_CASES if c.name in ("metric-cutoff-zero", "not-utf8", "system-name-nul")]
    for case in cases:
        (tmp_path / "p.toml").write_bytes(case.text(PIPELINE))
        done = subprocess.run([sys.executable, "-m", "transformers_ir.cli", "run", str(tmp_path / "p.toml")],
                              cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert_one_line_error(done.returncode, done.stderr, case.match)
        assert done.stdout == ""


def test_python_callers_get_the_same_checks(pisa_index):
    """What a pipeline file cannot give, a Python caller cannot either (an engine would allocate 10^12 results)."""
    for kwargs, match in [({"k1": float("nan")}, "finite"), ({"b": 1.5}, "between 0 and 1"),
                          ({"num_results": 10**12}, "at most"), ({"num_results": 0}, "positive")]:
        with pytest.raises(ValueError, match=match):
            pisa_index.bm25(**kwargs)
