"""Input errors in PyTerrier's own type, raised correctly: ``pt.validate.InputValidationError`` needs the modes
that failed (what ``pt.inspect`` reads), and calling it with a message alone fails with a ``TypeError`` that hides
the real problem. The modes come from ``pt.validate.columns`` itself; the message is ours (it names the fix)."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pyterrier as pt


def input_error(message: str, missing: Sequence[str]) -> pt.validate.InputValidationError:
    """An ``InputValidationError`` carrying ``message`` (say what is wrong and how to fix it).

    Args:
        message: the problem and its fix.
        missing: the columns that are missing (at least one).

    Returns:
        The error, with the modes ``pt.validate.columns`` gives for those columns.
    """
    try:
        pt.validate.columns([], includes=list(missing))
    except pt.validate.InputValidationError as e:
        return pt.validate.InputValidationError(message, e.modes)
    raise ValueError("input_error needs the missing columns (at least one)")


def require_columns(inp: pd.DataFrame, columns: Sequence[str], hint: str) -> None:
    """Raise an ``InputValidationError`` naming the missing columns and ``hint`` (the fix)."""
    missing = [c for c in columns if c not in inp.columns]
    if missing:
        raise input_error(f"column(s) {missing} missing: {hint}", missing)


def refuse_missing_queries(topics: pd.DataFrame) -> None:
    """A query that is None/NaN is a data error for a first stage (it cannot retrieve for nothing): say which."""
    missing = topics["query"].isna()
    if missing.any():
        raise ValueError(
            f"{int(missing.sum())} queries are missing (None/NaN), qids {topics.loc[missing, 'qid'].head(5).tolist()}"
            f": fill them or drop those rows (topics.dropna(subset=['query']))"
        )


def texts_for_model(texts) -> list[str]:
    """Strings a tokenizer accepts: None/NaN become '', other values ``str``, lone surrogates (invalid Unicode
    that tokenizers refuse with a ``TypeError``) become "?"."""
    out = []
    for t in texts:
        if not isinstance(t, str):  # pd.NA is what an Arrow string column holds for a missing value
            t = "" if t is None or t is pd.NA or (isinstance(t, float) and t != t) else str(t)
        out.append(t if t.isascii() else t.encode("utf-8", "replace").decode("utf-8"))
    return out


def max_positions(model) -> int | None:
    """The longest input a model with learned absolute positions takes (``max_position_embeddings``), or None."""
    for module in model.modules():
        limit = getattr(getattr(module, "config", None), "max_position_embeddings", None)
        if isinstance(limit, int):
            return limit
    return None
