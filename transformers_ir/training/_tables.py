"""What can be trained, named once: the family table and the loss table. The names a training config accepts
(``[model] family``, ``[loss] name``, ``distill``, ``[data] teacher.family``) and the checks between them derive
from these tables; the classes are looked up only when something is trained (no torch here).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from transformers_ir import cross_encoders, dense, splade


@dataclass(frozen=True)
class FamilyEntry:
    """A trainable family: where its class lives, whether it re-ranks (scores pairs), which of its
    ``from_pretrained`` keywords takes ``[train] max_length``, and, for a dual encoder (queries and documents
    encoded apart, scored by a dot product), the default ``[loss] temperature`` its scores are divided by."""

    package: object  # the family's lazy package: its class is read only when a model is loaded
    cls: str
    reranks: bool
    length_key: str = "max_length"
    temperature: float | None = None  # None: not a dual encoder

    def load_class(self) -> type:
        """The family's class (imports the family, and torch).

        Returns:
            E.g. :class:`transformers_ir.cross_encoders.CrossEncoder`.
        """
        return getattr(self.package, self.cls)


#: family name -> entry.
FAMILIES: dict[str, FamilyEntry] = {
    "cross-encoder": FamilyEntry(cross_encoders, "CrossEncoder", reranks=True),
    "bert-cat": FamilyEntry(cross_encoders, "BertCat", reranks=True),
    "rankt5": FamilyEntry(cross_encoders, "RankT5Encoder", reranks=True),
    "monot5": FamilyEntry(cross_encoders, "MonoT5", reranks=True),
    "splade": FamilyEntry(splade, "Splade", reranks=False, length_key="doc_max_length", temperature=1.0),
    # sentence-transformers' MultipleNegativesRankingLoss: cosine scores times 20
    "bi-encoder": FamilyEntry(dense, "BiEncoder", reranks=False, length_key="doc_max_length", temperature=0.05),
}
Family = Literal[tuple(FAMILIES)]  # type: ignore[valid-type]
#: The families that re-rank: what a teacher or ``transformers-ir predict`` may be.
RERANKER_FAMILIES: tuple[str, ...] = tuple(name for name, entry in FAMILIES.items() if entry.reranks)
#: The dual encoders: what in-batch negatives, ``[loss] temperature`` and a ``distill`` term train.
DUAL_ENCODER_FAMILIES: tuple[str, ...] = tuple(name for name, e in FAMILIES.items() if e.temperature is not None)


@dataclass(frozen=True)
class LossEntry:
    """A loss: its class in :mod:`transformers_ir.training._losses`, the families it trains, and whether it
    learns from teacher scores (then it may also be SPLADE's ``distill`` term)."""

    cls: str
    families: tuple[str, ...]
    teacher: bool = False


#: loss name -> entry, in the order error messages list them.
LOSSES: dict[str, LossEntry] = {
    "grouped-softmax": LossEntry("GroupedSoftmaxLoss", RERANKER_FAMILIES),
    "bce": LossEntry("PointwiseBCELoss", RERANKER_FAMILIES),
    "rank-ibn": LossEntry("RankIBNLoss", DUAL_ENCODER_FAMILIES),  # InfoNCE: in-batch plus hard negatives
    "margin-mse": LossEntry("MarginMSELoss", tuple(FAMILIES), teacher=True),
    "listwise-softmax": LossEntry("ListwiseSoftmaxLoss", RERANKER_FAMILIES),
    "kl": LossEntry("KLDivergenceLoss", tuple(FAMILIES), teacher=True),
}
#: The losses that distil a teacher's scores (a dual encoder's ``[loss] distill``).
Distillation = Literal[tuple(name for name, entry in LOSSES.items() if entry.teacher)]  # type: ignore[valid-type]


def losses_for(family: str) -> tuple[str, ...]:
    """The loss names that train ``family``.

    Args:
        family: a name of :data:`FAMILIES`.

    Returns:
        The names, in :data:`LOSSES`' order.
    """
    return tuple(name for name, entry in LOSSES.items() if family in entry.families)

