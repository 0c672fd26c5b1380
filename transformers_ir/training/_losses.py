"""Ranking losses, one class each. Scores arrive as ``[batch, group]`` with the positive in column 0.

Cross-encoders: :class:`GroupedSoftmaxLoss` (localized contrastive estimation), :class:`PointwiseBCELoss`,
:class:`MarginMSELoss` (Hofstätter et al. 2020), :class:`ListwiseSoftmaxLoss` (RankT5), :class:`KLDivergenceLoss`.
SPLADE: :class:`RankIBNLoss` (in-batch plus hard negatives) and :class:`FlopsRegularizer` (with its quadratic
warm-up), plus the two distillation losses above on the group scores. Every loss is a :class:`RankingLoss` with
one signature, ``compute_loss(scores, batch)``; which names train which family is the loss table
(:data:`transformers_ir.training._tables.LOSSES`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from transformers_ir.training._tables import LOSSES


class RankingLoss:
    """Base of the losses: ``compute_loss(scores, batch)`` -> a scalar tensor, the one signature every loss has.

    ``scores`` are the model's scores of the batch's groups, ``[batch, group]`` with the positive in column 0
    (:class:`RankIBNLoss` alone takes every query against every document of the batch, ``[batch, batch * group]``);
    ``batch`` is the typed batch they came from (:class:`~transformers_ir.training.PairBatch` or
    :class:`~transformers_ir.training.SpladeBatch`): its ``labels`` are ``[batch, group]`` and its ``teacher``
    scores, when the data has them, too.
    """

    def compute_loss(self, scores: torch.Tensor, batch) -> torch.Tensor:  # pragma: no cover - abstract
        """The loss of one batch.

        Args:
            scores: ``[batch, group]`` (see the class docstring).
            batch: the batch (``labels``, ``teacher``).

        Returns:
            A scalar tensor (fp32).
        """
        raise NotImplementedError


class GroupedSoftmaxLoss(RankingLoss):
    """Cross-entropy of the positive against its group: ``-log softmax(s)[0]``, averaged over groups."""

    def compute_loss(self, scores: torch.Tensor, batch) -> torch.Tensor:
        return -F.log_softmax(scores.float(), dim=-1)[:, 0].mean()


class ListwiseSoftmaxLoss(RankingLoss):
    """RankT5's listwise softmax cross-entropy: ``-sum_i y_i / sum_j y_j * log softmax(s)_i`` (graded labels)."""

    def compute_loss(self, scores: torch.Tensor, batch) -> torch.Tensor:
        labels = batch.labels.float()
        weights = labels / labels.sum(dim=-1, keepdim=True).clamp_min(1e-12)
        return -(weights * F.log_softmax(scores.float(), dim=-1)).sum(dim=-1).mean()


class PointwiseBCELoss(RankingLoss):
    """Binary cross-entropy of every pair's score (a logit) against its 0/1 label."""

    def compute_loss(self, scores: torch.Tensor, batch) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(scores.float(), (batch.labels > 0).float())


class MarginMSELoss(RankingLoss):
    """MSE between student and teacher margins ``s(q, d+) - s(q, d-)`` over every negative of the group."""

    def compute_loss(self, scores: torch.Tensor, batch) -> torch.Tensor:
        student = scores.float()[:, :1] - scores.float()[:, 1:]
        teacher = batch.teacher.float()
        return F.mse_loss(student, teacher[:, :1] - teacher[:, 1:])


class KLDivergenceLoss(RankingLoss):
    """``KL(softmax(teacher) || softmax(student))`` over each group."""

    def compute_loss(self, scores: torch.Tensor, batch) -> torch.Tensor:
        return F.kl_div(F.log_softmax(scores.float(), dim=-1), F.log_softmax(batch.teacher.float(), dim=-1),
                        reduction="batchmean", log_target=True)


class RankIBNLoss(RankingLoss):
    """SPLADE's ranking loss with in-batch negatives: for query ``b`` with group ``G_b`` (positive first),
    ``-log e^{s(q_b, d_b+)} / (sum over d in G_b of e^{s(q_b, d)} + sum over other groups' documents)``.

    Its ``scores`` are ``[batch, batch * group]``: query ``b`` against every document of the batch, the documents
    of group ``b`` at columns ``b * group ... b * group + group - 1`` (the group size is the labels' width).

    Args:
        in_batch: count the other groups' documents as negatives (else each query's own group only).
    """

    def __init__(self, in_batch: bool = True):
        self.in_batch = in_batch

    def compute_loss(self, scores: torch.Tensor, batch) -> torch.Tensor:
        size, group_size = batch.labels.shape
        scores = scores.float()
        if not self.in_batch:
            own = scores.view(size, size, group_size)[torch.arange(size), torch.arange(size)]
            return -F.log_softmax(own, dim=-1)[:, 0].mean()
        target = torch.arange(size, device=scores.device) * group_size
        return F.cross_entropy(scores, target)


class FlopsRegularizer:
    """FLOPS (Paria et al. 2020): ``sum_j (mean_b |w_bj|)^2`` over the vocabulary, weighted by ``weight`` times a
    quadratic warm-up ``min(1, (step / warmup_steps)^2)`` (SPLADE v2).

    Args:
        weight: lambda, the regulariser's weight after the warm-up.
        warmup_steps: steps of the quadratic warm-up (0: none).
    """

    def __init__(self, weight: float, warmup_steps: int = 0):
        self.weight, self.warmup_steps = weight, warmup_steps

    def lam(self, step: int) -> float:
        """The weight at ``step`` (after the warm-up: ``weight``)."""
        if self.warmup_steps <= 0:
            return self.weight
        return self.weight * min(1.0, (step / self.warmup_steps) ** 2)

    @staticmethod
    def flops(reps: torch.Tensor) -> torch.Tensor:
        """``sum_j (mean_b |w_bj|)^2`` of ``[batch, vocabulary]`` weights."""
        return (reps.float().abs().mean(dim=0) ** 2).sum()

    def __call__(self, reps: torch.Tensor, step: int) -> torch.Tensor:
        return self.lam(step) * self.flops(reps)


def loss_class(name: str) -> type[RankingLoss]:
    """The class of a loss named in :data:`transformers_ir.training._tables.LOSSES`.

    Args:
        name: e.g. ``"grouped-softmax"``.

    Returns:
        Its class (instantiate it to get the loss).
    """
    return globals()[LOSSES[name].cls]
