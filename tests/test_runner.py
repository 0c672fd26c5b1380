"""The runner end to end: offline Vaswani through the CLI, run files as systems, atomic --out."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyterrier as pt
import pytest

from transformers_ir import _paths
from transformers_ir._ranking import evaluation_frame, rank_results

ROOT = Path(__file__).resolve().parent.parent
needs_data = pytest.mark.skipif(_paths.data_dir() is None, reason="no offline data folder (../shared/data)")


def cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "transformers_ir.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=900)


@needs_data
@pytest.mark.java
def test_vaswani_pipeline_end_to_end(tmp_path):
    out = cli("run", "pipelines/vaswani.toml", "--json", "--quiet", "--out", str(tmp_path / "out"))
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)  # stdout holds exactly one JSON object
    assert result["dataset"] == "irds:vaswani"
    by_name = {s["name"]: s for s in result["systems"]}
    assert set(by_name) == {"terrier-bm25", "pisa-bm25", "tf-idf"}
    # PyTerrier's published pt.Experiment figures for BM25 on Vaswani (Terrier's default indexing)
    assert by_name["terrier-bm25"]["AP"] == pytest.approx(0.2965, abs=0.0005)
    assert by_name["terrier-bm25"]["nDCG"] == pytest.approx(0.6212, abs=0.001)
    for metric in ("AP", "nDCG"):
        assert abs(by_name["pisa-bm25"][metric] - by_name["terrier-bm25"][metric]) < 0.02
    files = {p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert {"table.csv", "table.md", "perquery.csv", "summary.json", "pipeline.toml", "delta_AP.png",
            "delta_nDCG.png", "runs/terrier-bm25.run", "runs/pisa-bm25.run", "runs/tf-idf.run"} <= files
    table = pd.read_csv(tmp_path / "out" / "table.csv")
    assert {"AP p-value", "AP p-value corrected", "qps", "ms/query"} <= set(table.columns)
    perquery = pd.read_csv(tmp_path / "out" / "perquery.csv")
    assert perquery.groupby("name")["qid"].nunique().eq(93).all()
    run = pd.read_csv(tmp_path / "out" / "runs" / "terrier-bm25.run", sep=r"\s+", header=None)
    assert run[0].nunique() == 93 and len(run) <= 93 * 1000


@needs_data
def test_run_file_evaluated_against_trec_dl_qrels(tmp_path):
    """TREC DL topics/qrels with no passages here: a run produced elsewhere is evaluated as a system."""
    qrels = pd.read_csv(_paths.data_dir() / "msmarco_passage_trecdl" / "qrels.dl19-passage.txt", sep=r"\s+",
                        header=None, names=["qid", "iter", "docno", "label"], dtype=str)
    qrels["label"] = qrels["label"].astype(int)
    best = qrels.assign(score=qrels["label"].astype(float))
    worst = qrels.assign(score=-qrels["label"].astype(float))
    for name, frame in (("best", best), ("worst", worst)):
        with open(tmp_path / f"{name}.run", "w") as f:
            for r in frame.itertuples():
                f.write(f"{r.qid} Q0 {r.docno} 0 {r.score} {name}\n")
    (tmp_path / "dl19.toml").write_text(
        '[dataset]\ntopics = "irds:msmarco-passage/trec-dl-2019/judged"\n'
        '[evaluation]\nmetrics = ["nDCG@10", "RR(rel=2)@10"]\nbaseline = "worst"\n'
        '[[systems]]\nname = "worst"\npipeline = [{ component = "run", path = "worst.run" }]\n'
        '[[systems]]\nname = "best"\npipeline = [{ component = "run", path = "best.run" }]\n'
    )
    out = cli("run", str(tmp_path / "dl19.toml"), "--json", "--quiet", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    systems = {s["name"]: s for s in json.loads(out.stdout)["systems"]}
    assert systems["best"]["nDCG@10"] == pytest.approx(1.0)  # the ideal ranking, by definition
    assert systems["worst"]["nDCG@10"] < 0.5


@needs_data
def test_failed_run_keeps_previous_out(tmp_path, monkeypatch):
    """--out is replaced as a whole only when every output is written."""
    from transformers_ir.experiments import _report, run_experiment, write_outputs

    pipeline = tmp_path / "p.toml"
    pipeline.write_text(
        '[dataset]\ntopics = "irds:vaswani"\n[evaluation]\nmetrics = ["AP"]\nbaseline = "a"\n'
        '[[systems]]\nname = "a"\npipeline = [{ component = "bm25", engine = "pisa" }]\n'
        '[[systems]]\nname = "b"\npipeline = [{ component = "bm25", engine = "pisa", k1 = 1.2, b = 0.75 }]\n'
    )
    result = run_experiment(pipeline, verbose=False)
    out = write_outputs(result, tmp_path / "out")
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def broken_plot(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(_report, "plot_deltas", broken_plot)
    with pytest.raises(OSError, match="disk full"):
        write_outputs(result, tmp_path / "out", force=True)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert not list(tmp_path.glob(".tmp-*"))


def test_empty_topics_are_refused(tmp_path):
    from transformers_ir.experiments import _runner

    spec_path = tmp_path / "p.toml"
    spec_path.write_text('[dataset]\ntopics = "irds:vaswani"\n[evaluation]\nmetrics = ["AP"]\n'
                         '[[systems]]\nname = "a"\npipeline = [{ component = "bm25" }]\n')

    class EmptyTopics:
        name = "empty"

        def get_topics(self):
            return pd.DataFrame(columns=["qid", "query"])

    spec = _runner.parse_pipeline(spec_path)
    original = _runner.get_dataset
    try:
        _runner.get_dataset = lambda name: EmptyTopics()
        with pytest.raises(_runner.PipelineFileError, match="topics of 'irds:vaswani' are empty"):
            _runner.run_experiment(spec, verbose=False)
    finally:
        _runner.get_dataset = original


def test_ties_broken_by_docno_for_every_evaluator():
    """A constant scorer must not look good: with every score tied, the order is by docno, whatever the input
    order, and the evaluation frame carries that order in its scores."""
    res = pd.DataFrame({"qid": ["1"] * 3, "docno": ["c", "a", "b"], "score": [1.0, 1.0, 1.0]})
    ranked = rank_results(res)
    assert ranked["docno"].tolist() == ["a", "b", "c"] and ranked["rank"].tolist() == [0, 1, 2]
    import ir_measures

    qrels = pd.DataFrame({"query_id": ["1"], "doc_id": ["c"], "relevance": [1]})
    run = evaluation_frame(res.sample(frac=1, random_state=3)).rename(columns={"qid": "query_id", "docno": "doc_id"})
    rr = ir_measures.RR @ 10
    values = {ir_measures.calc_aggregate([rr], qrels, run)[rr]}
    for provider in ("pytrec_eval", "trectools", "ranx", "cwl_eval"):
        try:
            values.add(ir_measures.providers.registry[provider].calc_aggregate([rr], qrels, run)[rr])
        except Exception:  # provider not installed
            pass
    assert len(values) >= 1 and all(v == pytest.approx(1 / 3) for v in values)


@needs_data
def test_qrels_naming_documents_absent_from_corpus(tmp_path, caplog):
    """Some judged documents missing: a warning with the count. All missing: the qrels belong to another
    collection, an error that says which ids to fix."""
    from transformers_ir.data import get_dataset
    from transformers_ir.experiments import PipelineFileError, _runner

    (tmp_path / "p.toml").write_text('[dataset]\ntopics = "irds:vaswani"\n[evaluation]\nmetrics = ["AP"]\n'
                                     '[[systems]]\nname = "a"\npipeline = [{ component = "bm25" }]\n')
    spec = _runner.parse_pipeline(tmp_path / "p.toml")
    corpus = get_dataset("irds:vaswani")
    some = pd.DataFrame({"qid": ["1", "1", "2"], "docno": ["1", "no-such-doc", "also-missing"], "label": 1})
    with caplog.at_level("WARNING"):
        _runner._check_qrels_in_corpus(some, corpus, spec)
    assert "2 of 3 judged documents" in caplog.text
    with pytest.raises(PipelineFileError, match="none of the 2 documents judged.*another collection"):
        _runner._check_qrels_in_corpus(some[some.docno != "1"], corpus, spec)


def test_fusion_reads_the_runs_of_the_systems_it_names():
    """A system the runner has run is handed to fusion as its results: a costly re-ranker is not run twice."""
    from transformers_ir.caching import cache_key
    from transformers_ir.experiments._runner import RunOf
    from transformers_ir.first_stage import Fusion

    calls = []

    def score(frame):
        calls.append(sorted(frame["qid"]))
        return pd.DataFrame({"qid": frame["qid"], "query": frame["query"], "docno": "d-" + frame["qid"],
                             "score": 1.0})

    system = pt.apply.generic(score)
    topics = pd.DataFrame({"qid": ["1", "2"], "query": ["a", "b"]})
    run = RunOf(system, topics["qid"], rank_results(system(topics)))
    calls.clear()
    other = pt.apply.generic(lambda f: f.assign(docno="x", score=0.5))
    fused = Fusion([run, other])(topics)
    assert calls == [], "the run is read, not computed again"
    assert set(fused["docno"]) == {"d-1", "d-2", "x"}
    run(pd.DataFrame({"qid": ["3"], "query": ["c"]}))
    assert calls == [["3"]], "queries it was not run on go to the system"
    assert repr(run) == repr(system) and cache_key(run) == cache_key(system)
