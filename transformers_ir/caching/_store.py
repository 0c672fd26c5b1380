"""Caches on disk keyed on the transformer's configuration, stored in SQLite with a value codec that is not pickle.

A cache is a folder::

    <path>/transformers_ir_cache.json   # format, kind, the configuration key: written last, on success
    <path>/store/db.sqlite3             # key -> value (plain data: JSON and NumPy arrays) and its SHA-256

Opening a folder whose configuration differs, which an older version wrote, or which has no metadata (an
interrupted creation, another tool's folder) raises :class:`CacheMismatch` and changes nothing. Nothing read from
a cache can run code (values are never unpickled: :mod:`transformers_ir.caching._codec`), and no setting read
from the folder can change that. Entries are written in one SQLite transaction per batch, after the batch is
computed: a killed or disk-full write is rolled back by SQLite, never read back as complete. Two processes may
fill one cache at once: an entry written twice is replaced by the same value. An entry changed on disk (its
checksum differs) or unreadable is computed again, with a warning.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyterrier as pt

from transformers_ir._atomic import atomic_dir
from transformers_ir._ranking import rank_results
from transformers_ir._version import __version__
from transformers_ir.caching._codec import UnstorableValue, decode, encode
from transformers_ir.caching._keys import cache_key, canonical, differences, key_hash
from transformers_ir.caching._sqlite import SqliteStore, key_text
from transformers_ir.errors import CacheMismatch, CacheWriteError

#: Format 2: values in the safe codec. Format 1 (pyterrier-caching's pickled values) is refused, never read.
FORMAT = 2
META = "transformers_ir_cache.json"
STORE = "store"






class _Counting(pt.Transformer):
    """Passes frames to ``transformer`` and counts the rows it was asked to compute (the cache's misses)."""

    def __init__(self, transformer: pt.Transformer):
        self.transformer = transformer
        self.rows = 0

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        self.rows += len(inp)
        return self.transformer(inp)


class KeyedCache(pt.Transformer):
    """Base of the caches: opens or creates the folder, refusing another configuration.

    Args:
        path: the cache folder (created when absent).
        transformer: what computes the entries the cache lacks.
        config: the configuration that determines the entries (defaults to :func:`cache_key` of ``transformer``).
    """

    kind = ""

    def __init__(self, path: str | Path, transformer: pt.Transformer, *, config: dict | None = None):
        self.path = Path(path)
        self.transformer = transformer
        self.config = cache_key(transformer) if config is None else config
        if self.config is None:
            raise ValueError(
                f"{transformer!r} cannot be identified for a cache (no cache_key() and its repr names no "
                f"configuration): give config={{...}} with everything that determines its output"
            )
        self.hits = self.misses = 0  # rows served from the cache / computed, summed over calls
        self._counting = _Counting(transformer)
        if not self.path.exists() and not self.path.is_symlink():
            self._create()
        self.metadata = self._check()
        try:
            self.store = SqliteStore(self.path / STORE)
        except sqlite3.DatabaseError as e:
            raise CacheMismatch(f"{self.path / STORE} is not a readable cache database ({e}); nothing was changed: "
                                f"give another path or delete {self.path}") from None

    def _create(self) -> None:
        try:
            with atomic_dir(self.path) as tmp:
                SqliteStore(tmp / STORE, create=True).close()
                meta = {"format": FORMAT, "kind": self.kind, "key_hash": key_hash(self.config),
                        "key": json.loads(canonical(self.config)), "created_by": f"transformers-ir {__version__}",
                        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
                (tmp / META).write_text(json.dumps(meta, indent=2) + "\n")
        except FileExistsError:  # created by another process meanwhile: checked like any other folder
            pass

    def _check(self) -> dict:
        how = f"to start a new cache, give another path or delete {self.path}"
        if not self.path.is_dir():
            raise CacheMismatch(f"{self.path} is not a folder (a file or a link is there); nothing was changed: {how}")
        try:
            meta = json.loads((self.path / META).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CacheMismatch(
                f"{self.path} is not a complete transformers-ir cache (no {META}: an interrupted creation or "
                f"another tool's folder); nothing was changed: {how}"
            ) from None
        except (ValueError, OSError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise CacheMismatch(f"{self.path / META} is unreadable ({type(e).__name__}: {e}); nothing was "
                                f"changed: {how}") from None
        if not isinstance(meta, dict):
            raise CacheMismatch(f"{self.path / META} holds a {type(meta).__name__}, not a cache description; "
                                f"nothing was changed: {how}")
        if meta.get("format") != FORMAT:
            raise CacheMismatch(
                f"{self.path} was written by {meta.get('created_by', 'another version')} in cache format "
                f"{meta.get('format')!r}; this version reads format {FORMAT}. Nothing was changed: {how}"
            )
        if meta.get("kind") != self.kind:
            raise CacheMismatch(f"{self.path} holds a {meta.get('kind')} cache, not a {self.kind} cache: {how}")
        if meta.get("key_hash") != key_hash(self.config):
            stored = meta.get("key") if isinstance(meta.get("key"), dict) else {}
            diff = "\n  ".join(differences(stored, json.loads(canonical(self.config)))) or "(hash differs)"
            raise CacheMismatch(
                f"the cache at {self.path} holds {self.kind} of another configuration:\n  {diff}\n"
                f"Its entries would be wrong for this one, so it was not used and nothing was changed. "
                f"{how[0].upper()}{how[1:]}."
            )
        return meta

    def _cached(self, unique: pd.DataFrame, on: list[str], compute) -> list:
        """The value of each row of ``unique`` (distinct keys ``on``): read from the store, or computed for the
        rows it lacks by ``compute(rows) -> {key: value}`` and stored in one transaction."""
        keys = [key_text(k) for k in unique[on].itertuples(index=False, name=None)]
        found = self.store.get_many(keys)
        missing = [i for i, k in enumerate(keys) if k not in found]
        if missing:
            try:
                computed = compute(unique.iloc[missing])
                self.store.put_many((k, v) for k, v in computed.items())
            except UnstorableValue as e:
                raise CacheWriteError(f"{self.transformer!r} gives values a cache cannot store ({e}): run without "
                                      f"the cache (--no-cache)") from None
            found.update(computed)
        return [found.get(k) for k in keys]

    def _lookup(self, inp: pd.DataFrame) -> pd.DataFrame:  # pragma: no cover - abstract
        raise NotImplementedError

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        before = self._counting.rows
        try:
            out = self._lookup(inp)
        except sqlite3.DatabaseError as e:
            raise CacheWriteError(
                f"the cache at {self.path} could not be used ({e}); nothing half-written is kept: "
                f"free disk space or fix permissions, or run without the cache (--no-cache)"
            ) from e
        computed = self._counting.rows - before
        self.misses += computed
        self.hits += max(self._rows(inp) - computed, 0)
        return out

    def _rows(self, inp: pd.DataFrame) -> int:
        return len(inp)

    def close(self) -> None:
        """Close the store underneath (the cache is also a context manager)."""
        self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __eq__(self, other) -> bool:
        return (type(other) is type(self) and other.path.resolve() == self.path.resolve()
                and other.transformer == self.transformer and canonical(other.config) == canonical(self.config))

    def __hash__(self) -> int:
        return hash((type(self).__name__, str(self.path.resolve())))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, {self.transformer!r})"


def _round_trip(value):
    """What reading ``value`` back from the store gives: the first pass serves exactly what later passes do."""
    return decode(encode(value))


class ScorerCache(KeyedCache):
    """Re-ranker scores per (query text, docno), for one scorer configuration.

    Example::

        cached = ScorerCache('caches/minilm', CrossEncoder.from_pretrained('cross-encoder/ms-marco-MiniLM-L6-v2'))
        pipeline = bm25 % 100 >> text_loader(dataset) >> cached
    """

    kind = "scores"
    on = ["query", "docno"]

    def _lookup(self, inp: pd.DataFrame) -> pd.DataFrame:
        pt.validate.result_frame(inp, extra_columns=["query"])
        if len(inp) == 0:
            return rank_results(inp.assign(score=pd.Series(dtype="float64")))
        unique = inp.drop_duplicates(self.on).reset_index(drop=True)  # each pair scored and stored once
        scores = self._cached(unique, self.on, self._score)
        values = unique[self.on].assign(score=np.array([np.nan if s is None else s for s in scores], dtype="float64"))
        out = inp.drop(columns=["score", "rank"], errors="ignore").merge(values, on=self.on, how="left")
        return rank_results(out)  # the library's one tie-break: score, then docno

    def _score(self, rows: pd.DataFrame) -> dict:
        scored = self._counting(rows)
        pt.validate.result_frame(scored, extra_columns=["query", "score"])
        return {key_text(k): float(s) for *k, s in scored[[*self.on, "score"]].itertuples(index=False, name=None)}

    def _rows(self, inp: pd.DataFrame) -> int:
        return len(inp.drop_duplicates(self.on)) if len(inp) else 0


class RetrieverCache(KeyedCache):
    """A first stage's results per query (keyed on ``qid`` and ``query``), for one retriever configuration."""

    kind = "results"
    on = ["qid", "query"]

    def _lookup(self, topics: pd.DataFrame) -> pd.DataFrame:
        pt.validate.query_frame(topics, extra_columns=["query"])
        if topics["qid"].duplicated().any():
            raise ValueError("the topics repeat qids: give each query its own qid before retrieval")
        if len(topics) == 0:
            return self.transformer(topics)
        packed = self._cached(topics.reset_index(drop=True), self.on, self._retrieve)
        frames = [pd.DataFrame(r) for r in packed if isinstance(r, dict) and len(next(iter(r.values()), []))]
        if not frames:
            return self.transformer(topics.iloc[:0])
        return pd.concat(frames, ignore_index=True)

    def _retrieve(self, topics: pd.DataFrame) -> dict:
        """Each query's results, packed as ``{column: array}`` (an empty table for a query without results)."""
        results = self._counting(topics)
        groups = dict(tuple(results.groupby("qid", sort=False))) if len(results) else {}
        packed = {}
        for key, qid in zip(topics[self.on].itertuples(index=False, name=None), topics["qid"]):
            group = groups.get(qid, results.iloc[:0])
            packed[key_text(key)] = _round_trip({c: group[c].to_numpy() for c in group.columns})
        return packed


class EncoderCache(KeyedCache):
    """An encoder's outputs per input key: e.g. SPLADE's ``query_toks`` per ``query``, or ``toks`` per ``docno``.

    Args:
        path: the cache folder.
        encoder: the encoder (e.g. ``splade.query_encoder()``).
        key: the column(s) that identify an input (``'query'`` or ``'docno'``).
        value: the column(s) the encoder adds (``'query_toks'`` or ``'toks'``).
        config: the encoder's configuration (defaults to :func:`cache_key` of ``encoder``).
    """

    kind = "encodings"

    def __init__(self, path: str | Path, encoder: pt.Transformer, *, key: str | list[str] = "query",
                 value: str | list[str] = "query_toks", config: dict | None = None):
        self.key = key
        self.on = [key] if isinstance(key, str) else list(key)
        self.value = value
        self.columns = [value] if isinstance(value, str) else list(value)
        config = cache_key(encoder) if config is None else config
        config = None if config is None else {**config, "on": self.on, "value": self.columns}
        super().__init__(path, encoder, config=config)

    @property
    def encoder(self) -> pt.Transformer:
        """The encoder the cache computes missing entries with (the constructor's ``encoder``)."""
        return self.transformer

    def _lookup(self, inp: pd.DataFrame) -> pd.DataFrame:
        pt.validate.columns(inp, includes=self.on)
        if len(inp) == 0:
            return self.transformer(inp)
        unique = inp.drop_duplicates(self.on).reset_index(drop=True)
        values = self._cached(unique, self.on, self._encode)
        table = unique[self.on].copy()
        for i, column in enumerate(self.columns):
            cells = np.empty(len(values), dtype=object)
            cells[:] = [None if v is None else v[i] for v in values]
            table[column] = cells
        return inp.drop(columns=self.columns, errors="ignore").merge(table, on=self.on, how="left")

    def _encode(self, rows: pd.DataFrame) -> dict:
        encoded = self._counting(rows)
        pt.validate.columns(encoded, includes=[*self.on, *self.columns])
        return {key_text(k): _round_trip(tuple(v)) for k, v in zip(
            encoded[self.on].itertuples(index=False, name=None),
            encoded[self.columns].itertuples(index=False, name=None))}

    def _rows(self, inp: pd.DataFrame) -> int:
        return len(inp.drop_duplicates(self.on)) if len(inp) else 0
