"""One SQLite file of cache entries: a text key, a value in the safe codec (never pickle), its checksum.

The store is a folder ``store/`` holding ``db.sqlite3`` (table ``cache``) and a ``pt_meta.json`` that describes it
for PyTerrier's artifact conventions; that description is written, never read: no setting found in a cache folder
can change how values are decoded.

Written by several processes at once without error: a writer waits for the other's transaction (``timeout``),
and an entry written twice is replaced by the same value (``INSERT OR REPLACE``), never a UNIQUE failure.
A value whose checksum or format does not match when read is reported (a warning) and counted as missing, so the
cache computes it again and replaces it: nothing changed on disk is served, and nothing read runs code.
"""
from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from transformers_ir._identity import bytes_hash
from transformers_ir.caching._codec import CorruptValue, decode, encode

FILE = "db.sqlite3"
_SCHEMA = "CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, value BLOB NOT NULL, checksum TEXT NOT NULL)"
_META = {"type": "transformers_ir_cache", "format": "sqlite3-json-npy", "pickle": False,
         "note": "values are JSON with NumPy arrays (never pickle); this file is not read"}
_CHUNK = 500  # keys per SELECT (SQLite limits the parameters of one statement)
_log = logging.getLogger(__name__)


def key_text(values: Sequence) -> str:
    """The stored key of a tuple of column values (ASCII JSON: lone surrogates and any text are kept exactly)."""
    return json.dumps([v if isinstance(v, (str, int, float, bool)) or v is None else str(v) for v in values],
                      separators=(",", ":"), ensure_ascii=True)


class SqliteStore:
    """The entries of one store folder (``<folder>/db.sqlite3``).

    Args:
        folder: the store folder (``<cache>/store``).
        create: create the folder and its description (a new cache); otherwise it must exist.
        timeout: seconds a writer waits for another process's transaction before failing.
    """

    def __init__(self, folder: str | Path, *, create: bool = False, timeout: float = 120.0):
        folder = Path(folder)
        if create:
            folder.mkdir(parents=True)
            (folder / "pt_meta.json").write_text(json.dumps(_META, indent=2) + "\n")
        elif not (folder / FILE).is_file():
            raise sqlite3.OperationalError(f"{folder / FILE} is missing")
        self.file = folder / FILE
        self.db = sqlite3.connect(self.file, timeout=timeout)
        with self._cursor() as cursor:
            cursor.execute(_SCHEMA)
        self.db.commit()
        self.replaced = 0  # entries found changed or unreadable on disk, and computed again

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[sqlite3.Cursor]:
        if self.db is None:
            raise ValueError(f"the cache store {self.file} is closed")
        with contextlib.closing(self.db.cursor()) as cursor:
            yield cursor

    def get_many(self, keys: Sequence[str]) -> dict[str, object]:
        """The values stored under ``keys`` (those absent, changed or unreadable are left out)."""
        found: dict[str, object] = {}
        with self._cursor() as cursor:
            for start in range(0, len(keys), _CHUNK):
                chunk = list(keys[start:start + _CHUNK])
                cursor.execute(f"SELECT key, value, checksum FROM cache WHERE key IN ({','.join('?' * len(chunk))})",
                               chunk)
                for key, data, digest in cursor.fetchall():
                    value = self._read(key, data, digest)
                    if value is not _MISSING:
                        found[key] = value
        return found

    def _read(self, key: str, data, digest):
        problem = None
        if not isinstance(data, bytes) or bytes_hash(data) != digest:
            problem = "it changed on disk since it was written (checksum differs)"
        else:
            try:
                return decode(data)
            except CorruptValue as e:
                problem = f"it is not a value this version wrote ({e})"
        self.replaced += 1
        if self.replaced <= 3:
            _log.warning("cache %s: the entry %s is not used and is computed again: %s", self.file.parent.parent,
                         key[:120], problem)
        return _MISSING

    def put_many(self, items: Iterable[tuple[str, object]]) -> None:
        """Store ``(key, value)`` pairs in one transaction: all of them, or (on any error) none."""
        rows = []
        for key, value in items:
            data = encode(value)
            rows.append((key, data, bytes_hash(data)))
        if not rows:
            return
        try:
            with self._cursor() as cursor:
                cursor.executemany("INSERT OR REPLACE INTO cache (key, value, checksum) VALUES (?, ?, ?)", rows)
            self.db.commit()
        except BaseException:
            if self.db is not None:
                self.db.rollback()
            raise

    def __len__(self) -> int:
        with self._cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM cache")
            return int(cursor.fetchone()[0])

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None


_MISSING = object()
