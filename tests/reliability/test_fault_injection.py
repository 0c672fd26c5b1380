"""Fault injection: builds and writes killed with SIGKILL in a real subprocess, then re-run; finished artifacts
corrupted on disk, then opened. Nothing half-written is ever read back as complete, and the re-run ends with what
an uninterrupted run gives."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from reliability.components import DOCS
from transformers_ir import _paths
from transformers_ir.indexes import CorruptIndex, PisaIndex
from transformers_ir.indexes._artifact import MARKER

pytestmark = pytest.mark.reliability
ROOT = Path(__file__).resolve().parents[2]
TOPICS = pd.DataFrame({"qid": ["q1", "q2", "q3"], "query": ["cat", "markets fell", "gene cancer"]})
needs_data = pytest.mark.skipif(_paths.data_dir() is None, reason="no offline data folder (../shared/data)")


def kill_when(script: str, signal_file: Path, timeout: float = 300) -> None:
    """Run ``script`` in a fresh Python; SIGKILL it as soon as it creates ``signal_file``."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while not signal_file.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the process ended before the fault point: {proc.stderr.read().decode()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the fault point was never reached")
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL


def slow_docs_script(index_path: Path, signal_file: Path, n: int = 2000) -> str:
    """Index ``n`` documents with PISA, signalling half-way and then stalling, so the kill lands mid-build."""
    return f"""
        import time
        from pathlib import Path
        from transformers_ir.indexes import PisaIndex
        def docs():
            for i in range({n}):
                if i == {n // 2}:
                    Path({str(signal_file)!r}).touch()
                    time.sleep(600)
                yield {{"docno": f"d{{i}}", "text": f"cat dog {{i}} " + "word " * (i % 7)}}
        PisaIndex({str(index_path)!r}).build(docs())
    """


def test_killed_index_build_leaves_nothing_complete_and_rebuilds_the_same(tmp_path):
    path = tmp_path / "idx"
    kill_when(slow_docs_script(path, tmp_path / "killed"), tmp_path / "killed")
    index = PisaIndex(path)
    assert not index.built(), "a killed build must not be marked built"
    with pytest.raises(FileNotFoundError, match="build it first"):
        index.bm25()
    assert list(tmp_path.glob(".tmp-idx-*")), "the half-written build stays under its temporary name"
    docs = [{"docno": f"d{i}", "text": f"cat dog {i} " + "word " * (i % 7)} for i in range(2000)]
    rebuilt = PisaIndex(path).build(iter(docs))
    assert not list(tmp_path.glob(".tmp-idx-*")), "the next build removes the leftovers"
    reference = PisaIndex(tmp_path / "reference").build(iter(docs))
    assert rebuilt.num_docs() == 2000
    queries = pd.DataFrame({"qid": ["1", "2"], "query": ["cat 1999", "dog word 7"]})
    pd.testing.assert_frame_equal(rebuilt.bm25(num_results=50)(queries), reference.bm25(num_results=50)(queries))


@pytest.fixture
def built(tmp_path) -> PisaIndex:
    return PisaIndex(tmp_path / "idx").build(iter(DOCS))


def test_marker_records_every_file(built):
    files = built.metadata["files"]
    on_disk = {p.relative_to(built.path).as_posix() for p in built.path.rglob("*") if p.is_file()} - {MARKER}
    assert set(files) == on_disk and all("sha256" in f for f in files.values())


@pytest.mark.parametrize("damage", ["truncate", "flip-byte", "delete"])
def test_corrupted_index_fails_clearly_on_open(built, damage):
    before = built.bm25(num_results=10)(TOPICS)  # retrieval builds PISA's lazy files; they are not checked
    victim = max((p for p in built.path.iterdir() if p.is_file() and p.name in built.metadata["files"]),
                 key=lambda p: p.stat().st_size)
    data = victim.read_bytes()
    if damage == "truncate":
        victim.write_bytes(data[: len(data) // 2])
    elif damage == "flip-byte":
        victim.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    else:
        victim.unlink()
    with pytest.raises(CorruptIndex, match=f"{victim.name}.*rebuild it"):
        PisaIndex(built.path).bm25()
    PisaIndex(built.path).build(iter(DOCS), overwrite=True)
    pd.testing.assert_frame_equal(PisaIndex(built.path).bm25(num_results=10)(TOPICS), before)


@pytest.mark.java
def test_corrupted_terrier_index_fails_clearly(tmp_path):
    from transformers_ir.indexes import TerrierIndex

    index = TerrierIndex(tmp_path / "t").build(iter(DOCS))
    victim = index.path / "data.inverted.bf"
    victim.write_bytes(victim.read_bytes()[:-3])
    with pytest.raises(CorruptIndex, match="data.inverted.bf"):
        index.bm25()


def _pipeline(tmp_path: Path) -> Path:
    from transformers_ir.data import get_dataset

    qrels = get_dataset("irds:vaswani").get_qrels()
    rows = qrels.assign(score=qrels["label"].astype(float))
    run = tmp_path / "a.run"
    run.write_text("".join(f"{r.qid} Q0 {r.docno} 0 {r.score} a\n" for r in rows.itertuples()))
    (tmp_path / "b.run").write_text("".join(f"{r.qid} Q0 {r.docno} 0 {-r.score} b\n" for r in rows.itertuples()))
    file = tmp_path / "p.toml"
    file.write_text('[dataset]\ntopics = "irds:vaswani"\n[evaluation]\nmetrics = ["AP", "nDCG"]\nbaseline = "a"\n'
                    '[[systems]]\nname = "a"\npipeline = [{ component = "run", path = "a.run" }]\n'
                    '[[systems]]\nname = "b"\npipeline = [{ component = "run", path = "b.run" }]\n')
    return file


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
            and p.suffix != ".png"}  # plots embed nothing of the results but are not byte-stable


@needs_data
def test_killed_out_write_keeps_the_previous_folder_and_rerun_completes(tmp_path):
    file, out = _pipeline(tmp_path), tmp_path / "out"
    args = ["run", str(file), "--out", str(out), "--quiet", "--no-cache"]
    done = subprocess.run([sys.executable, "-m", "transformers_ir.cli", *args], cwd=ROOT, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    complete = _files(out)
    (out / "table.csv").write_text("the previous run's table\n")  # mark the previous folder
    previous = _files(out)
    args.append("--force")  # the folder holds our earlier output: replaced only when asked
    # the writer stalls after its first plot, with part of the new folder written, and is killed there
    kill_when(f"""
        import time
        from pathlib import Path
        import transformers_ir.experiments._report as report
        plot = report.plot_deltas
        def stalling(*args):
            plot(*args)
            Path({str(tmp_path / 'killed')!r}).touch()
            time.sleep(600)
        report.plot_deltas = stalling
        from transformers_ir.cli import main
        main({args!r})
    """, tmp_path / "killed")
    assert _files(out) == previous, "a killed write must leave the previous folder as it was"
    assert list(tmp_path.glob(".tmp-out-*")), "the half-written folder stays under its temporary name"
    done = subprocess.run([sys.executable, "-m", "transformers_ir.cli", *args], cwd=ROOT, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert _files(out).keys() == complete.keys()
    for name in ("runs/a.run", "runs/b.run", "perquery.csv"):  # summary.json and table.csv hold timings
        assert _files(out)[name] == complete[name], name
    assert not list(tmp_path.glob(".tmp-out-*")), "the next write removes the leftovers"
