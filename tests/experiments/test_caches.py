"""Caches keyed on model identity: refusal of another configuration, no half entries, hits on a second pass."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pyterrier as pt
import pytest
import torch

from transformers_ir.caching import (
    CacheMismatch,
    CacheWriteError,
    EncoderCache,
    RetrieverCache,
    ScorerCache,
    cache_key,
    weights_hash,
)

ROOT = Path(__file__).resolve().parents[2]


class LinearScorer(pt.Transformer):
    """A real (tiny) torch model as scorer: score = w . [len(query), len(text)]; counts the rows it scores."""

    def __init__(self, seed: int = 0, *, max_length: int = 16):
        torch.manual_seed(seed)
        self.model = torch.nn.Linear(2, 1)
        self.max_length = max_length
        self.scored = 0

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        self.scored += len(inp)
        feats = torch.tensor([[len(q[: self.max_length]), len(t[: self.max_length])]
                              for q, t in zip(inp["query"], inp["text"])], dtype=torch.float32)
        with torch.inference_mode():
            scores = self.model(feats).reshape(-1).tolist() if len(inp) else []
        return pt.model.add_ranks(inp.assign(score=scores))

    def __repr__(self) -> str:  # deliberately silent about the weights: the hash must tell them apart
        return f"LinearScorer(max_length={self.max_length})"


def candidates(n_queries: int = 3, n_docs: int = 4) -> pd.DataFrame:
    rows = [{"qid": str(q), "query": "query" + " word" * q, "docno": f"d{d}", "text": "text " * (d + 1),
             "score": 0.0, "rank": d} for q in range(n_queries) for d in range(n_docs)]
    return pd.DataFrame(rows)


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_second_pass_scores_nothing_and_returns_the_same(tmp_path):
    scorer = LinearScorer()
    first = ScorerCache(tmp_path / "c", scorer)(candidates())
    again = ScorerCache(tmp_path / "c", scorer)
    second = again(candidates())
    assert scorer.scored == 12 and (again.hits, again.misses) == (12, 0)
    pd.testing.assert_frame_equal(first.sort_values(["qid", "docno"]).reset_index(drop=True),
                                  second.sort_values(["qid", "docno"]).reset_index(drop=True), check_dtype=False)


def test_another_models_weights_are_refused(tmp_path):
    """Same class, same repr, same max length: only the weights differ, and the cache says so."""
    ScorerCache(tmp_path / "c", LinearScorer(seed=0))(candidates())
    before = snapshot(tmp_path / "c")
    with pytest.raises(CacheMismatch) as e:
        ScorerCache(tmp_path / "c", LinearScorer(seed=1))
    message = str(e.value)
    assert "another configuration" in message and "weights.model" in message
    assert "to start a new cache, give another path or delete" in message.lower()
    assert snapshot(tmp_path / "c") == before  # nothing overwritten


def test_another_max_length_is_refused(tmp_path):
    ScorerCache(tmp_path / "c", LinearScorer(max_length=16))
    with pytest.raises(CacheMismatch, match=r"repr: 'LinearScorer\(max_length=16\)' \(cache\) != "
                                            r"'LinearScorer\(max_length=8\)' \(now\)"):
        ScorerCache(tmp_path / "c", LinearScorer(max_length=8))


def test_older_format_and_foreign_folders_are_refused_untouched(tmp_path):
    ScorerCache(tmp_path / "old", LinearScorer())
    meta = tmp_path / "old" / "transformers_ir_cache.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "format": 0, "created_by": "transformers-ir 0.0.1"}))
    before = snapshot(tmp_path / "old")
    with pytest.raises(CacheMismatch, match=r"written by transformers-ir 0\.0\.1 in cache format 0; this version "
                                            r"reads format 2"):
        ScorerCache(tmp_path / "old", LinearScorer())
    assert snapshot(tmp_path / "old") == before

    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(CacheMismatch, match="not a complete transformers-ir cache"):
        ScorerCache(tmp_path / "foreign", LinearScorer())
    assert snapshot(tmp_path / "foreign") == {"notes.txt": b"mine"}

    ScorerCache(tmp_path / "kind", LinearScorer())
    with pytest.raises(CacheMismatch, match="holds a scores cache, not a encodings cache"):
        EncoderCache(tmp_path / "kind", LinearScorer(), config=cache_key(LinearScorer()))


def test_unidentifiable_transformer_needs_a_config(tmp_path):
    anonymous = pt.apply.score(lambda row: 1.0)
    with pytest.raises(ValueError, match=r"give config=\{\.\.\.\}"):
        ScorerCache(tmp_path / "c", anonymous)
    cache = ScorerCache(tmp_path / "c", anonymous, config={"name": "constant", "value": 1.0})
    assert cache(candidates())["score"].eq(1.0).all()


def test_interrupted_creation_is_never_opened(tmp_path):
    """A creation killed before its metadata was written leaves a .tmp- sibling, never the cache folder."""
    stale = tmp_path / ".tmp-c-999-deadbeef"
    (stale / "store").mkdir(parents=True)
    cache = ScorerCache(tmp_path / "c", LinearScorer())
    assert not stale.exists() and (tmp_path / "c" / "transformers_ir_cache.json").is_file()
    assert cache(candidates()).shape[0] == 12 and cache.misses == 12


def test_scorer_failing_part_way_keeps_nothing(tmp_path):
    class Flaky(LinearScorer):
        broken = True

        def transform(self, inp):
            if Flaky.broken:
                raise RuntimeError("out of memory")
            return super().transform(inp)

    with pytest.raises(RuntimeError, match="out of memory"):
        ScorerCache(tmp_path / "c", Flaky())(candidates())
    Flaky.broken = False
    cache = ScorerCache(tmp_path / "c", Flaky())
    cache(candidates())
    assert (cache.hits, cache.misses) == (0, 12)


def test_killed_write_is_never_read_back(tmp_path):
    """A process killed between writing the entries and committing them: the next run finds no entry."""
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(Path(__file__).parents[1])!r})
        from {__name__} import LinearScorer, candidates
        from transformers_ir.caching import ScorerCache

        cache = ScorerCache({str(tmp_path / 'c')!r}, LinearScorer())
        db = cache.store.db

        class DiesOnCommit:  # the rows are inserted; the process dies before the transaction commits
            def __getattr__(self, name):
                return getattr(db, name)

            def commit(self):
                os._exit(9)

        cache.store.db = DiesOnCommit()
        cache(candidates())
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 9, proc.stderr[-2000:]
    cache = ScorerCache(tmp_path / "c", LinearScorer())
    cache(candidates())
    assert (cache.hits, cache.misses) == (0, 12)  # every row scored again: no half entry served


def test_disk_full_is_a_clear_error_and_keeps_nothing(tmp_path):
    cache = ScorerCache(tmp_path / "c", LinearScorer())
    with cache.store._cursor() as cursor:  # a database that cannot grow: what a full disk looks like to SQLite
        cursor.execute("PRAGMA page_count")
        cursor.execute(f"PRAGMA max_page_count = {cursor.fetchone()[0]}")
    big = candidates(n_queries=40, n_docs=25).assign(query=lambda f: f["query"] + " " + "x" * 2000)
    with pytest.raises(CacheWriteError, match=r"could not be used \(database or disk is full\).*--no-cache"):
        cache(big)
    cache.close()
    reopened = ScorerCache(tmp_path / "c", LinearScorer())
    reopened(big.head(5))
    assert reopened.hits == 0


def test_empty_and_duplicate_rows(tmp_path):
    cache = ScorerCache(tmp_path / "c", LinearScorer())
    empty = cache(candidates().iloc[:0])
    assert len(empty) == 0 and {"qid", "docno", "score", "rank"} <= set(empty.columns)
    doubled = pd.concat([candidates(), candidates().assign(qid=lambda f: f["qid"] + "-copy")])
    out = cache(doubled)  # the same (query text, docno) under two qids: scored once, served to both
    assert len(out) == 24 and cache.misses == 12 and cache.hits == 0
    assert out.groupby("docno")["score"].nunique().eq(3).all()


class WordRetriever(pt.Transformer):
    """Documents sharing a word with the query, scored by the count; counts the queries it retrieves for."""

    docs = {"d1": "cell protein", "d2": "protein gene cancer", "d3": "heart blood"}

    def __init__(self):
        self.queries = 0

    def transform(self, topics):
        self.queries += len(topics)
        rows = [{"qid": t.qid, "query": t.query, "docno": d, "score": float(len(set(t.query.split()) & set(x.split())))}
                for t in topics.itertuples() for d, x in self.docs.items() if set(t.query.split()) & set(x.split())]
        frame = pd.DataFrame(rows, columns=["qid", "query", "docno", "score"])
        return pt.model.add_ranks(frame)

    def __repr__(self):
        return "WordRetriever()"


def test_retriever_cache_round_trip(tmp_path):
    topics = pd.DataFrame({"qid": ["1", "2", "3"], "query": ["protein", "heart attack", "nothing matches"]})
    retriever = WordRetriever()
    first = RetrieverCache(tmp_path / "r", retriever)(topics)
    again = RetrieverCache(tmp_path / "r", retriever)
    second = again(topics)
    assert retriever.queries == 3 and (again.hits, again.misses) == (3, 0)
    pd.testing.assert_frame_equal(first.reset_index(drop=True), second.reset_index(drop=True))
    assert set(second["qid"]) == {"1", "2"}  # the query without results stays without results
    assert list(again(topics.iloc[:0]).columns) == ["qid", "query", "docno", "score", "rank"]


def test_encoder_cache(tmp_path):
    class Encoder(pt.Transformer):
        calls = 0

        def transform(self, inp):
            Encoder.calls += len(inp)
            return inp.assign(query_toks=[{w: 1.0 for w in q.split()} for q in inp["query"]])

        def cache_key(self):
            return {"model": "bag-of-words", "weights": "none"}

    topics = pd.DataFrame({"qid": ["1", "2", "3"], "query": ["a b", "c", "a b"]})
    first = EncoderCache(tmp_path / "e", Encoder())(topics)
    second = EncoderCache(tmp_path / "e", Encoder())(topics)
    assert Encoder.calls == 2  # "a b" encoded once, and nothing the second time
    assert first["query_toks"].tolist() == second["query_toks"].tolist() == [{"a": 1.0, "b": 1.0}, {"c": 1.0},
                                                                              {"a": 1.0, "b": 1.0}]


def test_weights_hash_follows_the_weights(tmp_path):
    model = torch.nn.Linear(2, 1)
    before = weights_hash(model)
    assert weights_hash(model) == before
    with torch.no_grad():
        model.weight.add_(1.0)  # an in-place update (what an optimiser step does)
    assert weights_hash(model) != before
    (tmp_path / "model.safetensors").write_bytes(b"weights-1")
    (tmp_path / "tokenizer.json").write_text("{}")
    first = weights_hash(tmp_path)
    (tmp_path / "tokenizer.json").write_text('{"changed": true}')
    assert weights_hash(tmp_path) == first  # the tokenizer is not the weights
    (tmp_path / "model.safetensors").write_bytes(b"weights-2")
    assert weights_hash(tmp_path) != first
    with pytest.raises(FileNotFoundError, match="holds no weights"):
        weights_hash(tmp_path / "nowhere")


def test_a_second_cross_encoder_is_refused(tmp_path, tiny_classifier_path):
    """Two cross-encoders of one architecture, one tokenizer and one name: only the weights differ."""
    import tiny_models

    from transformers_ir.cross_encoders import CrossEncoder

    other = tiny_models.bert_classifier(tmp_path / "other", seed=1)
    first = CrossEncoder.from_pretrained(str(tiny_classifier_path))
    ScorerCache(tmp_path / "c", first)(candidates())
    before = snapshot(tmp_path / "c")
    second = CrossEncoder.from_pretrained(str(other))
    second.name = first.name  # same name: the cache must not trust it
    with pytest.raises(CacheMismatch, match=r"another configuration:\n(.*\n)?  weights: '[0-9a-f]{64}' \(cache\) != "
                                            r"'[0-9a-f]{64}' \(now\)"):
        ScorerCache(tmp_path / "c", second)
    # max_length is capped at the tiny model's 128 positions: 512 asked and 128 asked score the same
    with pytest.raises(CacheMismatch, match=r"max_length: 128 \(cache\) != 100 \(now\)"):
        ScorerCache(tmp_path / "c", CrossEncoder.from_pretrained(str(tiny_classifier_path), max_length=100))
    assert snapshot(tmp_path / "c") == before
    # what does not change the scores does not split the cache
    again = ScorerCache(tmp_path / "c", CrossEncoder.from_pretrained(str(tiny_classifier_path), batch_size=3,
                                                                     verbose=True))
    again(candidates())
    assert (again.hits, again.misses) == (12, 0)
