"""Two processes at once: temporary folders are cleared only when their owner is gone, caches take a second
writer, and two identical runs on an empty home both end with the same table."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from transformers_ir import _atomic, _paths
from transformers_ir.caching import ScorerCache

pytestmark = pytest.mark.reliability
ROOT = Path(__file__).resolve().parents[2]
needs_data = pytest.mark.skipif(_paths.data_dir() is None, reason="no offline data folder (../shared/data)")


def _tmp_of(path: Path, pid: int, start: str, host: str | None = None) -> Path:
    folder = path.with_name(f".tmp-{path.name}-{pid}.{start}.{host or _atomic._host()}.0123abcd")
    folder.mkdir()
    (folder / "part").write_text("being written")
    return folder


def test_only_leftovers_of_gone_processes_are_removed(tmp_path):
    target = tmp_path / "idx"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        start = _atomic.process_start(live.pid)
        assert start is not None
        alive = _tmp_of(target, live.pid, start)
        reused = _tmp_of(target, live.pid, str(int(start) + 1))  # the pid now belongs to a later process
        other_host = _tmp_of(target, 1, "1", host="ffffffff")
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        gone = _tmp_of(target, int(dead.stdout), "5")
        sibling = _tmp_of(tmp_path / "idx-2", 1, "1")  # '.tmp-idx-2-...' shares the prefix of '.tmp-idx-'
        legacy_dead = tmp_path / f".tmp-idx-{int(dead.stdout)}-deadbeef"
        legacy_dead.mkdir()
        _atomic.remove_stale_tmp(target)
        assert alive.is_dir() and other_host.is_dir() and sibling.is_dir(), "a live or foreign build was removed"
        assert not reused.exists() and not gone.exists() and not legacy_dead.exists()
        with _atomic.atomic_dir(target) as tmp:  # a writer of the same path keeps the live build too
            (tmp / "x").write_text("done")
        assert alive.is_dir() and (target / "x").is_file()
    finally:
        live.kill()
        live.wait()


def test_a_folder_put_in_place_by_another_writer_is_never_replaced(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(FileExistsError, match="appeared while it was being written"):
        with _atomic.atomic_dir(target) as tmp:
            (tmp / "mine").write_text("mine")
            target.mkdir()  # another process renamed its complete folder into place first
            (target / "theirs").write_text("theirs")
    assert [p.name for p in target.iterdir()] == ["theirs"]
    assert not list(tmp_path.glob(".tmp-*"))


class Length:
    def __call__(self, inp):
        return inp.assign(score=[float(len(t)) for t in inp["text"]])


def test_a_cache_takes_a_second_writer_of_the_same_entries(tmp_path):
    import pyterrier as pt

    scorer = pt.apply.generic(Length())
    frame = pd.DataFrame({"qid": ["1", "1"], "query": ["q", "q"], "docno": ["a", "b"], "text": ["x", "yy"],
                          "score": 0.0, "rank": 0})
    first = ScorerCache(tmp_path / "c", scorer, config={"model": "length"})
    second = ScorerCache(tmp_path / "c", scorer, config={"model": "length"})  # opened before either wrote
    second._create()  # a creation that lost the race: the folder is there, nothing is replaced or raised
    second.store.get_many = lambda keys: {}  # it looked before the first one committed
    out_a, out_b = first(frame), second(frame)  # both compute and write the same two entries
    assert first.misses == second.misses == 2
    pd.testing.assert_frame_equal(out_a, out_b)
    third = ScorerCache(tmp_path / "c", scorer, config={"model": "length"})
    third(frame)
    assert (third.hits, third.misses) == (2, 0) and len(third.store) == 2


PIPELINE = """
[dataset]
topics = "irds:vaswani"

[evaluation]
metrics = ["AP", "nDCG@10"]
baseline = "pisa"

[[systems]]
name = "pisa"
pipeline = [{ component = "bm25", engine = "pisa", "%" = 100 }]

[[systems]]
name = "pisa-k1.2"
pipeline = [{ component = "bm25", engine = "pisa", k1 = 1.2, b = 0.75 }]
"""


@needs_data
def test_two_identical_runs_at_once_on_an_empty_home(tmp_path):
    """Both build the index, fill ir_datasets' cache and write the same cache entries at the same time."""
    (tmp_path / "p.toml").write_text(PIPELINE)
    env = {k: v for k, v in os.environ.items() if k != _paths.IRDS_ENV}  # ir_datasets' cache in the empty home
    env[_paths.HOME_ENV] = str(tmp_path / "home")
    command = [sys.executable, "-m", "transformers_ir.cli", "run", str(tmp_path / "p.toml"), "--json", "--quiet"]
    procs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=900) for p in procs]
    for proc, (_out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-3000:]
        assert "Traceback" not in err
    tables = [{s["name"]: (s["AP"], s["nDCG@10"]) for s in json.loads(out)["systems"]} for out, _ in outputs]
    assert tables[0] == tables[1] and set(tables[0]) == {"pisa", "pisa-k1.2"}
    assert not list((tmp_path / "home").rglob(".tmp-*")), "a temporary folder was left behind"
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {s["name"]: (s["AP"], s["nDCG@10"]) for s in json.loads(again.stdout)["systems"]} == tables[0]
