"""Pipeline files: the shipped ones parse; each kind of mistake gets the file, the line and the fix."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from transformers_ir.experiments import PipelineFileError, parse_pipeline
from transformers_ir.registry import registry

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
name = "demo"

[dataset]
topics = "irds:vaswani"

[evaluation]
metrics = ["AP", "nDCG@10"]
baseline = "bm25"

[[systems]]
name = "bm25"
pipeline = [{ component = "bm25", engine = "pisa", "%" = 100 }]

[[systems]]
name = "tfidf"
pipeline = [
  { component = "terrier", wmodel = "TF_IDF" },
]
"""


def write(tmp_path, text, name="p.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("path", sorted((ROOT / "pipelines").glob("*.toml")), ids=lambda p: p.name)
def test_shipped_pipelines_parse(path):
    spec = parse_pipeline(path)
    assert spec.systems and spec.metrics
    assert spec.baseline in {s.name for s in spec.systems}


def test_required_systems_are_shipped():
    names = {p: {s.name for s in parse_pipeline(ROOT / "pipelines" / p).systems}
             for p in ("vaswani.toml", "scifact.toml")}
    assert {"terrier-bm25", "pisa-bm25", "tf-idf"} <= names["vaswani.toml"]
    assert {"terrier-bm25", "pisa-bm25"} <= names["scifact.toml"]


def test_good_file_parses(tmp_path):
    spec = parse_pipeline(write(tmp_path, GOOD))
    assert [s.name for s in spec.systems] == ["bm25", "tfidf"]
    assert spec.systems[0].stages[0].cutoff == 100
    assert spec.systems[0].stages[0].params == {"engine": "pisa"}
    assert spec.qrels == spec.corpus == spec.topics == "irds:vaswani"
    assert [str(m) for m in spec.measures] == ["AP", "nDCG@10"]


def test_both_measure_spellings(tmp_path):
    """trec_eval names (what ``pt.Experiment`` takes as strings) are the same measures as ir_measures names; the
    same measure written both ways is listed twice."""
    spec = parse_pipeline(write(tmp_path, GOOD.replace('["AP", "nDCG@10"]', '["map", "ndcg_cut_10", "recall_100"]')))
    assert [str(m) for m in spec.measures] == ["AP", "nDCG@10", "R@100"]
    assert spec.metrics == ["map", "ndcg_cut_10", "recall_100"]  # shown as written
    with pytest.raises(PipelineFileError, match="listed twice"):
        parse_pipeline(write(tmp_path, GOOD.replace('["AP", "nDCG@10"]', '["nDCG@10", "ndcg_cut_10"]')))
    with pytest.raises(PipelineFileError, match="ir_measures name.*trec_eval one"):
        parse_pipeline(write(tmp_path, GOOD.replace('["AP", "nDCG@10"]', '["ndcg_cut"]')))  # several cutoffs


@pytest.mark.parametrize(
    "old, new, message, line",
    [
        ('component = "bm25"', 'component = "bm42"', "unknown component 'bm42'.*registered: .*bm25", 12),
        ('"nDCG@10"]', '"nDCG@ten"]', "unknown metric 'nDCG@ten'", 7),
        ('engine = "pisa"', 'engine = "lucene"', "parameter 'engine' of 'bm25' must be one of 'terrier', 'pisa'", 12),
        ('engine = "pisa"', 'engien = "pisa"', "has no parameter 'engien' \\(valid: engine, k1, b, num_results\\)", 12),
        ('"%" = 100', '"%" = -3', "rank cutoff", 12),
        ('wmodel = "TF_IDF"', "wmodel = 3", "parameter 'wmodel' of 'terrier' must be str", 17),
        ('baseline = "bm25"', 'baseline = "bm26"', "baseline 'bm26' is not one of the systems", 8),
        ('name = "tfidf"', 'name = "bm25"', "two systems are named 'bm25'", 15),
        ('[dataset]\ntopics = "irds:vaswani"', "", "missing dataset.*\\[dataset\\]", None),
        ('metrics = ["AP", "nDCG@10"]', 'metrics = "AP"', "needs metrics", 7),
        ('name = "demo"', 'name = "demo"\ncolour = "red"', "unknown top-level key 'colour'", 2),
        ("pipeline = [{", "pipeline = [{{", "not valid TOML", 12),
    ],
)
def test_mistakes_name_problem_and_line(tmp_path, old, new, message, line):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(PipelineFileError, match=message) as info:
        parse_pipeline(path)
    assert str(path) in str(info.value)
    if line is not None:
        assert info.value.line == line, str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(Exception, match="does not exist"):
        parse_pipeline(tmp_path / "nope.toml")


def test_registry_has_only_public_factories():
    comps = registry()
    assert {"bm25", "terrier", "text", "run"} <= set(comps)
    for comp in comps.values():
        assert comp.summary, f"component {comp.name} needs a docstring"
        assert comp.factory.__module__.startswith("transformers_ir.")


def test_pipeline_files_cannot_import_code(tmp_path):
    """A dotted path or module name is not a component: nothing is imported from a pipeline file."""
    path = write(tmp_path, GOOD.replace('component = "bm25"', 'component = "os.system"', 1))
    with pytest.raises(PipelineFileError, match="unknown component 'os.system'"):
        parse_pipeline(path)


@pytest.mark.parametrize("args, code, text", [
    (["run"], 2, "the following arguments are required"),
    (["run", "missing.toml"], 2, "does not exist"),
    (["frobnicate"], 2, "invalid choice"),
])
def test_cli_usage_errors_exit_2(tmp_path, args, code, text):
    out = subprocess.run([sys.executable, "-m", "transformers_ir.cli", *args], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert out.returncode == code
    assert text in out.stderr
    assert out.stdout == ""


def test_cli_bad_pipeline_writes_nothing(tmp_path):
    path = write(tmp_path, GOOD.replace('component = "bm25"', 'component = "bm42"', 1))
    out = subprocess.run([sys.executable, "-m", "transformers_ir.cli", "run", str(path), "--out",
                          str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert f"{path}:12: unknown component 'bm42'" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "out").exists()
