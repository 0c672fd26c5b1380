"""Teacher scores are checked before any training (missing pairs, NaN/infinite scores, a teacher constant within
every group), and ``[loss] teacher_scale`` multiplies them before the losses see them."""
from __future__ import annotations

import math

import pytest

from transformers_ir.errors import BadTeacherScores, ConfigError
from transformers_ir.training import build_dataset, parse_training_config
from transformers_ir.training._teacher import check_teacher_scores

PAIRS = [("q1", "a"), ("q1", "b"), ("q2", "c"), ("q2", "d")]


def test_good_teacher_scores_pass():
    check_teacher_scores({("q1", "a"): 3.0, ("q1", "b"): 1.0, ("q2", "c"): 2.0, ("q2", "d"): 2.0}, PAIRS, "t.run")


def test_missing_pairs_are_counted_with_an_example():
    with pytest.raises(BadTeacherScores, match=r"2 of 4 \(query, document\) pairs have no score \(e\.g\. "
                                               r"\[\('q2', 'c'\), \('q2', 'd'\)\]\).*transformers-ir predict"):
        check_teacher_scores({("q1", "a"): 3.0, ("q1", "b"): 1.0}, PAIRS, "t.run")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_or_infinite_scores_are_refused(bad):
    with pytest.raises(BadTeacherScores, match=r"1 NaN or infinite scores among the 4 training pairs.*score the "
                                               r"pairs again"):
        check_teacher_scores({("q1", "a"): 3.0, ("q1", "b"): bad, ("q2", "c"): 2.0, ("q2", "d"): 1.0}, PAIRS, "t")


def test_a_teacher_constant_within_every_group_is_refused():
    with pytest.raises(BadTeacherScores, match="same score .*2 queries.*nothing to learn"):
        check_teacher_scores({("q1", "a"): 0.5, ("q1", "b"): 0.5, ("q2", "c"): 7.0, ("q2", "d"): 7.0}, PAIRS, "t")


def _config(tmp_path, teacher_lines: str, **loss):
    """A student trained on a text triples file (qids are the query texts) with a teacher-score file."""
    (tmp_path / "triples.tsv").write_text("heart\tblood\triver\ncancer\tcells\twater\n")
    (tmp_path / "teacher.run").write_text(teacher_lines)
    return parse_training_config({"model": {"name": "unused"}, "data": {"triples": str(tmp_path / "triples.tsv"),
                                                                        "teacher": str(tmp_path / "teacher.run")},
                                  "loss": {"name": "margin-mse", **loss}})


GOOD = "heart Q0 blood 1 9.5 t\nheart Q0 river 2 -2.5 t\ncancer Q0 cells 1 4 t\ncancer Q0 water 2 1 t\n"


def test_build_dataset_refuses_bad_teacher_scores_before_training(tmp_path):
    with pytest.raises(BadTeacherScores, match="1 of 4"):
        build_dataset(_config(tmp_path, GOOD.replace("cancer Q0 water 2 1 t\n", "")))
    with pytest.raises(BadTeacherScores, match="NaN or infinite"):
        build_dataset(_config(tmp_path, GOOD.replace("9.5", "nan")))
    constant = "".join(f"{q} Q0 {d} {r} 2.0 t\n" for q, d, r in [("heart", "blood", 1), ("heart", "river", 2),
                                                                 ("cancer", "cells", 1), ("cancer", "water", 2)])
    with pytest.raises(BadTeacherScores, match="nothing to learn"):
        build_dataset(_config(tmp_path, constant))


def test_teacher_scale_multiplies_the_scores_the_losses_see(tmp_path):
    plain, _ = build_dataset(_config(tmp_path, GOOD))
    scaled, _ = build_dataset(_config(tmp_path, GOOD, teacher_scale=0.5))
    assert [plain[i].teacher for i in range(len(plain))] == [
        [2 * s for s in scaled[i].teacher] for i in range(len(scaled))]
    assert sorted(plain[i].teacher[0] - plain[i].teacher[1] for i in range(len(plain))) == [3.0, 12.0]


def test_teacher_scale_is_absent_from_the_hash_when_unset_and_checked(tmp_path):
    base = _config(tmp_path, GOOD)
    assert _config(tmp_path, GOOD, teacher_scale=None).config_hash() == base.config_hash()
    assert _config(tmp_path, GOOD, teacher_scale=1.0).config_hash() != base.config_hash()
    assert _config(tmp_path, GOOD, teacher_scale=2.0).config_hash() != \
        _config(tmp_path, GOOD, teacher_scale=1.0).config_hash()
    for bad in (0, -1.0, math.inf):
        with pytest.raises(ConfigError, match="teacher_scale must be"):
            _config(tmp_path, GOOD, teacher_scale=bad)
    with pytest.raises(ConfigError, match="teacher_scale scales teacher scores, but 'grouped-softmax'"):
        parse_training_config({"model": {"name": "x"}, "data": {"triples": "t.tsv"},
                               "loss": {"teacher_scale": 0.5}})
