"""What the trainer optimises: the inference objects' own modules, wrapped with a loss.

A cross-encoder family object (``CrossEncoder``, ``BertCat``, ``RankT5Encoder``, ``MonoT5``) offers ``model``,
``tokenize_pairs(queries, docs)`` and a differentiable ``score_features(features)``; a dual encoder (``Splade``,
``BiEncoder``) offers ``model``, ``query_model``, ``tokenize(texts, rep=...)`` and ``represent(features, rep)``.
Training calls exactly these, so the scores trained are the scores served.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from transformers_ir.training._data import Group
from transformers_ir.training._losses import FlopsRegularizer, RankIBNLoss, loss_class
from transformers_ir.training._tables import LOSSES


def _to(value, device):
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: _to(v, device) for k, v in value.items()}
    return value


@dataclass
class PairBatch:
    """``batch * group`` (query, document) pairs, tokenized together; labels and teacher are ``[batch, group]``.

    Attributes:
        features: the tokenizer's tensors of every pair.
        labels: ``[batch, group]``.
        teacher: ``[batch, group]`` teacher scores (None without a teacher).
    """

    features: dict
    labels: torch.Tensor
    teacher: torch.Tensor | None = None

    def to(self, device, **kwargs) -> PairBatch:
        """The batch with its tensors on ``device`` (what the Trainer calls before a step)."""
        return PairBatch(**{f.name: _to(getattr(self, f.name), device) for f in dataclasses.fields(self)})


@dataclass
class EncoderBatch:
    """A dual encoder's batch: ``batch`` queries and ``batch * group`` documents (group ``b`` at rows
    ``b * group ...``).

    Attributes:
        queries, docs: the tokenizer's tensors.
        labels: ``[batch, group]``.
        teacher: ``[batch, group]`` teacher scores (None without a teacher).
    """

    queries: dict
    docs: dict
    labels: torch.Tensor
    teacher: torch.Tensor | None = None

    def to(self, device, **kwargs) -> EncoderBatch:
        """The batch with its tensors on ``device`` (what the Trainer calls before a step)."""
        return EncoderBatch(**{f.name: _to(getattr(self, f.name), device) for f in dataclasses.fields(self)})


def _labels_teacher(groups: list[Group]) -> tuple[torch.Tensor, torch.Tensor | None]:
    labels = torch.tensor([g.labels for g in groups], dtype=torch.float32)
    teacher = None
    if groups[0].teacher is not None:
        teacher = torch.tensor([g.teacher for g in groups], dtype=torch.float32)
    return labels, teacher


class PairCollator:
    """Groups -> :class:`PairBatch` through the ranker's own ``tokenize_pairs``.

    Args:
        ranker: the re-ranker being trained.
    """

    def __init__(self, ranker):
        self.ranker = ranker

    def __call__(self, groups: list[Group]) -> dict:
        queries = [g.query for g in groups for _ in g.docs]
        docs = [d for g in groups for d in g.docs]
        labels, teacher = _labels_teacher(groups)
        return {"batch": PairBatch(dict(self.ranker.tokenize_pairs(queries, docs)), labels, teacher)}


class EncoderCollator:
    """Groups -> :class:`EncoderBatch` through the dual encoder's own ``tokenize`` (``Splade``, ``BiEncoder``).

    Args:
        encoder: the model being trained.
    """

    def __init__(self, encoder):
        self.encoder = encoder

    def __call__(self, groups: list[Group]) -> dict:
        queries = dict(self.encoder.tokenize([g.query for g in groups], rep="query"))
        docs = dict(self.encoder.tokenize([d for g in groups for d in g.docs], rep="doc"))
        labels, teacher = _labels_teacher(groups)
        return {"batch": EncoderBatch(queries, docs, labels, teacher)}


#: The names SPLADE's training had before bi-encoders shared it (kept so existing code keeps working).
SpladeBatch, SpladeCollator = EncoderBatch, EncoderCollator


class _Wrapper(nn.Module):
    """Holds the family object outside the module tree (it is not an nn.Module) and its modules inside it."""

    def __init__(self, family, modules: dict[str, nn.Module]):
        super().__init__()
        self.__dict__["family"] = family
        unique = {}
        for name, module in modules.items():
            if module is not None and all(module is not m for m in unique.values()):
                unique[name] = module
        self.parts = nn.ModuleDict(unique)
        self.metrics: dict[str, float] = {}  # the last step's extra figures, for the log
        self.step = 0  # set by the trainer before each step (FLOPS warm-up)


class CrossEncoderTrainingModule(_Wrapper):
    """``loss.compute_loss(ranker.score_features(pairs).view(batch, group), batch)``.

    Args:
        ranker: the re-ranker (its model is trained in place).
        loss: a loss name of the loss table.
    """

    def __init__(self, ranker, loss: str = "grouped-softmax"):
        super().__init__(ranker, {"model": ranker.model})
        self.loss_name = loss
        self.loss = loss_class(loss)()

    def forward(self, batch: PairBatch) -> torch.Tensor:
        scores = self.family.score_features(batch.features).view(batch.labels.shape)
        loss = self.loss.compute_loss(scores, batch)
        with torch.no_grad():
            self.metrics = {"score_pos": scores[:, 0].float().mean().item(),
                            "score_neg": scores[:, 1:].float().mean().item() if scores.shape[1] > 1 else 0.0}
        return loss


class DualEncoderTrainingModule(_Wrapper):
    """A dual encoder's objective: in-batch plus hard-negative contrastive loss (rank-IBN, i.e. InfoNCE) on
    ``q . d / temperature``, or pure distillation, plus an optional distillation term on each query's own group.

    The temperature scales the scores every loss sees (the distillation terms included), so a cosine bi-encoder
    (scores in [-1, 1]) meets a teacher's logit margins at ``1 / temperature`` times its own
    (sentence-transformers' MultipleNegativesRankingLoss: scale 20, temperature 0.05).

    Args:
        encoder: the model (both sides trained in place).
        loss: ``"rank-ibn"``, or a distillation loss alone.
        distill: a distillation loss added to rank-IBN (None: none).
        distill_weight: its weight.
        in_batch_negatives: count the other groups' documents as negatives.
        temperature: the scores' divisor.
    """

    def __init__(self, encoder, *, loss: str = "rank-ibn", distill: str | None = None, distill_weight: float = 1.0,
                 in_batch_negatives: bool = True, temperature: float = 1.0):
        super().__init__(encoder, {"model": encoder.model, "query_model": getattr(encoder, "query_model", None)})
        self.loss_name = loss
        self.rank_loss = RankIBNLoss(in_batch_negatives) if loss == "rank-ibn" else None
        if LOSSES[loss].teacher:  # a distillation loss named as the loss: distillation alone
            distill, distill_weight = loss, 1.0
        self.distill = loss_class(distill)() if distill else None
        self.distill_weight = distill_weight
        self.temperature = temperature

    def regularize(self, loss: torch.Tensor, q: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        """The loss with a term of the representations added (none here; SPLADE adds FLOPS)."""
        return loss

    def forward(self, batch: EncoderBatch) -> torch.Tensor:
        batch_size, group = batch.labels.shape
        q = self.family.represent(batch.queries, "query")
        d = self.family.represent(batch.docs, "doc")
        all_scores = (q.float() @ d.float().T) / self.temperature  # [batch, batch * group]
        own = all_scores.view(batch_size, batch_size, group)[torch.arange(batch_size), torch.arange(batch_size)]
        loss = torch.zeros((), device=all_scores.device)
        if self.rank_loss is not None:
            loss = loss + self.rank_loss.compute_loss(all_scores, batch)
        if self.distill is not None:
            loss = loss + self.distill_weight * self.distill.compute_loss(own, batch)
        with torch.no_grad():
            self.metrics = {"score_pos": own[:, 0].mean().item(),
                            "score_neg": own[:, 1:].mean().item() if group > 1 else 0.0}
        return self.regularize(loss, q, d)


class BiEncoderTrainingModule(DualEncoderTrainingModule):
    """A bi-encoder's objective (:class:`DualEncoderTrainingModule`; its default temperature is
    sentence-transformers' 0.05)."""


class SpladeTrainingModule(DualEncoderTrainingModule):
    """Rank-IBN (or pure distillation) + FLOPS on queries and documents, with optional distillation.

    Args:
        splade: the model (both sides trained in place).
        loss: ``"rank-ibn"``, or a distillation loss alone.
        flops_query, flops_doc: the FLOPS weights of each side.
        flops_warmup_steps: their quadratic warm-up.
        distill: a distillation loss added to rank-IBN (None: none).
        distill_weight: its weight.
        in_batch_negatives: count the other groups' documents as negatives.
        temperature: the scores' divisor (1: SPLADE's dot product as it is).
    """

    def __init__(self, splade, *, loss: str = "rank-ibn", flops_query: float = 0.0, flops_doc: float = 0.0,
                 flops_warmup_steps: int = 0, distill: str | None = None, distill_weight: float = 1.0,
                 in_batch_negatives: bool = True, temperature: float = 1.0):
        super().__init__(splade, loss=loss, distill=distill, distill_weight=distill_weight,
                         in_batch_negatives=in_batch_negatives, temperature=temperature)
        self.flops_query = FlopsRegularizer(flops_query, flops_warmup_steps)
        self.flops_doc = FlopsRegularizer(flops_doc, flops_warmup_steps)

    def regularize(self, loss: torch.Tensor, q: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        """The loss plus FLOPS on both sides, with the warm-up's weights at this step."""
        flops_q, flops_d = FlopsRegularizer.flops(q), FlopsRegularizer.flops(d)
        with torch.no_grad():
            self.metrics = {"nnz_query": (q > 0).sum(-1).float().mean().item(),
                            "nnz_doc": (d > 0).sum(-1).float().mean().item(),
                            "flops_query": flops_q.item(), "flops_doc": flops_d.item(),
                            "lambda_query": self.flops_query.lam(self.step),
                            "lambda_doc": self.flops_doc.lam(self.step)}
        return loss + self.flops_query.lam(self.step) * flops_q + self.flops_doc.lam(self.step) * flops_d
