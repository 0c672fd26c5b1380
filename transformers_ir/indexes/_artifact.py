"""Index folders that are complete or absent, as PyTerrier artifacts.

An index is built in a temporary folder; PyTerrier's ``pt_meta.json`` (type, format, package hint) and the files'
sizes and checksums go in, the completion marker last, and the folder is renamed into place. So
``pt.Artifact.load(path)`` reopens any of our indexes as its class (entry points under ``pyterrier.artifact``),
``build_package()`` / ``pt.Artifact.from_url()`` and ``to_hf()`` / ``pt.Artifact.from_hf()`` move it between
machines, and a folder without the marker (an interrupted build) is never opened. This is stronger than
``pt.io.finalized_directory``, which renames a folder into place but leaves no record a reader can check: our
marker also lets :meth:`IndexArtifact.verify` find a file damaged after the build.
"""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pyterrier as pt

from transformers_ir._atomic import atomic_dir
from transformers_ir._identity import file_hash
from transformers_ir._jsonfile import read_json
from transformers_ir._quiet import engine_output
from transformers_ir._version import __version__
from transformers_ir.errors import CorruptIndex

MARKER = "transformers_ir.json"
#: PyTerrier's artifact metadata file (what ``pt.Artifact.load`` reads to find the class).
PT_META = "pt_meta.json"
#: The artifact type of every index here (PyTerrier's name for inverted indexes).
ARTIFACT_TYPE = "sparse_index"
#: Files up to this size also get a SHA-256 in the marker, checked on open; larger ones get their size checked.
CHECKSUM_MAX_BYTES = 8 << 20




def file_table(root: Path) -> dict[str, dict]:
    """``{relative path: {"size": bytes[, "sha256": hex]}}`` for every file under ``root`` but the marker."""
    table = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != MARKER):
        entry = {"size": path.stat().st_size}
        if entry["size"] <= CHECKSUM_MAX_BYTES:
            entry["sha256"] = file_hash(path)
        table[path.relative_to(root).as_posix()] = entry
    return table


def file_problems(root: Path, table: dict[str, dict]) -> list[str]:
    """How the files under ``root`` differ from ``table`` (missing, resized, changed); files added later, such as
    an engine's lazily built structures, are not problems."""
    problems = []
    for name, entry in table.items():
        path = root / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif (size := path.stat().st_size) != entry["size"]:
            problems.append(f"{name} is {size} bytes, {entry['size']} when built")
        elif "sha256" in entry and file_hash(path) != entry["sha256"]:
            problems.append(f"{name} changed since it was built (checksum differs)")
    return problems


class IndexArtifact(pt.Artifact):
    """Base of our index artifacts: a folder with a marker file written last, on success.

    A folder without the marker is an interrupted or foreign build: it is never opened as an index.
    Subclasses set :attr:`engine` and :attr:`ARTIFACT_FORMAT` (``"transformers-ir.<engine>"``, the name of their
    ``pyterrier.artifact`` entry point after ``sparse_index.``) and implement
    ``_build_into(tmp, docs, **settings) -> int`` (the number of documents indexed).

    Args:
        path: the index folder.
    """

    engine: str = ""
    ARTIFACT_TYPE = ARTIFACT_TYPE
    ARTIFACT_FORMAT = ""
    ARTIFACT_PACKAGE_HINT = "transformers-ir"

    def __init__(self, path: str | Path):
        super().__init__(Path(path))

    @property
    def metadata(self) -> dict:
        """The completion marker's content (engine, documents, settings, build time, files).

        Raises:
            FileNotFoundError: no complete index here.
        """
        try:
            return read_json(self.path / MARKER, fix="rebuild the index with .build(docs, overwrite=True), or delete "
                                                    "the folder")
        except FileNotFoundError:
            raise FileNotFoundError(
                f"no complete {self.engine} index at {self.path}: build it first with .build(docs)"
            ) from None

    def verify(self) -> dict:
        """The metadata, after checking every file against the sizes and checksums recorded at build time."""
        meta = self.metadata
        problems = file_problems(self.path, meta.get("files", {}))
        if problems:
            raise CorruptIndex(
                f"the {self.engine} index at {self.path} is damaged ({'; '.join(problems[:3])}): "
                f"rebuild it with .build(docs, overwrite=True), or delete the folder"
            )
        return meta

    @property
    def build_id(self) -> str:
        """What tells this build from any other at the same path (a rebuild, another corpus, other settings): the
        id recorded when it was built, or for indexes built before ids were recorded, the marker's SHA-256."""
        found = self.metadata.get("build_id")
        return found if isinstance(found, str) else file_hash(self.path / MARKER)

    def identity(self) -> dict:
        """The index as a part of a cache key: a retriever reading it is cached under its build, so a rebuilt
        index at the same path is never served the old one's cached results.

        Returns:
            ``{"index": <absolute path>, "engine": ..., "build": <build id>}``.
        """
        return {"index": str(self.path.resolve()), "engine": self.engine, "build": self.build_id}

    def built(self) -> bool:
        """Whether a complete index is here (its marker, written last, exists)."""
        return (self.path / MARKER).is_file()

    def incomplete(self) -> bool:
        """A folder is there but holds no marker: an interrupted build, never to be used."""
        return self.path.exists() and not self.built()

    def num_docs(self) -> int:
        """The number of documents indexed."""
        return int(self.metadata["num_docs"])

    def _build(self, docs, *, overwrite: bool, settings: dict) -> None:
        if self.built() and not overwrite:
            raise FileExistsError(
                f"an index already exists at {self.path}: open it as it is, or pass overwrite=True to rebuild it"
            )
        if self.incomplete() and not overwrite:
            raise FileExistsError(
                f"{self.path} holds an incomplete index (interrupted build, no {MARKER}): "
                f"pass overwrite=True to rebuild it, or delete the folder"
            )
        start = time.perf_counter()
        with atomic_dir(self.path, overwrite=overwrite or self.incomplete()) as tmp:
            with engine_output(f"{self.engine} index build of {self.path}"):  # PISA/Terrier log to fd 1 and 2
                num_docs = self._build_into(tmp, docs, **settings)
            self._write_pt_meta(tmp)
            meta = {
                "engine": self.engine,
                "build_id": uuid.uuid4().hex,  # a rebuild at the same path is another index: caches key on it
                "num_docs": num_docs,
                "build_seconds": round(time.perf_counter() - start, 3),
                "transformers_ir_version": __version__,
                **settings,
                "files": file_table(tmp),
            }
            (tmp / MARKER).write_text(json.dumps(meta, indent=2))

    def _write_pt_meta(self, folder: Path) -> None:
        """PyTerrier's ``pt_meta.json`` naming this class; what the engine wrote there is kept (pyterrier-pisa
        keeps its stemmer there and reads it back when it opens the index)."""
        file = folder / PT_META
        engine_meta = read_json(file, fix="rebuild the index") if file.is_file() else {}
        file.write_text(json.dumps({**engine_meta, "type": self.ARTIFACT_TYPE, "format": self.ARTIFACT_FORMAT,
                                    "package_hint": self.ARTIFACT_PACKAGE_HINT}) + "\n")

    def _build_into(self, tmp: Path, docs, **settings) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.path.resolve() == other.path.resolve()

    def __hash__(self) -> int:
        return hash((type(self).__name__, str(self.path.resolve())))
