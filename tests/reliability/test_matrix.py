"""The bad-input matrix: every case against every public transformer of its role (``components.FACTORIES``).

Each case gives either a correct result (checked: columns, finite scores, the same pairs out as in, ranks by score
then docno) or an error naming the problem (``match``) raised by transformers-ir or PyTerrier's validation,
never a traceback from deep inside a library. ``MATRIX_OUT=matrix.md`` writes the matrix (see conftest).
"""
from __future__ import annotations

import pickle
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from reliability.components import DOCS, FACTORIES, FUSION_QUERIES, by_role
from reliability.file_cases import PIPELINE, PIPELINE_CASES, TRAINING, TRAINING_CASES
from transformers_ir._ranking import rank_results

pytestmark = pytest.mark.reliability

OK, ERROR, EITHER = "ok", "error", "ok or error"
UNICODE = "café naïve 🐱 cat 🐶 \u202eשלום\u202c مرحبا cat"
CONTROL = "cat\x00\x07\x1b[31m dog\x7f"
SYNTAX = ['"cat"', "title:cat", "cat^2", "+cat -dog", "(cat mat)", "cat?", "cat's \\ [mat] {x} ~1 !dog*"]
LONG = " ".join(["cat dog mat park"] * 2500)


@dataclass(frozen=True)
class Case:
    name: str
    roles: tuple[str, ...]
    make: Callable[[str], object]  # role -> input (topics frame, result frame or documents)
    expect: str | dict = OK  # OK, ERROR, EITHER, or {factory name: ..., "*": default}
    match: str = ""  # what an error must say (the problem)
    retrieves: bool = False  # a retriever must find something for every query

    def expected(self, factory: str) -> str:
        return self.expect.get(factory, self.expect["*"]) if isinstance(self.expect, dict) else self.expect


def topics(queries, qids=None) -> pd.DataFrame:
    # object columns: pandas 3 with pyarrow installed stores strings as Arrow, which cannot hold a lone surrogate
    return pd.DataFrame({"qid": qids or [f"q{i}" for i in range(len(queries))],
                         "query": pd.Series(queries, dtype=object)})


def results(texts, query="cat on a mat", docnos=None, qid="q1") -> pd.DataFrame:
    docnos = docnos or [f"d{i}" for i in range(len(texts))]
    return pd.DataFrame({"qid": qid, "query": query, "docno": docnos, "text": pd.Series(texts, dtype=object),
                         "score": 0.0, "rank": 0})


def docs(*extra: dict) -> list[dict]:
    return [dict(d) for d in DOCS] + list(extra)


def run_of(rows) -> pd.DataFrame:
    """A result frame of (qid, docno, score) rows, as a system would give fusion."""
    frame = pd.DataFrame(rows, columns=["qid", "docno", "score"]).astype({"score": "float64"})
    return frame.astype({"qid": object, "docno": object})


def _broken_source():
    yield from DOCS[:3]
    raise RuntimeError("source broke")


def _by_role(**inputs):
    """A case input depending on the role (retriever/query-encoder: topics; reranker: results; ...)."""
    aliases = {"query-encoder": "retriever", "doc-encoder": "indexer"}

    def make(role):
        value = inputs.get(role, inputs.get(aliases.get(role, role)))
        return value() if callable(value) else value

    return make


Q, R, IDX = ("retriever", "query-encoder"), ("reranker",), ("indexer", "doc-encoder")
QR, ALL = Q + R, Q + R + IDX
#: First stages refuse a missing query or document text; models may read it as empty text.
MISSING_TEXT = {"*": EITHER, **{f.name: ERROR for f in FACTORIES if f.role in ("indexer", "retriever")}}

