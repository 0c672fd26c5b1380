"""Loading what training starts from, and the re-rankers teachers are, through the family table
(:data:`transformers_ir.training._tables.FAMILIES`): each family's own ``from_pretrained``."""
from __future__ import annotations

from transformers_ir.errors import UsageError
from transformers_ir.training._config import TrainingSpec
from transformers_ir.training._tables import FAMILIES, RERANKER_FAMILIES


def starting_point(spec: TrainingSpec) -> str:
    """What training starts from: ``[model] name``, or the folder of the model ``[model] train_config`` trains
    (which must be trained already: :func:`transformers_ir.training.ensure_trained` trains it first).

    Args:
        spec: the training config.

    Returns:
        A name or folder for the family's ``from_pretrained``.

    Raises:
        UsageError: the parent config's model is not trained yet.
    """
    if spec.model.train_config is None:
        return spec.model.name
    parent = spec.parent()
    if not parent.trained():
        raise UsageError(f"{spec.name}: [model] train_config {spec.model.train_config!r} is not trained yet: train "
                         f"it first (transformers-ir train {parent.path}), or use training.train, which does")
    return str(parent.model_dir())


def load_family(spec: TrainingSpec, name: str | None = None):
    """The family object to train (or a trained one, from ``name``), built by its own ``from_pretrained`` with
    the config's ``[model] options`` and lengths.

    Args:
        spec: the training config.
        name: what to load (default: :func:`starting_point`).

    Returns:
        The family object (e.g. a ``CrossEncoder`` or a ``Splade``).

    Raises:
        UsageError: ``[model] options`` the family's ``from_pretrained`` does not take.
    """
    entry = FAMILIES[spec.model.family]
    cls = entry.load_class()
    options = dict(spec.model.options)
    options.setdefault(entry.length_key, spec.train.max_length)
    options.setdefault("query_max_length", spec.train.query_max_length)
    try:
        return cls.from_pretrained(name or starting_point(spec), **options)
    except TypeError as e:
        raise UsageError(f"[model] options {spec.model.options} do not fit {cls.__name__}.from_pretrained: {e}") from e


def load_reranker(family: str, model: str, *, max_length: int | None = None, batch_size: int | None = None,
                  verbose: bool = True):
    """A re-ranker to score pairs with (a teacher, or ``transformers-ir predict``).

    Args:
        family: one of the re-ranking families.
        model: a checkpoint folder, alias or hub name.
        max_length: tokens per pair (default: the checkpoint's).
        batch_size: pairs per forward pass (default: the family's).
        verbose: show progress.

    Returns:
        The re-ranker.

    Raises:
        UsageError: a family that does not re-rank.
    """
    if family not in RERANKER_FAMILIES:
        raise UsageError(f"teacher scores come from a re-ranker: family {family!r} is not one of "
                         f"{', '.join(RERANKER_FAMILIES)}")
    kwargs = {k: v for k, v in {"max_length": max_length, "batch_size": batch_size}.items() if v}
    return FAMILIES[family].load_class().from_pretrained(model, verbose=verbose, **kwargs)
