"""Every loss against a hand computation on a small batch."""
import math

import pytest
import torch

from transformers_ir.training import (
    FlopsRegularizer,
    GroupedSoftmaxLoss,
    KLDivergenceLoss,
    ListwiseSoftmaxLoss,
    MarginMSELoss,
    PairBatch,
    PointwiseBCELoss,
    RankIBNLoss,
    RankingLoss,
)

SCORES = torch.tensor([[2.0, 1.0, 0.0], [0.5, 1.5, -1.0]])
LABELS = torch.tensor([[1.0, 0.0, 0.0], [2.0, 1.0, 0.0]])
TEACHER = torch.tensor([[3.0, 1.0, 2.0], [1.0, 0.0, 0.5]])
BATCH = PairBatch(features={}, labels=LABELS, teacher=TEACHER)


def _lse(xs):
    return math.log(sum(math.exp(x) for x in xs))


def test_grouped_softmax_is_cross_entropy_of_the_positive():
    expected = ((_lse([2, 1, 0]) - 2) + (_lse([0.5, 1.5, -1]) - 0.5)) / 2
    assert GroupedSoftmaxLoss().compute_loss(SCORES, BATCH).item() == pytest.approx(expected, rel=1e-6)


def test_grouped_softmax_of_constant_scores_is_log_group_size():
    loss = GroupedSoftmaxLoss().compute_loss(torch.zeros(4, 4), PairBatch({}, torch.zeros(4, 4)))
    assert loss.item() == pytest.approx(math.log(4))


def test_listwise_softmax_weights_log_probabilities_by_graded_labels():
    row1 = -(2 - _lse([2, 1, 0]))
    row2 = -(2 / 3 * (0.5 - _lse([0.5, 1.5, -1])) + 1 / 3 * (1.5 - _lse([0.5, 1.5, -1])))
    assert ListwiseSoftmaxLoss().compute_loss(SCORES, BATCH).item() == pytest.approx((row1 + row2) / 2, rel=1e-6)


def test_pointwise_bce_on_logits():
    total = 0.0
    for s, y in zip(SCORES.flatten().tolist(), (LABELS > 0).float().flatten().tolist()):
        p = 1 / (1 + math.exp(-s))
        total += -(y * math.log(p) + (1 - y) * math.log(1 - p))
    assert PointwiseBCELoss().compute_loss(SCORES, BATCH).item() == pytest.approx(total / 6, rel=1e-6)


def test_margin_mse_compares_margins_to_the_positive():
    student = [2 - 1, 2 - 0, 0.5 - 1.5, 0.5 + 1]
    teacher = [3 - 1, 3 - 2, 1 - 0, 1 - 0.5]
    expected = sum((s - t) ** 2 for s, t in zip(student, teacher)) / 4
    assert MarginMSELoss().compute_loss(SCORES, BATCH).item() == pytest.approx(expected, rel=1e-6)
    # a student equal to the teacher up to a per-query shift has zero loss
    assert MarginMSELoss().compute_loss(TEACHER + torch.tensor([[5.0], [-2.0]]), BATCH).item() == pytest.approx(0)


def test_kl_divergence_of_teacher_and_student_distributions():
    expected = 0.0
    for s, t in zip(SCORES.tolist(), TEACHER.tolist()):
        ps = [math.exp(x - _lse(s)) for x in s]
        pt_ = [math.exp(x - _lse(t)) for x in t]
        expected += sum(b * math.log(b / a) for a, b in zip(ps, pt_))
    assert KLDivergenceLoss().compute_loss(SCORES, BATCH).item() == pytest.approx(expected / 2, rel=1e-5)


def test_rank_ibn_counts_other_groups_documents_as_negatives():
    # 2 queries, groups of 2: columns [q0+, q0-, q1+, q1-]
    all_scores = torch.tensor([[3.0, 1.0, 2.0, 0.0], [1.0, 0.5, 2.0, 1.0]])
    expected = ((_lse([3, 1, 2, 0]) - 3) + (_lse([1, 0.5, 2, 1]) - 2)) / 2
    groups_of_two = PairBatch(features={}, labels=torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
    assert RankIBNLoss().compute_loss(all_scores, groups_of_two).item() == pytest.approx(expected, rel=1e-6)
    own_only = ((_lse([3, 1]) - 3) + (_lse([2, 1]) - 2)) / 2
    own_loss = RankIBNLoss(in_batch=False).compute_loss(all_scores, groups_of_two)
    assert own_loss.item() == pytest.approx(own_only, rel=1e-6)


def test_flops_is_squared_mean_absolute_weight_with_quadratic_warmup():
    reps = torch.tensor([[1.0, 0.0, 2.0], [3.0, 0.0, 0.0]])
    flops = (2.0 ** 2) + 0 + (1.0 ** 2)
    assert FlopsRegularizer.flops(reps).item() == pytest.approx(flops)
    reg = FlopsRegularizer(0.5, warmup_steps=10)
    assert reg.lam(0) == 0
    assert reg.lam(5) == pytest.approx(0.5 * 0.25)
    assert reg.lam(20) == pytest.approx(0.5)
    assert reg(reps, 5).item() == pytest.approx(0.125 * flops)


def test_every_loss_of_the_table_shares_one_signature():
    """The loss table names every loss; each is a RankingLoss taking (scores, batch)."""
    import inspect

    from transformers_ir.training._losses import loss_class
    from transformers_ir.training._tables import LOSSES

    for name in LOSSES:
        cls = loss_class(name)
        assert issubclass(cls, RankingLoss)
        assert list(inspect.signature(cls.compute_loss).parameters) == ["self", "scores", "batch"], name