CASES = [
    # columns and types
    Case("missing-query-column", QR, _by_role(retriever=pd.DataFrame({"qid": ["q1"]}),
                                             reranker=lambda: results(["x"]).drop(columns="query")),
         ERROR, "query"),
    Case("missing-text-column", R + IDX, _by_role(reranker=lambda: results(["x"]).drop(columns="text"),
                                                               indexer=[{"docno": "d1"}]),
         ERROR, "text"),
    Case("numeric-qid-docno", ALL, _by_role(retriever=pd.DataFrame({"qid": [1, 2], "query": ["cat", "dog"]}),
                                            reranker=lambda: results(["cat", "dog"]).assign(qid=1, docno=[7, 8]),
                                            indexer=lambda: docs({"docno": 7, "text": "cat"})),
         EITHER, "str"),
    Case("empty-frame", QR + ("doc-encoder",), _by_role(retriever=topics([]), reranker=lambda: results([]).iloc[:0],
                                                        indexer=[])),
    Case("empty-corpus", ("indexer",), _by_role(indexer=[]), ERROR, "empty"),
    # text contents
    Case("empty-text", ALL, _by_role(retriever=topics(["", "cat"]), reranker=lambda: results(["", "cat"], query=""),
                                     indexer=lambda: docs({"docno": "e", "text": ""}))),
    Case("whitespace-text", ALL, _by_role(retriever=topics([" \t\n ", "cat"]),
                                          reranker=lambda: results([" \n\t", "cat"], query="  "),
                                          indexer=lambda: docs({"docno": "e", "text": " \n\t "}))),
    Case("very-long-text", ALL, _by_role(retriever=topics([LONG]), reranker=lambda: results([LONG, "cat"], query=LONG),
                                         indexer=lambda: docs({"docno": "long", "text": LONG * 20})),
         retrieves=True),
    Case("none-text", ALL, _by_role(retriever=topics([None, "cat"]), reranker=lambda: results([None, "cat"]),
                                    indexer=lambda: docs({"docno": "n", "text": None})),
         MISSING_TEXT, "missing"),
    Case("nan-text", ALL, _by_role(retriever=topics([np.nan, "cat"]), reranker=lambda: results([np.nan, "cat"]),
                                   indexer=lambda: docs({"docno": "n", "text": np.nan})),
         MISSING_TEXT, "missing"),
    Case("numeric-text", IDX, _by_role(indexer=lambda: docs({"docno": "n", "text": 12345})), EITHER, "int"),
    Case("unicode-emoji-rtl", ALL, _by_role(retriever=topics([UNICODE]), reranker=lambda: results([UNICODE, "x"],
                                                                                                  query=UNICODE),
                                            indexer=lambda: docs({"docno": "u🐱é", "text": UNICODE})),
         retrieves=True),
    Case("control-characters", ALL, _by_role(retriever=topics([CONTROL]), reranker=lambda: results([CONTROL],
                                                                                                   query=CONTROL),
                                             indexer=lambda: docs({"docno": "c", "text": CONTROL})),
         retrieves=True),
    Case("lone-surrogate", ALL, _by_role(retriever=topics(["\ud800 cat"]), reranker=lambda: results(["\ud800 cat"]),
                                         indexer=lambda: docs({"docno": "s", "text": "\ud800 cat"})),
         {"*": EITHER, "pisa-index": ERROR, "terrier-index": ERROR}, "Unicode"),
    Case("query-syntax", QR, _by_role(retriever=topics(SYNTAX), reranker=lambda: results(["cat"] * len(SYNTAX),
                                                                                         query=SYNTAX)),
         retrieves=True),
    # rows
    Case("duplicate-qid", Q, _by_role(retriever=topics(["cat", "dog"], qids=["q1", "q1"])), EITHER, "q1"),
    Case("duplicate-pairs", R, _by_role(reranker=lambda: results(["cat", "cat", "dog"], docnos=["a", "a", "b"])),
         EITHER, "duplicate"),
    Case("tied-identical-docs", R, _by_role(reranker=lambda: results(["same text"] * 4, docnos=["z", "b", "y", "a"]))),
    Case("duplicate-docno", ("indexer",), _by_role(indexer=lambda: docs({"docno": "d2", "text": "again"})), ERROR,
         "duplicate docno 'd2'"),
    Case("docno-with-space", IDX, _by_role(indexer=lambda: docs({"docno": "a b", "text": "cat"})),
         {"*": EITHER, "pisa-index": ERROR}, "white space"),
    Case("long-docno-not-first", IDX, _by_role(indexer=lambda: docs({"docno": "x" * 80, "text": "cat"})),
         {"*": EITHER, "terrier-index": ERROR}, "longer"),
    Case("missing-docno", ("indexer",), _by_role(indexer=lambda: docs({"text": "cat"})), ERROR, "docno"),
    Case("source-fails-partway", ("indexer",), _by_role(indexer=_broken_source), ERROR, "source broke"),
    # docnos an engine would alter (Terrier strips the ends, merging 'd2 ' with 'd2') or abort on (PISA)
    Case("docno-trailing-space", IDX, _by_role(indexer=lambda: docs({"docno": "d2 ", "text": "cat"})),
         {"*": EITHER, "pisa-index": ERROR, "terrier-index": ERROR}, "white space"),
    Case("docno-control-character", IDX, _by_role(indexer=lambda: docs({"docno": "d\x01x", "text": "cat"})),
         {"*": EITHER, "pisa-index": ERROR, "terrier-index": ERROR}, "control characters"),
    Case("docno-nul", IDX, _by_role(indexer=lambda: docs({"docno": "d\x00x", "text": "cat"})),
         {"*": EITHER, "pisa-index": ERROR, "terrier-index": ERROR}, "control characters"),
    Case("docno-lone-surrogate", IDX, _by_role(indexer=lambda: docs({"docno": "d\ud800", "text": "cat"})),
         {"*": EITHER, "pisa-index": ERROR, "terrier-index": ERROR}, "not valid Unicode"),
    # fusion's inputs: duplicate pairs would count twice, NaN would become 0, int qids would never meet str ones
    Case("fusion-duplicate-pairs", ("fusion",), _by_role(fusion=lambda: [
        run_of([("q1", "a", 2.0), ("q1", "a", 1.0)]), run_of([("q1", "a", 1.0)])]), ERROR, "more than once"),
    Case("fusion-nan-scores", ("fusion",), _by_role(fusion=lambda: [
        run_of([("q1", "a", float("nan")), ("q1", "b", 1.0)]), run_of([("q1", "a", 1.0)])]), ERROR, "NaN"),
    Case("fusion-infinite-scores", ("fusion",), _by_role(fusion=lambda: [
        run_of([("q1", "a", float("inf"))]), run_of([("q1", "a", 1.0)])]), ERROR, "infinite"),
    Case("fusion-mixed-qid-types", ("fusion",), _by_role(fusion=lambda: [
        run_of([("q1", "a", 1.0)]), run_of([(1, "a", 1.0)])]), ERROR, "not str"),
    Case("fusion-numeric-docnos", ("fusion",), _by_role(fusion=lambda: [
        run_of([("q1", 7, 1.0)]), run_of([("q1", "7", 1.0)])]), ERROR, "not str"),
    Case("fusion-missing-score", ("fusion",), _by_role(fusion=lambda: [
        run_of([("q1", "a", 1.0)]).drop(columns="score"), run_of([("q1", "a", 1.0)])]), ERROR, "score"),
    Case("fusion-tied-scores", ("fusion",), _by_role(fusion=lambda: [
        run_of([("q1", d, 1.0) for d in "zyxa"]), run_of([("q1", d, 1.0) for d in "azyx"])])),
    Case("fusion-one-run-empty", ("fusion",), _by_role(fusion=lambda: [
        run_of([("q1", "a", 1.0), ("q2", "b", 0.5)]), run_of([])])),
    # corrupt JSON we wrote and read back: an error naming the file, never a bare JSONDecodeError
    *[Case(f"stored-json-{name}", ("stored-file",), _by_role(**{"stored-file": lambda c=corrupt: c}), ERROR,
           r"\.json.*(corrupt|unreadable|holds a)")
      for name, corrupt in {"truncated": lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
                            "empty": lambda p: p.write_bytes(b""),
                            "not-utf8": lambda p: p.write_bytes(b"\xff\xfe{"),
                            "a-pickle": lambda p: p.write_bytes(pickle.dumps({"format": 2})),
                            "a-list": lambda p: p.write_text("[1, 2]")}.items()],
    # pipeline files and training configs (tests/reliability/file_cases.py): refused where they are parsed
    *[Case(f"pipeline-file-{c.name}", ("pipeline-file",), _by_role(**{"pipeline-file": c.text(PIPELINE)}),
           OK if c.ok else ERROR, c.match) for c in PIPELINE_CASES],
    *[Case(f"training-file-{c.name}", ("training-file",), _by_role(**{"training-file": c.text(TRAINING)}),
           OK if c.ok else ERROR, c.match) for c in TRAINING_CASES],
]

