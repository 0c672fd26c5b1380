"""JSON files we read back (index markers, settings, metadata): a corrupt or truncated one is an error naming the
file and the fix, never a bare ``JSONDecodeError``."""
from __future__ import annotations

import json
from pathlib import Path

from transformers_ir.errors import CorruptFile


def read_json(path: str | Path, *, fix: str, expect: type | tuple[type, ...] = dict):
    """The JSON value in ``path``; :class:`CorruptFile` naming the file and ``fix`` when it cannot be read as
    one of ``expect``. A missing file raises :class:`FileNotFoundError` as usual."""
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (ValueError, OSError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CorruptFile(f"{path} is corrupt or truncated ({type(e).__name__}: {first}): {fix}") from None
    if not isinstance(value, expect):
        raise CorruptFile(f"{path} holds a {type(value).__name__}, not what was written there: {fix}")
    return value
