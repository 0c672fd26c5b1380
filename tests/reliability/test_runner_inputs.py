"""The runner on bad runs: NaN scores, pairs ranked twice, ties, a constant scorer, and --out never half-written."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from transformers_ir import _paths

pytestmark = [pytest.mark.reliability,
              pytest.mark.skipif(_paths.data_dir() is None, reason="no offline data folder (../shared/data)")]
ROOT = Path(__file__).resolve().parents[2]


def vaswani_qrels() -> pd.DataFrame:
    from transformers_ir.data import get_dataset

    return get_dataset("irds:vaswani").get_qrels()


def write_run(path: Path, rows) -> Path:
    path.write_text("".join(f"{q} Q0 {d} 0 {s} x\n" for q, d, s in rows))
    return path


def pipeline(tmp_path: Path, runs: dict[str, Path], metrics=("RR@10", "P@5")) -> Path:
    systems = "".join(f'[[systems]]\nname = "{name}"\npipeline = [{{ component = "run", path = "{p.name}" }}]\n'
                      for name, p in runs.items())
    file = tmp_path / "p.toml"
    file.write_text(f'[dataset]\ntopics = "irds:vaswani"\n[evaluation]\nmetrics = {list(metrics)!r}\n'.replace("'", '"')
                    + systems)
    return file


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "transformers_ir.cli", "run", *args, "--quiet", "--no-cache"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)


@pytest.mark.parametrize("bad, message", [("nan", "NaN or infinite"),
                                          ("dup", "more than once")])
def test_bad_scores_or_rows_are_refused_by_name(tmp_path, bad, message):
    qrels = vaswani_qrels()
    rows = [(q, d, 1.0) for q, d in zip(qrels["qid"], qrels["docno"])][:50]
    rows += [(rows[0][0], rows[0][1], 2.0)] if bad == "dup" else [(rows[0][0], "extra-doc", bad)]
    file = pipeline(tmp_path, {"broken": write_run(tmp_path / "broken.run", rows)})
    out = cli(str(file), "--out", str(tmp_path / "out"))
    assert out.returncode == 2, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert "system 'broken'" in out.stderr and message in out.stderr and rows[0][0] in out.stderr
    assert not (tmp_path / "out").exists(), "nothing may be written for a failed run"


def test_tied_scores_evaluate_alike_and_constant_scorer_is_not_rewarded(tmp_path):
    """Every document tied: ranked by docno, so the order owes nothing to relevance (trec_eval would break
    ties by docno descending, the input order elsewhere)."""
    qrels = vaswani_qrels()
    rel = qrels[qrels["label"] > 0].groupby("qid")["docno"].apply(list)
    qids = list(rel.index[:20])
    candidates = {q: rel[q][:1] + [f"{n}" for n in range(90000, 90009)] for q in qids}
    constant = [(q, d, 0.0) for q in qids for d in sorted(candidates[q], reverse=True)]  # relevant doc first
    oracle = [(q, d, 1.0 if d == rel[q][0] else 0.0) for q in qids for d in candidates[q]]
    file = pipeline(tmp_path, {"constant": write_run(tmp_path / "c.run", constant),
                               "oracle": write_run(tmp_path / "o.run", oracle)}, metrics=("RR@10",))
    out = cli(str(file), "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    scores = {s["name"]: s["RR@10"] for s in json.loads(out.stdout)["systems"]}
    # the expected RR of the constant scorer: the relevant docno's position among the candidates in docno order
    expected = sum(1 / (1 + sorted(candidates[q]).index(rel[q][0])) for q in qids) / len(rel)
    assert scores["constant"] == pytest.approx(expected)
    assert scores["oracle"] == pytest.approx(len(qids) / len(rel))
    assert scores["constant"] < scores["oracle"]