# --- running one cell -------------------------------------------------------------------------------------------

# our code, PyTerrier's validation, or the user's own code (a document source that fails is re-raised as it is)
_OURS = re.compile(r"/transformers_ir/|/pyterrier(_alpha)?/validate\.py|/tests/")


def raised_clearly(error: BaseException) -> str | None:
    """Why ``error`` is not a clear error, or None: it must be raised by our code or PyTerrier's validation."""
    frames = traceback.extract_tb(error.__traceback__)
    origin = frames[-1].filename if frames else "?"
    if not _OURS.search(origin):
        return f"{type(error).__name__} raised inside {origin}: {error}"
    if isinstance(error, (AssertionError, AttributeError, IndexError, SystemError, ZeroDivisionError)):
        return f"{type(error).__name__} is a bug, not a user error: {error}"
    return None


def _run(factory, transformer, role: str, data, tmp_path):
    if role in ("pipeline-file", "training-file", "stored-file"):
        return transformer(data, tmp_path)
    if role == "indexer":
        return transformer(data() if callable(data) else iter(data), tmp_path / "idx")
    if role == "doc-encoder":
        return transformer(pd.DataFrame(list(data), columns=None if data else ["docno", "text"], dtype=object))
    return transformer(data)


def check_result(role: str, inp, out, case: Case, tmp_path) -> None:
    """What a correct result is, per role."""
    if role == "indexer":
        docs_in = list(inp)
        assert out.num_docs() == len(docs_in)
        return
    if role in ("query-encoder", "doc-encoder"):
        column = "query_toks" if role == "query-encoder" else "toks"
        assert len(out) == len(inp) and (len(out) == 0 or column in out.columns)
        for toks in out.get(column, []):
            weights = np.array(list(toks.values()), dtype="float64")
            assert np.isfinite(weights).all() and (weights >= 0).all()
        return
    if role in ("pipeline-file", "training-file", "stored-file"):
        return  # parsed or opened: nothing more to check
    assert {"qid", "docno", "score", "rank"} <= set(out.columns), out.columns
    scores = pd.to_numeric(out["score"]).to_numpy(dtype="float64")
    assert np.isfinite(scores).all(), "scores must be finite"
    if role == "fusion":
        assert set(out["qid"]) <= set(FUSION_QUERIES) and not out.duplicated(["qid", "docno"]).any()
        pd.testing.assert_frame_equal(out.reset_index(drop=True), rank_results(out.drop(columns="rank")),
                                      check_like=True)
        return
    if role == "retriever":
        assert set(out["qid"]) <= set(inp["qid"])
        if case.retrieves:
            assert set(out["qid"]) == set(inp["qid"]), f"queries retrieved nothing: {set(inp['qid']) - set(out['qid'])}"
        return
    pairs = lambda f: sorted(zip(f["qid"].astype(str), f["docno"].astype(str)))  # noqa: E731
    assert pairs(out) == pairs(inp), "a re-ranker returns exactly its input pairs"
    ranked = rank_results(out.drop(columns="rank"))
    merged = out.merge(ranked[["qid", "docno", "rank"]].drop_duplicates(["qid", "docno"]), on=["qid", "docno"])
    if not out.duplicated(["qid", "docno"]).any():
        assert (merged["rank_x"] == merged["rank_y"]).all(), "rank must follow score, ties by docno, from 0"


