"""The runner with its caches: shared prefixes run once, a second run computes nothing, --no-cache bypasses,
and --out records a manifest. Vaswani with PISA (no Java): seconds."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from transformers_ir import _paths

ROOT = Path(__file__).resolve().parents[2]
needs_data = pytest.mark.skipif(_paths.data_dir() is None, reason="no offline data folder (../shared/data)")

PIPELINE = """
[dataset]
topics = "irds:vaswani"

[evaluation]
metrics = ["AP", "nDCG@10"]
baseline = "bm25"

[[systems]]
name = "bm25"
pipeline = [{ component = "bm25", "%" = 100 }]

[[systems]]
name = "bm25-text"
pipeline = [{ component = "bm25", "%" = 100 }, { component = "text" }]

[[systems]]
name = "bm25-k1.2"
pipeline = [{ component = "bm25", k1 = 1.2, b = 0.75, "%" = 100 }]
"""


@pytest.fixture
def pipeline(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(PIPELINE)
    return path


def cli(*args):
    return subprocess.run([sys.executable, "-m", "transformers_ir.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=900)


def sources(result) -> dict[str, list[tuple]]:
    return {r.name: [(t.label, t.source, t.computed_rows, t.cached_rows) for t in r.stages] for r in result.runs}


@needs_data
def test_second_run_computes_nothing_and_prefixes_run_once(pipeline, tmp_path):
    from transformers_ir.experiments import run_experiment

    first = run_experiment(pipeline, verbose=False, cache_dir=tmp_path / "caches")
    assert sources(first) == {
        "bm25": [("bm25%100", "cache", 93, 0)],
        "bm25-text": [("bm25%100", "shared", 93, 0), ("text", "computed", None, None)],  # BM25 ran once
        "bm25-k1.2": [("bm25%100", "cache", 93, 0)],
    }
    second = run_experiment(pipeline, verbose=False, cache_dir=tmp_path / "caches")
    assert sources(second) == {
        "bm25": [("bm25%100", "cache", 0, 93)],
        "bm25-text": [("bm25%100", "shared", 0, 93), ("text", "computed", None, None)],
        "bm25-k1.2": [("bm25%100", "cache", 0, 93)],
    }
    for a, b in zip(first.runs, second.runs):
        pd.testing.assert_frame_equal(a.results[["qid", "docno", "score", "rank"]],
                                      b.results[["qid", "docno", "score", "rank"]])
    assert first.table["AP"].tolist() == second.table["AP"].tolist()
    assert "cache: 0 computed, 93 read" in second.table.set_index("name").loc["bm25", "stages"]
    # one folder per configuration: the two BM25 settings never share entries
    assert len(list((tmp_path / "caches").glob("*/results-bm25-*"))) == 2


@needs_data
def test_no_cache_bypasses_and_gives_the_same_results(pipeline, tmp_path):
    from transformers_ir.experiments import run_experiment

    cached = run_experiment(pipeline, verbose=False, cache_dir=tmp_path / "caches")
    plain = run_experiment(pipeline, verbose=False, cache=False, cache_dir=tmp_path / "unused")
    assert not (tmp_path / "unused").exists()
    assert {t.source for r in plain.runs for t in r.stages} == {"computed", "shared"}
    for a, b in zip(cached.runs, plain.runs):
        pd.testing.assert_frame_equal(a.results[["qid", "docno", "score"]], b.results[["qid", "docno", "score"]])


@needs_data
def test_cli_json_efficiency_and_manifest(pipeline, tmp_path):
    args = ["run", str(pipeline), "--json", "--quiet", "--cache-dir", str(tmp_path / "caches")]
    cli(*args)
    out = cli(*args, "--out", str(tmp_path / "out"))
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout)
    bm25 = {s["name"]: s for s in summary["systems"]}["bm25"]
    assert {"AP", "nDCG@10", "qps", "ms_per_query", "stages"} <= set(bm25)
    [stage] = bm25["stages"]
    assert stage["label"] == "bm25%100" and stage["computed_rows"] == 0 and stage["cached_rows"] == 93
    assert stage["qps"] == pytest.approx(93 / stage["seconds"])
    assert bm25["ms_per_query"] == pytest.approx(1000 * stage["seconds"] / 93)

    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["pipeline_file"]["text"] == PIPELINE
    assert manifest["datasets"] == {"topics": "irds:vaswani", "qrels": "irds:vaswani", "corpus": "irds:vaswani",
                                    "num_topics": 93, "num_qrels": 2083}
    assert manifest["versions"]["transformers-ir"] and manifest["versions"]["python-terrier"]
    k12 = next(s for s in manifest["systems"] if s["name"] == "bm25-k1.2")["stages"][0]
    assert k12["params"] == {"k1": 1.2, "b": 0.75} and k12["cutoff"] == 100
    assert "'bm25_k1': 1.2" in k12["repr"] and k12["cache"].startswith(str(tmp_path / "caches"))
    table = pd.read_csv(tmp_path / "out" / "table.csv")
    assert {"qps", "ms/query", "stages"} <= set(table.columns)

    plain = cli("run", str(pipeline), "--json", "--quiet", "--no-cache")
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert all(s["stages"][0]["computed_rows"] is None for s in json.loads(plain.stdout)["systems"])


@needs_data
def test_rerankers_over_one_bm25_run_it_once_and_rescore_nothing_the_second_time(tmp_path, tiny_classifier_path,
                                                                                 tiny_t5_path):
    from transformers_ir.experiments import run_experiment

    rerankers = {"ce": f'{{ component = "cross-encoder", model = "{tiny_classifier_path}", max_length = 128 }}',
                 "ce-96": f'{{ component = "cross-encoder", model = "{tiny_classifier_path}", max_length = 96 }}',
                 "monot5": f'{{ component = "monot5", model = "{tiny_t5_path}", max_length = 128 }}'}
    systems = "".join(f'[[systems]]\nname = "{name}"\npipeline = [{{ component = "bm25", "%" = 10 }}, '
                      f'{{ component = "text" }}, {stage}]\n' for name, stage in rerankers.items())
    path = tmp_path / "rerank.toml"
    path.write_text('[dataset]\ntopics = "irds:vaswani"\n[evaluation]\nmetrics = ["nDCG@10"]\nbaseline = "ce"\n'
                    + systems)
    first = run_experiment(path, verbose=False, cache_dir=tmp_path / "caches")
    assert [r.stages[0].source for r in first.runs] == ["cache", "shared", "shared"]  # BM25 ran once
    assert [r.stages[2].computed_rows for r in first.runs] == [930, 930, 930]  # 93 queries x 10 documents
    second = run_experiment(path, verbose=False, cache_dir=tmp_path / "caches")
    assert [(r.stages[2].computed_rows, r.stages[2].cached_rows) for r in second.runs] == [(0, 930)] * 3
    for a, b in zip(first.runs, second.runs):
        pd.testing.assert_frame_equal(a.results[["qid", "docno", "rank"]], b.results[["qid", "docno", "rank"]])
        assert a.results["score"].to_numpy() == pytest.approx(b.results["score"].to_numpy(), rel=1e-6)
    # each configuration has its own scores: max_length 96 is not served max_length 128's
    assert len(list((tmp_path / "caches").glob("*/scores-*"))) == 3


@needs_data
def test_stages_naming_different_training_configs_are_not_shared(tmp_path, tiny_classifier_path):
    """Two systems whose re-ranker stages differ only in ``train_config`` score with their own models: the run
    shares a prefix only when the stages name the same training config (it once served the first system's
    scores to the second)."""
    from transformers_ir.experiments import run_experiment

    (tmp_path / "triples.tsv").write_text("vaswani query\tsome relevant text\tsome other text\n" * 4)
    for name, seed in (("a", 1), ("b", 2)):
        (tmp_path / f"{name}.toml").write_text(
            f'[model]\nname = "{tiny_classifier_path}"\noptions = {{ num_labels = 1 }}\n'
            f'[data]\ntriples = "triples.tsv"\ngroup_size = 2\n[train]\nepochs = 1\nbatch_size = 2\n'
            f'learning_rate = 1e-2\nmax_length = 32\nquery_max_length = 8\nseed = {seed}\noutput = "{name}"\n')
    systems = "".join(f'[[systems]]\nname = "ce-{name}"\npipeline = [{{ component = "bm25", "%" = 5 }}, '
                      f'{{ component = "text" }}, {{ component = "cross-encoder", train_config = "{name}.toml", '
                      f'max_length = 64, query_max_length = 16 }}]\n' for name in ("a", "b"))
    path = tmp_path / "p.toml"
    path.write_text('[dataset]\ntopics = "irds:vaswani"\n[evaluation]\nmetrics = ["nDCG@10"]\n' + systems)
    result = run_experiment(path, verbose=False, cache_dir=tmp_path / "caches")
    sources = [[s.source for s in r.stages] for r in result.runs]
    assert sources == [["cache", "computed", "cache"], ["shared", "shared", "cache"]]
    a, b = (r.results.sort_values(["qid", "docno"])["score"].to_numpy() for r in result.runs)
    assert abs(a - b).max() > 1e-4, "each system is scored by the model its own config trains"
    # each trained model's card records the figures of the system it is a stage of, as measured
    measured = {row["name"]: row["nDCG@10"] for row in result.metrics_by_system()}
    for name in ("a", "b"):
        card = (tmp_path / name / "model" / "README.md").read_text()
        section = card.split("## Measured effectiveness")[1]
        assert f"| p | ce-{name} | irds:vaswani | {measured[f'ce-{name}']:.4f} |" in section
        assert f"ce-{'b' if name == 'a' else 'a'}" not in section
    run_experiment(path, verbose=False, cache_dir=tmp_path / "caches")  # a second run replaces its entry
    card = (tmp_path / "a" / "model" / "README.md").read_text()
    assert card.count("## Measured effectiveness") == 1 and card.count("| p | ce-a |") == 1
    assert "## Training config" in card  # the rest of the card is kept
