"""Indexes are PyTerrier artifacts: each kind writes ``pt_meta.json``, ``pt.Artifact.load(path)`` reopens it as its
class, and ``build_package()`` / ``pt.Artifact.from_url()`` carry it to another folder intact."""
from __future__ import annotations

import functools
import http.server
import json
import threading

import pandas as pd
import pyterrier as pt
import pytest

from transformers_ir.indexes import (
    CorruptIndex,
    ExactSparseIndex,
    IndexArtifact,
    PisaIndex,
    PisaSparseIndex,
    SeismicSparseIndex,
    TerrierIndex,
    TerrierSparseIndex,
    sparse_index,
)

TEXT_DOCS = [
    {"docno": "d1", "text": "the cat sat on the mat"},
    {"docno": "d2", "text": "dogs chase cats in the park"},
    {"docno": "d3", "text": "stock markets fell sharply today"},
]
TOKS_DOCS = [
    {"docno": "d1", "toks": {"cat": 1.5, "mat": 0.5}},
    {"docno": "d2", "toks": {"dog": 1.25, "cat": 0.75, "park": 0.5}},
    {"docno": "d3", "toks": {"stock": 2.0, "market": 1.0}},
]
TOPICS = pd.DataFrame({"qid": ["q1", "q2"], "query": ["cat", "markets"]})
QUERY_TOKS = pd.DataFrame({"qid": ["q1", "q2"], "query_toks": [{"cat": 1.0}, {"market": 0.5, "dog": 0.25}]})


def _entry_point(fmt: str) -> bool:
    """Whether ``pt.Artifact.load`` can find the class of this format (installed extra and entry point)."""
    import importlib.metadata
    import importlib.util

    names = {e.name for e in importlib.metadata.entry_points(group="pyterrier.artifact")}
    return importlib.util.find_spec("seismic") is not None and f"sparse_index.{fmt}" in names


def _text(path, cls):
    return cls(path).build(iter(TEXT_DOCS))


def _sparse(engine):
    def build(path, cls):
        index = sparse_index(path, engine)
        assert type(index) is cls
        return index.indexer().index(iter(TOKS_DOCS))
    return build


KINDS = [
    pytest.param(PisaIndex, _text, "transformers-ir.pisa", id="pisa"),
    pytest.param(TerrierIndex, _text, "transformers-ir.terrier", id="terrier", marks=pytest.mark.java),
    pytest.param(PisaSparseIndex, _sparse("pisa"), "transformers-ir.splade-pisa", id="splade-pisa"),
    pytest.param(TerrierSparseIndex, _sparse("terrier"), "transformers-ir.splade-terrier", id="splade-terrier",
                 marks=pytest.mark.java),
    pytest.param(ExactSparseIndex, _sparse("exact"), "transformers-ir.splade-exact", id="splade-exact"),
    pytest.param(SeismicSparseIndex, _sparse("seismic"), "transformers-ir.splade-seismic", id="splade-seismic",
                 marks=pytest.mark.skipif(not _entry_point("transformers-ir.splade-seismic"),
                                          reason="needs the [seismic] extra and pip install -e . (entry point)")),
]


def _search(index):
    if isinstance(index, (PisaIndex, TerrierIndex)):
        return index.bm25()(TOPICS)[["qid", "docno", "score"]]
    return index.retriever()(QUERY_TOKS)[["qid", "docno", "score"]]


@pytest.mark.parametrize("cls, build, fmt", KINDS)
def test_pt_artifact_load_reopens_each_kind_as_its_class(tmp_path, cls, build, fmt):
    index = build(tmp_path / "index", cls)
    meta = json.loads((tmp_path / "index" / "pt_meta.json").read_text())
    assert (meta["type"], meta["format"], meta["package_hint"]) == ("sparse_index", fmt, "transformers-ir")
    assert pt.inspect.artifact_type_format(index) == ("sparse_index", fmt)
    reopened = pt.Artifact.load(str(tmp_path / "index"))
    assert type(reopened) is cls and isinstance(reopened, (IndexArtifact, pt.Artifact))
    assert reopened == index
    pd.testing.assert_frame_equal(_search(reopened), _search(index))


def test_pisa_keeps_pyterrier_pisas_own_metadata(tmp_path):
    """pyterrier-pisa reads its stemmer back from pt_meta.json: ours names our class and keeps the engine's keys."""
    _text(tmp_path / "index", PisaIndex)
    meta = json.loads((tmp_path / "index" / "pt_meta.json").read_text())
    assert meta["stemmer"] == "porter2"


def test_an_incomplete_folder_is_not_an_index(tmp_path):
    index = PisaIndex(tmp_path / "index")
    (tmp_path / "index").mkdir()
    assert index.incomplete() and not index.built()
    with pytest.raises(FileNotFoundError, match="no complete pisa index"):
        index.bm25()


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A folder served over HTTP on localhost (PyTerrier 1.1's from_url reads http(s) URLs; a file:// URL or a
    local path is taken as an artifact folder, not a package), with PyTerrier's artifact cache in tmp_path."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("PYTERRIER_HOME", str(tmp_path / "pyterrier-home"))
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


@pytest.mark.parametrize("cls, build, fmt", [k for k in KINDS if "java" not in str(k.marks)])
def test_build_package_and_from_url_round_trip(tmp_path, served, cls, build, fmt):
    root, url = served
    index = build(tmp_path / "index", cls)
    metadata: dict = {}
    package = index.build_package(str(root / "index.tar.lz4"), metadata_out=metadata, verbose=False)
    assert metadata["format"] == fmt and (root / "index.tar.lz4.json").is_file()
    copy = pt.Artifact.from_url(f"{url}/index.tar.lz4")
    assert type(copy) is cls and copy.path != index.path and package.endswith(".tar.lz4")
    copy.verify()  # every file's size and checksum as recorded when it was built
    pd.testing.assert_frame_equal(_search(copy), _search(index))


def test_a_damaged_copy_is_refused(tmp_path):
    index = _sparse("exact")(tmp_path / "index", ExactSparseIndex)
    (tmp_path / "index" / "docnos.json").write_text('["d3", "d2", "d1"]')
    with pytest.raises(CorruptIndex, match="docnos.json changed since it was built"):
        pt.Artifact.load(str(tmp_path / "index")).retriever()
    assert index.built()