def run_cell(factory, case: Case, get, tmp_path) -> str:
    """Run one case against one component; the outcome ('ok' or 'error: ...'), after checking it."""
    role = factory.role
    transformer = factory.build(get)
    data = case.make(role)
    expected = case.expected(factory.name)
    try:
        out = _run(factory, transformer, role, data, tmp_path)
    except Exception as e:  # noqa: BLE001 - every exception is judged below
        problem = raised_clearly(e)
        assert problem is None, problem
        assert expected != OK, f"expected a result, got {type(e).__name__}: {e}"
        assert re.search(case.match, str(e), re.IGNORECASE), f"the error does not name the problem: {e}"
        if role == "indexer":
            assert not (tmp_path / "idx").exists(), "a failed build left an index folder"
        return f"error: {str(e).splitlines()[0][:90]}"
    assert expected != ERROR, f"expected an error naming {case.match!r}, got a result"
    check_result(role, data() if callable(data) else data, out, case, tmp_path)
    return "ok"


CELLS = [pytest.param(f.values[0], c, id=f"{f.id}-{c.name}", marks=f.marks)
         for c in CASES for f in by_role(*c.roles)]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("factory, case", CELLS)
def test_bad_input(factory, case, request, tmp_path):
    request.node.user_properties.append(("matrix_cell", (case.name, factory.name)))
    outcome = run_cell(factory, case, request.getfixturevalue, tmp_path)
    request.node.user_properties.append(("outcome", "ok" if outcome == "ok" else "error (named)"))


def test_every_case_runs_somewhere():
    assert all(by_role(*c.roles) for c in CASES)
    assert len({c.name for c in CASES}) == len(CASES)
