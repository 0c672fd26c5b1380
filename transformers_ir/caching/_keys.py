"""What identifies a transformer's output: its configuration, including a hash of the model's weights.

A cache keyed only on (query, docno) serves one model's scores to another. Here a cache is keyed on the
transformer's full configuration as well. The protocol is one optional method::

    def cache_key(self) -> dict:
        return {"model": "cross-encoder/ms-marco-MiniLM-L6-v2", "weights": weights_hash(self.model),
                "head": "linear", "max_length": 512, "dtype": "float32", "pooling": "cls"}

Transformers without it are described by their class, their ``repr`` (when it names no memory address and they
hold no function), a hash of the weights of every ``torch.nn.Module`` and of every tokenizer they hold; a
transformer that cannot be described is not cached.
"""
from __future__ import annotations

import functools
import hashlib
import json
import sys
import types
from typing import Any

import pyterrier as pt

from transformers_ir._identity import tokenizer_hash, weights_hash


def _is_tokenizer(value) -> bool:
    return hasattr(value, "backend_tokenizer") or (hasattr(value, "get_vocab") and hasattr(value, "encode"))


def _modules(transformer) -> dict[str, Any]:
    torch = sys.modules.get("torch")  # a transformer holding a module has imported torch already
    if torch is None:
        return {}
    return {name: value for name, value in sorted(vars(transformer).items()) if isinstance(value, torch.nn.Module)}


def cache_key(transformer: pt.Transformer) -> dict | None:
    """The configuration that determines ``transformer``'s output, as a JSON-able dict; None when unknown.

    Uses ``transformer.cache_key()`` when defined (returning None opts out of caching); composed pipelines are
    described stage by stage.

    Args:
        transformer: any transformer.

    Returns:
        The key, or None when the transformer cannot be identified (then it is not cached).
    """
    own = getattr(transformer, "cache_key", None)
    if callable(own):
        key = own()  # None: the transformer opts out of caching
        return None if key is None else {"class": _class_name(transformer), **key}
    if isinstance(transformer, pt.Compose):
        parts = [cache_key(t) for t in pt.inspect.subtransformers(transformer)["transformers"]]
        return None if any(p is None for p in parts) else {"compose": parts}
    text = repr(transformer)
    functions = _functions(transformer)
    if " at 0x" in text or functions is None:  # a default repr, or a function that cannot be named
        return None
    key = {"class": _class_name(transformer), "repr": text}
    if functions:
        key["functions"] = functions
    weights, tokenizers = {}, {}
    for owner, obj in _holders(transformer):
        weights.update({owner + name: weights_hash(module) for name, module in _modules(obj).items()})
        tokenizers.update({owner + name: tokenizer_hash(value) for name, value in sorted(vars(obj).items())
                           if _is_tokenizer(value)})
    if weights:
        key["weights"] = weights
    if tokenizers:
        key["tokenizers"] = tokenizers
    return key


def _holders(transformer) -> list[tuple[str, Any]]:
    """The transformer and the plain objects it keeps (e.g. a stage's model family: ``splade.model``)."""
    found = [("", transformer)]
    for name, value in sorted(vars(transformer).items()):
        if (hasattr(value, "__dict__") and not isinstance(value, (pt.Transformer, type)) and not _is_tokenizer(value)
                and not hasattr(value, "state_dict") and _modules(value)):
            found.append((f"{name}.", value))
    return found


def _functions(transformer) -> dict[str, str] | None:
    """The functions a transformer keeps, by qualified name; None when one is a lambda, a closure, a partial or
    a bound method (``pt.apply.score(lambda row: ...)`` prints the same whatever the function)."""
    found = {}
    for name, value in sorted(getattr(transformer, "__dict__", {}).items()):
        if isinstance(value, (types.MethodType, functools.partial, types.BuiltinFunctionType)):
            return None
        if isinstance(value, types.FunctionType):
            if "<" in value.__qualname__ or value.__closure__:  # <lambda>, <locals>: not reachable by name
                return None
            found[name] = f"{value.__module__}.{value.__qualname__}"
    return found


def _class_name(obj) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def canonical(key: dict) -> str:
    """A stable text of a key (sorted keys, no spaces), what is hashed and stored.

    Args:
        key: a JSON-able dict (other values are written as ``str``).

    Returns:
        The text.
    """
    return json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)


def key_hash(key: dict) -> str:
    """SHA-256 of :func:`canonical` (the compact text, not :func:`transformers_ir._identity.json_hash`'s: cache
    folders are named by it, and the caches already written keep their names).

    Args:
        key: a JSON-able dict.

    Returns:
        The hex digest.
    """
    return hashlib.sha256(canonical(key).encode()).hexdigest()


def differences(stored: dict, given: dict, prefix: str = "") -> list[str]:
    """Human-readable differences between two keys: ``model: 'a' (cache) != 'b' (now)``."""
    out = []
    for name in sorted(set(stored) | set(given), key=str):
        a, b = stored.get(name, "<absent>"), given.get(name, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, f"{prefix}{name}.")
        elif json.loads(canonical({"v": a})) != json.loads(canonical({"v": b})):
            out.append(f"{prefix}{name}: {_short(a)} (cache) != {_short(b)} (now)")
    return out


def _short(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
