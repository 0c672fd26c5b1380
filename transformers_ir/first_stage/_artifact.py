"""Index folders that are complete or absent: built under a temporary name, marked, then renamed into place."""
from __future__ import annotations

import json
import time
from pathlib import Path

from transformers_ir import __version__
from transformers_ir._atomic import atomic_dir

MARKER = "transformers_ir.json"


class IndexArtifact:
    """Base of our index artifacts: a folder with a marker file written last, on success.

    A folder without the marker is an interrupted or foreign build: it is never opened as an index.
    Subclasses implement ``_build_into(tmp, docs, **settings) -> int`` (the number of documents indexed).
    """

    engine: str = ""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def metadata(self) -> dict:
        try:
            return json.loads((self.path / MARKER).read_text())
        except FileNotFoundError:
            raise FileNotFoundError(
                f"no complete {self.engine} index at {self.path}: build it first with .build(docs)"
            ) from None

    def built(self) -> bool:
        return (self.path / MARKER).is_file()

    def incomplete(self) -> bool:
        """A folder is there but holds no marker: an interrupted build, never to be used."""
        return self.path.exists() and not self.built()

    def num_docs(self) -> int:
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
            num_docs = self._build_into(tmp, docs, **settings)
            meta = {
                "engine": self.engine,
                "num_docs": num_docs,
                "build_seconds": round(time.perf_counter() - start, 3),
                "transformers_ir_version": __version__,
                **settings,
            }
            (tmp / MARKER).write_text(json.dumps(meta, indent=2))

    def _build_into(self, tmp: Path, docs, **settings) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.path.resolve() == other.path.resolve()

    def __hash__(self) -> int:
        return hash((type(self).__name__, str(self.path.resolve())))
