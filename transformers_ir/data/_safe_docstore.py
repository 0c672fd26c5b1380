"""ir_datasets' document stores read without running code.

ir_datasets keeps each collection's documents in its cache as pickled tuples (``docs.pklz4`` and the other
docstores), and reads them back with ``pickle.loads``: a store replaced by someone else's file could run any code
when a re-ranker fetches text. :func:`protect_docstores` gives those modules an unpickler that builds plain values
only (strings, numbers, tuples, lists, tables, and ir_datasets' own record types), and refuses anything else with
:class:`UnsafeDocstore` before it is built.
"""
from __future__ import annotations

import datetime
import enum
import io
import pickle
import sys
import types

from transformers_ir import _paths
from transformers_ir.errors import UnsafeDocstore

#: ir_datasets' modules that unpickle documents from its cache.
DOCSTORE_MODULES = ("ir_datasets.indices.lz4_pickle", "ir_datasets.indices.indexed_tsv_docstore",
                    "ir_datasets.indices.zpickle_docstore")
_PLAIN = {("datetime", "datetime"): datetime.datetime, ("datetime", "date"): datetime.date}


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _PLAIN:
            return _PLAIN[(module, name)]
        if module.startswith("ir_datasets.") and module in sys.modules:
            found = getattr(sys.modules[module], name, None)
            if isinstance(found, type) and (issubclass(found, tuple) or issubclass(found, enum.Enum)):
                return found  # a record type (a namedtuple) or an enum of ir_datasets
        raise UnsafeDocstore(
            f"a document store in ir_datasets' cache ({_paths.irds_home()}) holds a pickled {module}.{name}, not "
            f"a document's plain values: it was not loaded (it could run code). Delete the dataset's docstore files "
            f"(docs.pklz4*) there; they are rebuilt from the source data"
        )


def _loads(data, **kwargs):
    return _PlainUnpickler(io.BytesIO(data), **kwargs).load()


def _load(file, **kwargs):
    return _PlainUnpickler(file, **kwargs).load()


#: What the docstore modules see as ``pickle``: the real module with a plain-values-only ``load``/``loads``.
SAFE_PICKLE = types.ModuleType("transformers_ir_safe_pickle")
SAFE_PICKLE.__dict__.update({k: v for k, v in vars(pickle).items() if not k.startswith("__")})
SAFE_PICKLE.loads, SAFE_PICKLE.load, SAFE_PICKLE.Unpickler = _loads, _load, _PlainUnpickler


def protect_docstores() -> None:
    """Make ir_datasets' docstores unpickle plain values only (idempotent; imports the modules)."""
    import importlib

    for name in DOCSTORE_MODULES:
        module = importlib.import_module(name)
        if getattr(module, "pickle", None) is not SAFE_PICKLE:
            module.pickle = SAFE_PICKLE
