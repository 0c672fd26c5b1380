"""Teacher scores: ``[data] teacher = { ... }`` scores every pair the training groups can draw with a re-ranker
(trained first when it names a training config), once, caches them keyed by what decides them, and the student
trains on them; ``transformers-ir predict`` scores through the same code."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from transformers_ir import _paths
from transformers_ir.cli import main
from transformers_ir.training import ConfigError, build_dataset, parse_training_config, read_teacher_scores
from transformers_ir.training._dataset import teacher_scores_path

needs_data = pytest.mark.skipif(_paths.data_dir() is None, reason="no offline data folder (../shared/data)")

TRAIN = 'epochs = 1\nbatch_size = 2\nmax_length = 48\nquery_max_length = 8\nlearning_rate = 1e-3\n'


def _configs(tmp_path, model: str) -> tuple:
    (tmp_path / "triples.tsv").write_text("heart risk\tblood pressure and heart risk\tthe river flows\n" * 4)
    teacher = tmp_path / "teacher.toml"
    teacher.write_text(f'[model]\nname = "{model}"\noptions = {{ num_labels = 1 }}\n[data]\ntriples = "triples.tsv"\n'
                       f'group_size = 2\n[train]\n{TRAIN}output = "teacher"\n')
    student = tmp_path / "student.toml"
    student.write_text(
        f'[model]\nname = "{model}"\noptions = {{ num_labels = 1 }}\n'
        f'[data]\ntopics = "irds:vaswani"\nmax_queries = 3\nnegatives = {{ component = "bm25", engine = "pisa" }}\n'
        f'depth = 4\ngroup_size = 3\nteacher = {{ train_config = "teacher.toml", max_length = 48 }}\n'
        f'[loss]\nname = "margin-mse"\n[train]\n{TRAIN}output = "student"\n')
    return teacher, student


@needs_data
def test_a_teacher_config_scores_the_training_pairs_once_and_the_student_learns_from_them(
        tmp_path, monkeypatch, tiny_classifier_path):
    from transformers_ir.cross_encoders import CrossEncoder
    from transformers_ir.data import get_dataset, text_loader

    monkeypatch.setenv(_paths.HOME_ENV, str(tmp_path / "home"))
    teacher_config, student_config = _configs(tmp_path, tiny_classifier_path)
    assert main(["train", str(student_config), "--quiet"]) == 0
    assert (tmp_path / "teacher" / "training.json").is_file(), "the teacher was trained first"
    assert (tmp_path / "student" / "training.json").is_file()

    spec = parse_training_config(student_config)
    path = teacher_scores_path(spec)
    scores, provenance = read_teacher_scores(path)
    assert provenance["teacher"] == "teacher" and provenance["max_length"] == 48
    dataset, _ = build_dataset(spec)  # from the cache: the file is not written again
    assert path.stat().st_mtime_ns == teacher_scores_path(spec).stat().st_mtime_ns
    drawn = {(g.qid, d) for g in dataset.groups for d in [g.positive, *g.candidates]}
    assert set(scores) == drawn, "exactly the pairs training can draw, positives and every candidate"
    assert any(len(g.candidates) > 0 for g in dataset.groups)

    # the scores are the trained teacher's (not the untrained model's), pair by pair
    pairs = pd.DataFrame([(q, d) for q, d in sorted(scores)], columns=["qid", "docno"])
    queries = {g.qid: g.query for g in dataset.groups}
    pairs = text_loader(get_dataset("irds:vaswani"))(pairs.assign(query=pairs["qid"].map(queries)))
    direct = CrossEncoder.from_pretrained(tmp_path / "teacher" / "model").score_pairs(pairs["query"], pairs["text"])
    written = [scores[p] for p in zip(pairs["qid"], pairs["docno"])]
    assert abs(direct - written).max() < 2e-6  # the run file keeps 6 decimals
    untrained = CrossEncoder.from_pretrained(tiny_classifier_path, num_labels=1, max_length=48, query_max_length=8)
    assert abs(untrained.score_pairs(pairs["query"], pairs["text"]) - written).max() > 1e-4

    # a new teacher: a new student hash and new scores; the same teacher: the same cache
    before, cache = spec.config_hash(), path
    teacher_config.write_text(teacher_config.read_text().replace("1e-3", "2e-3"))
    changed = parse_training_config(student_config)
    assert changed.config_hash() != before and teacher_scores_path(changed) != cache


@needs_data
def test_predict_scores_through_the_same_code(tmp_path, monkeypatch, tiny_classifier_path):
    """``predict --model`` and a ``teacher = { model = ... }`` table give the same scores to the same pairs."""
    monkeypatch.setenv(_paths.HOME_ENV, str(tmp_path / "home"))
    _, student_config = _configs(tmp_path, tiny_classifier_path)
    student_config.write_text(student_config.read_text().replace(
        'teacher = { train_config = "teacher.toml", max_length = 48 }',
        f'teacher = {{ model = "{tiny_classifier_path}" }}'))
    spec = parse_training_config(student_config)
    build_dataset(spec)
    table, _ = read_teacher_scores(teacher_scores_path(spec))
    out = tmp_path / "predicted.run"
    assert main(["predict", "--model", str(tiny_classifier_path), "--topics", "irds:vaswani", "--max-queries", "3",
                 "--depth", "4", "--out", str(out), "--quiet"]) == 0
    predicted, provenance = read_teacher_scores(out)
    shared = set(table) & set(predicted)
    assert len(shared) >= 12 and all(abs(table[p] - predicted[p]) < 2e-6 for p in shared)
    assert provenance["depth"] == 4 and provenance["checkpoint_hash"] == json.loads(
        (teacher_scores_path(spec).with_name(teacher_scores_path(spec).name + ".json")).read_text())["checkpoint_hash"]


def test_a_teacher_file_is_hashed_by_its_content(tmp_path):
    raw = {"model": {"name": "m"}, "data": {"topics": "irds:vaswani", "teacher": "scores.run"},
           "loss": {"name": "margin-mse"}}
    config = tmp_path / "c.toml"
    config.write_text('[model]\nname = "m"\n[data]\ntopics = "irds:vaswani"\nteacher = "scores.run"\n'
                      '[loss]\nname = "margin-mse"\n')
    (tmp_path / "scores.run").write_text("1 Q0 d1 1 2.0 t\n")
    first = parse_training_config(config).config_hash()
    (tmp_path / "scores.run").write_text("1 Q0 d1 1 3.0 t\n")
    assert parse_training_config(config).config_hash() != first, "new teacher scores, a new student"
    assert parse_training_config(raw).config_hash()  # a dict config (no file beside it) still hashes


@pytest.mark.parametrize("teacher, error", [
    ('{ model = "m", train_config = "t.toml" }', "not both"),
    ("{ }", "either train_config"),
    ('{ model = "m", famliy = "bert-cat" }', r"unknown key 'famliy' in \[data.teacher\]"),
    ('{ model = "m", family = "splade" }', "does not re-rank"),
    ('{ train_config = "student.toml" }', "nor learn from its own scores"),
    ('{ train_config = "splade.toml" }', "trains a 'splade' model"),
    ('{ train_config = "nowhere.toml" }', "does not exist"),
])
def test_bad_teacher_tables_name_the_key_and_the_fix(tmp_path, teacher, error):
    (tmp_path / "splade.toml").write_text('[model]\nfamily = "splade"\nname = "s"\n[data]\ntriples = "t.tsv"\n'
                                          '[loss]\nname = "rank-ibn"\n')
    student = tmp_path / "student.toml"
    student.write_text(f'[model]\nname = "m"\n[data]\ntopics = "irds:vaswani"\nnegatives = {{ component = "bm25" }}\n'
                       f'teacher = {teacher}\n[loss]\nname = "margin-mse"\n')
    with pytest.raises(ConfigError, match=error):
        parse_training_config(student)


def test_a_teacher_table_needs_a_first_stage_to_score(tmp_path):
    with pytest.raises(ConfigError, match="scores the candidates of \\[data\\] negatives"):
        parse_training_config({"model": {"name": "m"}, "data": {"topics": "irds:vaswani", "teacher": {"model": "t"}},
                               "loss": {"name": "margin-mse"}})
