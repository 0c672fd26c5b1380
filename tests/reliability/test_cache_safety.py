"""Caches and stores travel between people: nothing read from one may run code, and a value changed on disk is
never served. A pickle whose ``__reduce__`` writes a marker file is planted in each cache kind, in each metadata
file and in ir_datasets' docstore; the marker must never appear."""
from __future__ import annotations

import hashlib
import json
import logging
import pickle
import sqlite3
from pathlib import Path

import pandas as pd
import pyterrier as pt
import pytest

from transformers_ir.caching import CacheMismatch, EncoderCache, RetrieverCache, ScorerCache

pytestmark = pytest.mark.reliability


class Payload:
    """Unpickling this object writes ``marker``: what a crafted cache entry would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def evil(marker: Path) -> bytes:
    return pickle.dumps(Payload(marker))


class Scorer(pt.Transformer):
    def __init__(self):
        self.rows = 0

    def transform(self, inp):
        self.rows += len(inp)
        return pt.model.add_ranks(inp.assign(score=[float(len(t)) for t in inp["text"]]))

    def cache_key(self):
        return {"model": "length"}


class Retriever(pt.Transformer):
    def __init__(self):
        self.rows = 0

    def transform(self, topics):
        self.rows += len(topics)
        rows = [{"qid": t.qid, "query": t.query, "docno": f"d{i}", "score": float(10 - i)}
                for t in topics.itertuples() for i in range(3)]
        return pt.model.add_ranks(pd.DataFrame(rows))

    def cache_key(self):
        return {"model": "three"}


class Encoder(pt.Transformer):
    def __init__(self):
        self.rows = 0

    def transform(self, inp):
        self.rows += len(inp)
        return inp.assign(query_toks=[{w: 1.5 for w in q.split()} for q in inp["query"]])

    def cache_key(self):
        return {"model": "bag"}


TOPICS = pd.DataFrame({"qid": ["1", "2"], "query": ["cat dog", "fish"]})
RESULTS = pd.DataFrame({"qid": ["1", "1", "2"], "query": ["cat dog", "cat dog", "fish"], "docno": ["a", "b", "a"],
                        "text": ["x", "xyz", "xy"], "score": 0.0, "rank": 0})
KINDS = {
    "scores": (lambda path: ScorerCache(path, Scorer()), RESULTS),
    "results": (lambda path: RetrieverCache(path, Retriever()), TOPICS),
    "encodings": (lambda path: EncoderCache(path, Encoder()), TOPICS),
}


def _db(path: Path) -> Path:
    return path / "store" / "db.sqlite3"


def _plant(path: Path, value: bytes, *, fix_checksum: bool) -> int:
    with sqlite3.connect(_db(path)) as db:
        if fix_checksum:
            db.execute("UPDATE cache SET value = ?, checksum = ?", (value, hashlib.sha256(value).hexdigest()))
        else:
            db.execute("UPDATE cache SET value = ?", (value,))
        return db.execute("SELECT COUNT(*) FROM cache").fetchone()[0]


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    order = [c for c in ("qid", "docno") if c in a.columns]
    pd.testing.assert_frame_equal(a.sort_values(order).reset_index(drop=True),
                                  b.sort_values(order).reset_index(drop=True))


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fix_checksum", [True, False], ids=["checksum-rewritten", "checksum-kept"])
def test_a_planted_pickle_in_any_cache_kind_never_runs(tmp_path, kind, fix_checksum, caplog):
    make, inp = KINDS[kind]
    marker = tmp_path / "pwned"
    first = make(tmp_path / "c")(inp)
    planted = _plant(tmp_path / "c", evil(marker), fix_checksum=fix_checksum)
    cache = make(tmp_path / "c")
    with caplog.at_level(logging.WARNING):
        again = cache(inp)
    assert not marker.exists(), "reading the cache ran code"
    _same(first, again)  # every entry computed again, and the same
    assert cache.misses == planted and cache.hits == 0
    assert ("not a value this version wrote" if fix_checksum else "checksum differs") in caplog.text
    third = make(tmp_path / "c")
    third(inp)
    assert (third.hits, third.misses) == (planted, 0), "the recomputed entries replaced the planted ones"


def test_a_changed_score_is_recomputed_with_a_warning(tmp_path, caplog):
    ScorerCache(tmp_path / "c", Scorer())(RESULTS)
    with sqlite3.connect(_db(tmp_path / "c")) as db:
        db.execute("UPDATE cache SET value = ?", (b"1000.0",))  # a valid value of the codec, not the one computed
    cache = ScorerCache(tmp_path / "c", Scorer())
    with caplog.at_level(logging.WARNING):
        out = cache(RESULTS)
    assert "changed on disk" in caplog.text and cache.misses == 3
    assert out["score"].tolist() != [1000.0] * 3 and sorted(out["score"]) == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_planted_pickle_in_the_metadata_is_refused(tmp_path, kind):
    make, inp = KINDS[kind]
    marker = tmp_path / "pwned"
    make(tmp_path / "c")(inp)
    (tmp_path / "c" / "transformers_ir_cache.json").write_bytes(evil(marker))
    with pytest.raises(CacheMismatch, match="transformers_ir_cache.json is unreadable"):
        make(tmp_path / "c")
    assert not marker.exists()


def test_pickle_switched_on_in_the_store_description_is_ignored(tmp_path):
    """pyterrier-caching read ``"pickle": true`` from ``store/pt_meta.json`` and unpickled every score; no
    setting in a cache folder changes how values are read here."""
    marker = tmp_path / "pwned"
    first = ScorerCache(tmp_path / "c", Scorer())(RESULTS)
    meta = tmp_path / "c" / "store" / "pt_meta.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "pickle": True}))
    _plant(tmp_path / "c", evil(marker), fix_checksum=True)
    cache = ScorerCache(tmp_path / "c", Scorer())
    _same(first, cache(RESULTS))
    assert not marker.exists() and cache.misses == 3


def test_a_pyterrier_caching_folder_is_refused_unread(tmp_path):
    """A cache of the previous format (pyterrier-caching's pickled values) is refused by its format, not read."""
    marker = tmp_path / "pwned"
    ScorerCache(tmp_path / "c", Scorer())
    meta_file = tmp_path / "c" / "transformers_ir_cache.json"
    meta_file.write_text(json.dumps({**json.loads(meta_file.read_text()), "format": 1}))
    (tmp_path / "c" / "store" / "pt_meta.json").write_text(json.dumps({"type": "scorer_cache", "pickle": True}))
    with pytest.raises(CacheMismatch, match="cache format 1; this version reads format 2"):
        ScorerCache(tmp_path / "c", Scorer())
    assert not marker.exists()


def test_a_store_replaced_by_a_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    ScorerCache(tmp_path / "c", Scorer())(RESULTS)
    _db(tmp_path / "c").write_bytes(evil(marker))
    with pytest.raises(CacheMismatch, match="not a readable cache database"):
        ScorerCache(tmp_path / "c", Scorer())
    assert not marker.exists()


def test_a_planted_pickle_in_an_ir_datasets_docstore_never_runs(tmp_path):
    """ir_datasets keeps documents as pickled tuples in its cache; once our data layer is used, its docstores
    build plain values only."""
    from ir_datasets.formats import GenericDoc
    from ir_datasets.indices import lz4_pickle

    from transformers_ir.data._safe_docstore import protect_docstores
    from transformers_ir.errors import UnsafeDocstore

    protect_docstores()
    marker = tmp_path / "pwned"
    with open(tmp_path / "good.bin", "wb") as f:
        lz4_pickle._write_next(f, GenericDoc("d1", "plain text"))
    with open(tmp_path / "good.bin", "rb") as f:
        assert lz4_pickle._read_next(f, GenericDoc) == GenericDoc("d1", "plain text")
    with open(tmp_path / "evil.bin", "wb") as f:
        lz4_pickle._write_next(f, ("d1", Payload(marker)))
    with open(tmp_path / "evil.bin", "rb") as f, pytest.raises(UnsafeDocstore, match="docs.pklz4"):
        lz4_pickle._read_next(f, GenericDoc)
    assert not marker.exists()
