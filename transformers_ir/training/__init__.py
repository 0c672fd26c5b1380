"""Training and distillation: hard negatives and teacher scores from PyTerrier pipelines, ranking losses for
cross-encoders, SPLADE and bi-encoders, and a Hugging Face Trainer underneath (checkpoints, resume, torchrun).

Example::

    from transformers_ir.training import train
    model_dir = train("pipelines/train/minilm-scifact.toml")   # then CrossEncoder.from_pretrained(model_dir)
"""
from transformers_ir._lazy import lazy_exports

__all__ = [
    "BiEncoderTrainingModule", "ConfigError", "CrossEncoderTrainingModule", "DualEncoderTrainingModule",
    "EncoderBatch", "EncoderCollator", "DataReport", "FlopsRegularizer", "Group", "GroupDataset",
    "GroupedSoftmaxLoss", "KLDivergenceLoss", "ListwiseSoftmaxLoss", "MarginMSELoss", "PairBatch", "PairCollator",
    "PointwiseBCELoss", "RankIBNLoss", "RankingLoss", "RankingTrainer", "SpladeBatch", "SpladeCollator",
    "SpladeTrainingModule", "TrainingGroup", "TrainingSpec", "build_dataset", "build_groups", "ensure_trained", "fit",
    "last_checkpoint", "load_family", "pairs_to_score", "parse_training_config", "predict_teacher_scores",
    "read_teacher_scores", "read_triples", "record_figures", "train", "trained_model_path", "training_summary",
    "write_teacher_scores"
]
__getattr__, __dir__ = lazy_exports(__name__, __all__, {
    "._card": ["record_figures"],
    "._config": ["TrainingSpec", "parse_training_config"],
    "transformers_ir.errors": ["ConfigError"],
    "._data": ["DataReport", "Group", "GroupDataset", "TrainingGroup", "build_groups", "read_triples"],
    "._dataset": ["build_dataset"],
    "._families": ["load_family"],
    "._fit": ["fit"],
    "._losses": ["FlopsRegularizer", "GroupedSoftmaxLoss", "KLDivergenceLoss", "ListwiseSoftmaxLoss", "MarginMSELoss",
                 "PointwiseBCELoss", "RankIBNLoss", "RankingLoss"],
    "._modules": ["BiEncoderTrainingModule", "CrossEncoderTrainingModule", "DualEncoderTrainingModule",
                  "EncoderBatch", "EncoderCollator", "PairBatch", "PairCollator", "SpladeBatch", "SpladeCollator",
                  "SpladeTrainingModule"],
    "._predict": ["predict_teacher_scores"],
    "._teacher": ["pairs_to_score", "read_teacher_scores", "write_teacher_scores"],
    "._train": ["ensure_trained", "train", "trained_model_path", "training_summary"],
    "._trainer": ["RankingTrainer", "last_checkpoint"],
})
