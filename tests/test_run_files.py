"""One run-file convention: every TREC run the library writes (``run --out``'s ``runs/``, teacher scores from
``predict`` and training) goes through ``_ranking.write_run`` and ``pt.io.write_results``, so each reads back
with the same ranks (from 0) and the same tie-break (score, then docno) as the frames the library ranks."""
from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pyterrier as pt
import pytest

from transformers_ir import _paths
from transformers_ir._ranking import rank_results, write_run

ROOT = Path(__file__).resolve().parent.parent
needs_data = pytest.mark.skipif(_paths.data_dir() is None, reason="no offline data folder (../shared/data)")

#: Rows out of order, ties within a query (broken by docno), scores that need full precision to read back.
TIED = pd.DataFrame({"qid": ["2", "1", "1", "1", "2", "1", "2"],
                     "docno": ["b", "d3", "d1", "d2", "a", "d0", "c"],
                     "score": [1.0, 0.5, 0.5, 0.1234567891234, 1.0, 0.5, 3.0]})


def read_back(path: Path) -> pd.DataFrame:
    frame = pt.io.read_results(str(path))
    return frame.astype({"qid": str, "docno": str, "rank": "int64"})[["qid", "docno", "rank", "score"]]


def expected(frame: pd.DataFrame) -> pd.DataFrame:
    return rank_results(frame[["qid", "docno", "score"]])[["qid", "docno", "rank", "score"]]


def test_write_run_reads_back_with_the_library_ranking(tmp_path):
    write_run(TIED, tmp_path / "a.run", tag="my run")
    back = read_back(tmp_path / "a.run")
    pd.testing.assert_frame_equal(back, expected(TIED))
    assert list(back["docno"][back["qid"] == "1"]) == ["d0", "d1", "d3", "d2"]  # ties by docno, ranks from 0
    assert (tmp_path / "a.run").read_text().splitlines()[0] == "1 Q0 d0 0 0.5 my_run"


def test_teacher_files_follow_the_same_convention(tmp_path):
    from transformers_ir.training import read_teacher_scores, write_teacher_scores

    write_teacher_scores(TIED, tmp_path / "teacher.run", {"teacher": "mini lm"})
    pd.testing.assert_frame_equal(read_back(tmp_path / "teacher.run"), expected(TIED))
    scores, meta = read_teacher_scores(tmp_path / "teacher.run")
    assert scores[("1", "d2")] == 0.1234567891234 and meta["pairs"] == len(TIED) and meta["queries"] == 2


@needs_data
def test_run_out_files_and_teacher_files_agree(tmp_path):
    """``run --out`` of a stored run (ties and all) writes the same lines, tag aside, as a teacher file."""
    from transformers_ir.experiments import run_experiment, write_outputs
    from transformers_ir.training import write_teacher_scores

    qrels = pd.read_csv(_paths.data_dir() / "msmarco_passage_trecdl" / "qrels.dl19-passage.txt", sep=r"\s+",
                        header=None, names=["qid", "iter", "docno", "label"], dtype=str)
    frame = qrels.assign(score=qrels["label"].astype(float)).sample(frac=1.0, random_state=0)  # ties, shuffled
    write_run(frame, tmp_path / "labels.run", tag="labels")
    (tmp_path / "p.toml").write_text(
        '[dataset]\ntopics = "irds:msmarco-passage/trec-dl-2019/judged"\n[evaluation]\nmetrics = ["nDCG@10"]\n'
        '[[systems]]\nname = "labels"\npipeline = [{ component = "run", path = "labels.run" }]\n')
    out = write_outputs(run_experiment(tmp_path / "p.toml", verbose=False), tmp_path / "out")
    write_teacher_scores(frame, tmp_path / "teacher.run", {"teacher": "labels"})
    ran, taught = read_back(out / "runs" / "labels.run"), read_back(tmp_path / "teacher.run")
    pd.testing.assert_frame_equal(ran, taught)
    pd.testing.assert_frame_equal(ran, expected(frame.astype({"qid": str, "docno": str})))


def test_no_module_writes_run_lines_by_hand():
    """Only ``_ranking.write_run`` calls ``pt.io.write_results``, and no module formats ``Q0`` lines itself."""
    offenders = []
    for path in sorted((ROOT / "transformers_ir").rglob("*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Attribute) and node.attr == "write_results" and path.name != "_ranking.py":
                offenders.append(f"{path.name}:{node.lineno} calls write_results")
            if isinstance(node, ast.JoinedStr) and " Q0 " in ast.unparse(node):
                offenders.append(f"{path.name}:{node.lineno} formats a run line")
    assert offenders == []
