"""The values a pipeline or training file gives, checked where the file is parsed, so that none reaches deep code.

Types are checked against the components' annotations (:mod:`transformers_ir.registry`); here are the
rest: numbers finite and in range (by parameter name: every component and config section uses the same names),
names and ids non-empty text without control characters, metrics that the evaluators accept (a cutoff of 0 aborts
trec_eval's process), and system names usable as file names and TREC run tags.
"""
from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable

from transformers_ir._paths import slug

#: Longest system name (bytes of UTF-8): it becomes a file name (255 bytes at most on common file systems).
MAX_NAME_BYTES = 100


def _int_at_least(low: int, high: int | None = None) -> tuple[Callable, str]:
    text = "a positive whole number" if low == 1 else f"a whole number >= {low}"
    return (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low and (high is None or v <= high),
            text if high is None else f"{text}, at most {high:,}")


#: The most results per query a first stage may be asked for: engines allocate the whole depth up front.
MAX_RESULTS = 1_000_000


def _number(test: Callable[[float], bool], text: str) -> tuple[Callable, str]:
    return (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and test(v), text)


_POSITIVE_INT = _int_at_least(1)
_NON_NEGATIVE = _number(lambda v: v >= 0, "a number >= 0")
_POSITIVE = _number(lambda v: v > 0, "a number > 0")
_FRACTION = _number(lambda v: 0 <= v <= 1, "a number between 0 and 1")

#: Parameter name -> (accepts, what it must be). ``None`` (the default) is always accepted.
RULES: dict[str, tuple[Callable, str]] = {
    **{name: _int_at_least(1, MAX_RESULTS) for name in ("num_results", "depth")},
    **{name: _POSITIVE_INT for name in (
        "batch_size", "max_length", "query_max_length", "doc_max_length", "query_top_k", "doc_top_k",
        "shard_docs", "invert_batch", "num_labels", "group_size", "max_queries", "save_steps",
        "logging_steps", "gradient_accumulation", "save_total_limit", "threads", "num_hidden_layers")},
    **{name: _NON_NEGATIVE for name in (
        "threshold", "k1", "weight_decay", "flops_query", "flops_doc", "distill_weight", "epochs", "learning_rate",
        "head_learning_rate")},
    **{name: _int_at_least(0) for name in ("seed", "dataloader_workers", "flops_warmup_steps")},
    **{name: _POSITIVE for name in ("scale", "k", "temperature")},
    "b": _FRACTION,
    "teacher_scale": _POSITIVE,
    "warmup_ratio": _number(lambda v: 0 <= v < 1, "a number >= 0 and < 1"),
    "max_steps": _int_at_least(-1),
}
#: Parameters that name something (a model, a file, a field, a dataset): non-empty text.
NAMES = {"model", "path", "wmodel", "text_field", "backbone", "component", "topics", "qrels", "corpus", "name",
         "train_config", "triples", "teacher", "family"}


def _non_finite(value) -> float | None:
    """A NaN or infinite number anywhere in ``value`` (lists and tables included), or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    return next((bad for bad in map(_non_finite, items) if bad is not None), None)


def _control(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" for c in text)


def value_problem(name: str, value) -> str | None:
    """What is wrong with ``value`` for the parameter ``name`` (range, finiteness, empty name), or None."""
    if value is None:
        return None
    bad = _non_finite(value)
    if bad is not None:
        return f"{name} must be a finite number, got {bad!r}"
    if isinstance(value, str) and name in NAMES and not value.strip():
        return f"{name} must name something, got an empty string"
    if isinstance(value, str) and _control(value):
        return f"{name} holds control characters (NUL, newline, ...): {value!r}"
    if name in RULES:
        accepts, text = RULES[name]
        if isinstance(value, (int, float)) and not accepts(value):
            return f"{name} must be {text}, got {value!r}"
    if name == "systems" and isinstance(value, list) and len(set(map(str, value))) != len(value):
        return f"systems names a system twice ({value!r}): its results would count twice; name each once"
    if name == "controls" and isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(item, (str, int, float)) or isinstance(item, bool):
                return f"controls[{key!r}] must be text or a number, got {item!r}"
    return None


def check_values(**values) -> None:
    """Raise ``ValueError`` naming the first of ``values`` (parameter name -> value) :func:`value_problem` refuses:
    the same checks for Python callers as for pipeline files."""
    for name, value in values.items():
        problem = value_problem(name, value)
        if problem:
            raise ValueError(problem)


def parse_metric(metric):
    """An evaluation measure from either spelling a user may know: an ir_measures name (``nDCG@10``, ``AP``,
    ``RR@10``, ``R@100``) or a trec_eval one, as ``pt.Experiment`` takes them (``ndcg_cut_10``, ``map``,
    ``recip_rank``, ``recall_100``, ``P_5``); an ir_measures measure object is returned as it is.

    Args:
        metric: the name, or a measure.

    Returns:
        The ir_measures measure (``nDCG@10`` for ``ndcg_cut_10``: the two spellings are one measure).

    Raises:
        ValueError: neither convention knows the name.
    """
    import ir_measures

    if not isinstance(metric, str):
        return metric
    try:
        return ir_measures.parse_measure(metric)
    except (ValueError, NameError, SyntaxError, TypeError, AttributeError, KeyError):
        pass
    try:
        parsed = ir_measures.parse_trec_measure(metric)
    except (ValueError, NameError, SyntaxError, TypeError, AttributeError, KeyError):
        parsed = []
    if len(parsed) == 1:  # a trec_eval family without a cutoff (``ndcg_cut``) stands for several measures
        return parsed[0]
    raise ValueError(f"unknown metric {metric!r}: use an ir_measures name (nDCG@10, AP, RR@10, R@100, P@5) or a "
                     f"trec_eval one (ndcg_cut_10, map, recip_rank, recall_100, P_5)")


def metric_problem(measure) -> str | None:
    """Why an ir_measures measure cannot be evaluated, or None: its cutoff and relevance level must be positive
    whole numbers (trec_eval aborts the whole process on a cutoff of 0), and an evaluator must compute it."""
    import ir_measures
    import pandas as pd

    params = getattr(measure, "params", {}) or {}
    for key in ("cutoff", "rel"):
        value = params.get(key)
        if value is not None and not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            return f"its {key} must be a positive whole number, got {value!r}"
    qrels = pd.DataFrame({"query_id": ["1", "1"], "doc_id": ["d1", "d2"], "relevance": [1, 0]})
    run = pd.DataFrame({"query_id": ["1", "1"], "doc_id": ["d1", "d2"], "score": [2.0, 1.0]})
    try:
        ir_measures.calc_aggregate([measure], qrels, run)
    except Exception as e:  # noqa: BLE001 - whatever the evaluator says, said at parse time
        return f"no evaluator computes it ({type(e).__name__}: {str(e).strip().splitlines()[0][:160]})"
    return None


def file_name(name: str) -> str:
    """A system's (or metric's) name as a file name and TREC run tag: runs of characters other than letters,
    digits and ``._+-`` become ``_`` (:func:`transformers_ir._paths.slug`)."""
    return slug(name, keep="._+-")


def system_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a system's files and run tag, or None."""
    if not name.strip():
        return "is empty"
    if _control(name):
        return "holds control characters (newline, tab, NUL, ...), which a file name or TREC run tag cannot hold"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"is longer than {MAX_NAME_BYTES} bytes (it names files)"
    if not file_name(name):
        return "has no letter or digit to name its files with"
    return None
