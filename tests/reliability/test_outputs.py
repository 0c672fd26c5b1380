"""Outputs never replace what the command did not write: ``run --out``, ``predict --out`` and ``[train] output``.
A user's ``notes.txt`` survives every path; ``--force`` replaces only our own earlier output."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from transformers_ir import _paths
from transformers_ir._outputs import MARKER, check_output_dir, check_output_file, claim_work_dir
from transformers_ir.errors import OutputExists

pytestmark = pytest.mark.reliability
ROOT = Path(__file__).resolve().parents[2]
needs_data = pytest.mark.skipif(_paths.data_dir() is None, reason="no offline data folder (../shared/data)")


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones included) with its content."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def pipeline(tmp_path) -> Path:
    from transformers_ir.data import get_dataset

    qrels = get_dataset("irds:vaswani").get_qrels().head(300)
    (tmp_path / "a.run").write_text("".join(f"{r.qid} Q0 {r.docno} 0 {r.label} a\n" for r in qrels.itertuples()))
    file = tmp_path / "p.toml"
    file.write_text('[dataset]\ntopics = "irds:vaswani"\n[evaluation]\nmetrics = ["AP"]\n'
                    '[[systems]]\nname = "a"\npipeline = [{ component = "run", path = "a.run" }]\n')
    return file


def run(pipeline: Path, *args, capsys=None) -> tuple[int, str]:
    from transformers_ir.cli import main

    code = main(["run", str(pipeline), "--quiet", "--no-cache", *map(str, args)])
    return code, capsys.readouterr().err if capsys else ""


def test_the_checks_refuse_what_is_not_ours(tmp_path):
    (tmp_path / "file.txt").write_text("mine")
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "notes.txt").write_text("mine")
    (tmp_path / "empty").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "theirs")
    for path, force in [("file.txt", True), ("theirs", True), ("link", True)]:
        with pytest.raises(OutputExists, match="nothing was changed"):
            check_output_dir(tmp_path / path, force=force)
    assert check_output_dir(tmp_path / "empty") and check_output_dir(tmp_path / "absent")
    ours = tmp_path / "ours"
    ours.mkdir()
    (ours / "table.csv").write_text("t")
    from transformers_ir._outputs import marker_text

    (ours / MARKER).write_text(marker_text(ours, "run"))
    with pytest.raises(OutputExists, match="pass --force"):
        check_output_dir(ours)
    assert check_output_dir(ours, force=True) == ours
    (ours / "sub").mkdir()
    with pytest.raises(OutputExists, match=r"did not write \(sub/\)"):
        check_output_dir(ours, force=True)
    with pytest.raises(OutputExists, match="did not write"):
        check_output_file(tmp_path / "file.txt", force=True)
    with pytest.raises(OutputExists, match="pass --force"):
        check_output_file(tmp_path / "file.txt", ours=True)
    with pytest.raises(OutputExists, match="did not write"):
        claim_work_dir(tmp_path / "theirs", kind="training", flag="[train] output")
    assert tree(tmp_path / "theirs") == {"notes.txt": b"mine"}
    claim_work_dir(tmp_path / "new", kind="training", flag="[train] output")
    assert claim_work_dir(tmp_path / "new", kind="training", flag="x") == tmp_path / "new"


@needs_data
def test_an_existing_folder_of_the_users_is_refused_and_kept(pipeline, tmp_path, capsys):
    project = tmp_path / "myproject"
    project.mkdir()
    (project / "notes.txt").write_text("my notes")
    before = tree(tmp_path)
    for extra in ([], ["--force"]):
        code, err = run(pipeline, "--out", project, *extra, capsys=capsys)
        assert code == 2 and "did not write" in err and "notes.txt" in err, err
        assert tree(tmp_path) == before, "nothing may be written, moved or removed"
        assert not list(tmp_path.glob(".tmp-*"))


@needs_data
def test_an_existing_file_is_refused_and_kept(pipeline, tmp_path):
    (tmp_path / "results.txt").write_text("my results")
    before = tree(tmp_path)
    done = subprocess.run([sys.executable, "-m", "transformers_ir.cli", "run", str(pipeline), "--quiet",
                           "--no-cache", "--out", str(tmp_path / "results.txt"), "--force"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "is an existing file" in done.stderr
    assert tree(tmp_path) == before and not list(tmp_path.glob(".*"))


@needs_data
def test_force_replaces_only_our_own_output(pipeline, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(pipeline, "--out", out, capsys=capsys)[0] == 0
    written = tree(out)
    assert MARKER in written and "runs/a.run" in written
    code, err = run(pipeline, "--out", out, capsys=capsys)
    assert code == 2 and "pass --force" in err and tree(out) == written
    assert run(pipeline, "--out", out, "--force", capsys=capsys)[0] == 0
    (out / "notes.txt").write_text("added by the user")
    code, err = run(pipeline, "--out", out, "--force", capsys=capsys)
    assert code == 2 and "notes.txt" in err
    assert (out / "notes.txt").read_text() == "added by the user"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run(pipeline, "--out", empty, capsys=capsys)[0] == 0 and (empty / MARKER).is_file()


def test_predict_refuses_a_file_it_did_not_write_before_any_work(tmp_path, capsys):
    """``predict --out``: a user's file there, or a user's file where the provenance (``<out>.json``) would go,
    is refused with exit 2 before a dataset or model is opened (the model named here does not exist)."""
    from transformers_ir.cli import main

    (tmp_path / "scores.run").write_text("my scores")
    (tmp_path / "fresh.run.json").write_text("my notes")
    before = tree(tmp_path)
    for out, extra in [("scores.run", []), ("scores.run", ["--force"]), ("fresh.run", []), ("fresh.run", ["--force"])]:
        code = main(["predict", "--model", str(tmp_path / "no-such-model"), "--topics", "irds:vaswani", "--quiet",
                     "--out", str(tmp_path / out), *extra])
        err = capsys.readouterr().err
        assert code == 2 and "did not write" in err and "Traceback" not in err, err
    assert tree(tmp_path) == before
