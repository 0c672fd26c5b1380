"""Training and distillation: hard negatives and teacher scores from PyTerrier pipelines, ranking losses for
cross-encoders and SPLADE, and a Hugging Face Trainer underneath (checkpoints, resume, torchrun).

Example::

    from transformers_ir.training import train
    model_dir = train("pipelines/train/minilm-scifact.toml")   # then CrossEncoder.from_pretrained(model_dir)
"""
from transformers_ir.training._config import ConfigError, TrainingSpec, parse_training_config
from transformers_ir.training._data import DataReport, Group, GroupDataset, TrainingGroup, build_groups, read_triples
from transformers_ir.training._losses import (
    FlopsRegularizer,
    GroupedSoftmaxLoss,
    KLDivergenceLoss,
    ListwiseSoftmaxLoss,
    MarginMSELoss,
    PointwiseBCELoss,
    RankIBNLoss,
)
from transformers_ir.training._modules import (
    CrossEncoderTrainingModule,
    PairBatch,
    PairCollator,
    SpladeBatch,
    SpladeCollator,
    SpladeTrainingModule,
)
from transformers_ir.training._teacher import (
    checkpoint_hash,
    pairs_to_score,
    read_teacher_scores,
    write_teacher_scores,
)
from transformers_ir.training._train import build_dataset, ensure_trained, fit, load_family, train, trained_model_path
from transformers_ir.training._trainer import RankingTrainer, last_checkpoint

__all__ = [
    "ConfigError",
    "CrossEncoderTrainingModule",
    "DataReport",
    "FlopsRegularizer",
    "Group",
    "GroupDataset",
    "GroupedSoftmaxLoss",
    "KLDivergenceLoss",
    "ListwiseSoftmaxLoss",
    "MarginMSELoss",
    "PairBatch",
    "PairCollator",
    "PointwiseBCELoss",
    "RankIBNLoss",
    "RankingTrainer",
    "SpladeBatch",
    "SpladeCollator",
    "SpladeTrainingModule",
    "TrainingGroup",
    "TrainingSpec",
    "build_dataset",
    "build_groups",
    "checkpoint_hash",
    "ensure_trained",
    "fit",
    "last_checkpoint",
    "load_family",
    "pairs_to_score",
    "parse_training_config",
    "read_teacher_scores",
    "read_triples",
    "train",
    "trained_model_path",
    "write_teacher_scores",
]
