"""Cache values as plain data, never pickle: what is read back from a cache cannot run code.

A value is written as UTF-8 JSON in which numeric arrays are NumPy ``.npy`` bytes (base64), read back with
``allow_pickle=False``, and everything else is a JSON scalar, list or string-keyed table, tagged so that it comes
back with its type:

- ``None``, ``bool``, ``int``, ``str``, finite ``float``: as JSON; NaN and infinities as ``{"$f": "nan"}``;
- lists and tuples: ``{"$l": [...]}`` (tuples come back as tuples: ``{"$t": [...]}``);
- ``{str: value}`` tables (SPLADE's ``{term: weight}``): ``{"$d": {...}}``;
- numeric NumPy arrays (bool, integers, floats): ``{"$npy": "<base64 of np.save>"}``;
- other NumPy arrays (docnos, queries: strings): ``{"$a": [...]}``, an object array of the decoded items.

Anything else cannot be stored (:class:`UnstorableValue`); a stored value that does not decode to exactly this
(another format, a pickle someone planted, truncated bytes) is :class:`CorruptValue`, never executed.
"""
from __future__ import annotations

import base64
import io
import json
import math

import numpy as np
import pandas as pd

_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floats


class UnstorableValue(TypeError):
    """A value of a type the cache codec does not store (objects, functions, ...)."""


class CorruptValue(ValueError):
    """Stored bytes that are not a value this codec wrote."""


def _to_json(value):
    if value is pd.NA or value is pd.NaT:  # what pandas holds for a missing value: stored as None
        return None
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else {"$f": "nan" if value != value else ("inf" if value > 0 else "-inf")}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in _NUMERIC_KINDS:
            buffer = io.BytesIO()
            np.save(buffer, np.ascontiguousarray(value), allow_pickle=False)
            return {"$npy": base64.b64encode(buffer.getvalue()).decode("ascii")}
        if value.ndim != 1:
            raise UnstorableValue(f"a {value.ndim}-dimensional array of {value.dtype} cannot be stored in a cache")
        return {"$a": [_to_json(v) for v in value.tolist()]}
    if isinstance(value, tuple):
        return {"$t": [_to_json(v) for v in value]}
    if isinstance(value, list):
        return {"$l": [_to_json(v) for v in value]}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise UnstorableValue("a table with keys other than strings cannot be stored in a cache")
        return {"$d": {k: _to_json(v) for k, v in value.items()}}
    raise UnstorableValue(f"a value of type {type(value).__name__} cannot be stored in a cache (plain numbers, "
                          f"strings, lists, {{str: value}} tables and arrays only)")


def _from_json(node):
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if not isinstance(node, dict) or len(node) != 1:
        raise CorruptValue(f"unexpected {type(node).__name__} in a stored value")
    (tag, body), = node.items()
    if tag == "$f" and body in _FLOATS:
        return _FLOATS[body]
    if tag in ("$l", "$t", "$a") and isinstance(body, list):
        items = [_from_json(v) for v in body]
        if tag == "$l":
            return items
        if tag == "$t":
            return tuple(items)
        out = np.empty(len(items), dtype=object)
        out[:] = items
        return out
    if tag == "$d" and isinstance(body, dict):
        return {k: _from_json(v) for k, v in body.items()}
    if tag == "$npy" and isinstance(body, str):
        try:
            array = np.load(io.BytesIO(base64.b64decode(body, validate=True)), allow_pickle=False)
        except ValueError as e:  # binascii.Error is a ValueError; so is a pickled array refused
            raise CorruptValue(f"a stored array is not a plain NumPy array ({e})") from None
        if not isinstance(array, np.ndarray) or array.dtype.kind not in _NUMERIC_KINDS:
            raise CorruptValue("a stored array is not numeric")
        return array
    raise CorruptValue(f"unknown tag {tag!r} in a stored value")


def encode(value) -> bytes:
    """The bytes stored for ``value`` (raises :class:`UnstorableValue` for types it does not store)."""
    return json.dumps(_to_json(value), separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8", "surrogatepass")


def decode(data) -> object:
    """The value ``data`` (bytes from :func:`encode`) holds; :class:`CorruptValue` for anything else."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CorruptValue(f"a stored value is a {type(data).__name__}, not bytes")
    try:
        text = bytes(data).decode("utf-8", "surrogatepass")
        node = json.loads(text, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise CorruptValue(f"a stored value is not this cache's format ({type(e).__name__})") from None
    return _from_json(node)


def _refuse_constant(name: str):
    raise CorruptValue(f"bare {name} in a stored value")

