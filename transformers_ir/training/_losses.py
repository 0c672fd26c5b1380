"""Ranking losses, one class each. Scores arrive as ``[batch, group]`` with the positive in column 0.

Cross-encoders: :class:`GroupedSoftmaxLoss` (localized contrastive estimation), :class:`PointwiseBCELoss`,
:class:`MarginMSELoss` (Hofstätter et al. 2020), :class:`ListwiseSoftmaxLoss` (RankT5), :class:`KLDivergenceLoss`.
SPLADE: :class:`RankIBNLoss` (in-batch plus hard negatives) and :class:`FlopsRegularizer` (with its quadratic
warm-up), plus the two distillation losses above on the group scores.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


class GroupedSoftmaxLoss:
    """Cross-entropy of the positive against its group: ``-log softmax(s)[0]``, averaged over groups."""

    def __call__(self, scores: torch.Tensor, labels: torch.Tensor | None = None,
                 teacher: torch.Tensor | None = None) -> torch.Tensor:
        return -F.log_softmax(scores.float(), dim=-1)[:, 0].mean()


class ListwiseSoftmaxLoss:
    """RankT5's listwise softmax cross-entropy: ``-sum_i y_i / sum_j y_j * log softmax(s)_i`` (graded labels)."""

    def __call__(self, scores: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor | None = None) -> torch.Tensor:
        weights = labels.float() / labels.float().sum(dim=-1, keepdim=True).clamp_min(1e-12)
        return -(weights * F.log_softmax(scores.float(), dim=-1)).sum(dim=-1).mean()


class PointwiseBCELoss:
    """Binary cross-entropy of every pair's score (a logit) against its 0/1 label."""

    def __call__(self, scores: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor | None = None) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(scores.float(), (labels > 0).float())


class MarginMSELoss:
    """MSE between student and teacher margins ``s(q, d+) - s(q, d-)`` over every negative of the group."""

    def __call__(self, scores: torch.Tensor, labels: torch.Tensor | None, teacher: torch.Tensor) -> torch.Tensor:
        student = scores.float()[:, :1] - scores.float()[:, 1:]
        target = teacher.float()[:, :1] - teacher.float()[:, 1:]
        return F.mse_loss(student, target)


class KLDivergenceLoss:
    """``KL(softmax(teacher) || softmax(student))`` over each group."""

    def __call__(self, scores: torch.Tensor, labels: torch.Tensor | None, teacher: torch.Tensor) -> torch.Tensor:
        return F.kl_div(F.log_softmax(scores.float(), dim=-1), F.log_softmax(teacher.float(), dim=-1),
                        reduction="batchmean", log_target=True)


class RankIBNLoss:
    """SPLADE's ranking loss with in-batch negatives: for query ``b`` with group ``G_b`` (positive first),
    ``-log e^{s(q_b, d_b+)} / (sum over d in G_b of e^{s(q_b, d)} + sum over other groups' documents)``.

    ``all_scores`` is ``[batch, batch * group]``: query ``b`` against every document of the batch, the documents
    of group ``b`` at columns ``b * group ... b * group + group - 1``.
    """

    def __init__(self, in_batch: bool = True):
        self.in_batch = in_batch

    def __call__(self, all_scores: torch.Tensor, group_size: int) -> torch.Tensor:
        batch = all_scores.shape[0]
        scores = all_scores.float()
        if not self.in_batch:
            own = scores.view(batch, batch, group_size)[torch.arange(batch), torch.arange(batch)]
            return -F.log_softmax(own, dim=-1)[:, 0].mean()
        target = torch.arange(batch, device=scores.device) * group_size
        return F.cross_entropy(scores, target)


class FlopsRegularizer:
    """FLOPS (Paria et al. 2020): ``sum_j (mean_b |w_bj|)^2`` over the vocabulary, weighted by ``weight`` times a
    quadratic warm-up ``min(1, (step / warmup_steps)^2)`` (SPLADE v2)."""

    def __init__(self, weight: float, warmup_steps: int = 0):
        self.weight, self.warmup_steps = weight, warmup_steps

    def lam(self, step: int) -> float:
        if self.warmup_steps <= 0:
            return self.weight
        return self.weight * min(1.0, (step / self.warmup_steps) ** 2)

    @staticmethod
    def flops(reps: torch.Tensor) -> torch.Tensor:
        return (reps.float().abs().mean(dim=0) ** 2).sum()

    def __call__(self, reps: torch.Tensor, step: int) -> torch.Tensor:
        return self.lam(step) * self.flops(reps)


CROSS_ENCODER_LOSSES = {
    "grouped-softmax": GroupedSoftmaxLoss,
    "bce": PointwiseBCELoss,
    "margin-mse": MarginMSELoss,
    "listwise-softmax": ListwiseSoftmaxLoss,
    "kl": KLDivergenceLoss,
}
DISTILLATION_LOSSES = {"margin-mse": MarginMSELoss, "kl": KLDivergenceLoss}
