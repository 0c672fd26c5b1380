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


def check_encoder_input(inp: pd.DataFrame, rep: str, text_field: str) -> None:
    """What an encoder stage needs: queries (``qid``, ``query``, none missing) for ``rep='query'``, else the
    documents' ``text_field``; raises naming the fix.

    Args:
        inp: the frame.
        rep: ``'query'`` or ``'doc'``.
        text_field: the documents' text column.
    """
    if rep == "query":
        pt.validate.query_frame(inp, extra_columns=["query"])
        refuse_missing_queries(inp)
    elif text_field not in inp.columns:
        raise input_error(f"column {text_field!r} missing (columns: {list(inp.columns)}): add the documents' text "
                          f"first, e.g. transformers_ir.data.text_loader(dataset), or give "
                          f"doc_encoder(text_field=...)", [text_field])


def stage_repr(family, method: str, **kwargs) -> str:
    """``repr`` of a stage a family's method built, as the call: ``Family(...).method(arg=value)`` (None left out),
    followed by what ``precision='auto'`` chose when the family says (its ``precision_note()``).

    Args:
        family: the family object (its own ``repr`` reads like its construction).
        method: the method's name.
        **kwargs: the method's non-default arguments.

    Returns:
        The text.
    """
    shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if v is not None)
    call = family._call_repr() if hasattr(family, "_call_repr") else repr(family)
    note = family.precision_note() if hasattr(family, "precision_note") else ""  # what precision='auto' chose
    return f"{call}.{method}({shown}){note}"


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
