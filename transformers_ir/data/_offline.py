"""Fill ir_datasets' cache from an offline data folder, so ``pt.get_dataset('irds:...')`` needs no network.

The data folder has the layout of ``../shared/data`` (see its README). For each collection we write the files
ir_datasets would otherwise download and extract, in exactly the layout its dataset modules read:

* ``vaswani``: the TREC files are converted to the raw NPL layout (``docs.txt``, ``queries.txt``, ``qrels.txt``);
* ``cranfield``: ``cran.all.1400`` / ``cran.qry`` / ``cranqrel`` are copied as ``docs.txt`` / ``queries.txt`` /
  ``qrels.txt``;
* ``beir/scifact``: ``scifact.zip`` is copied to ``beir/scifact/source.zip`` (serves ``/test`` and ``/train``).

Files are written under a temporary name and renamed, so an interrupted run never leaves a half file that
ir_datasets would take as complete. Existing files are left alone.
"""
from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from transformers_ir import _paths
from transformers_ir._atomic import atomic_file


@dataclass(frozen=True)
class OfflineCollection:
    """One collection: the files it needs in the data folder, and the cache files it writes."""

    irds_prefix: str
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    write: Callable[[Path, Path], None]

    def available(self, data_dir: Path | None) -> bool:
        return data_dir is not None and all((data_dir / s).is_file() for s in self.sources)

    def prepared(self, home: Path) -> bool:
        return all((home / t).is_file() for t in self.targets)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="strict")


def _write_vaswani(data: Path, out: Path) -> None:
    docs = _read(data / "vaswani" / "doc-text.trec")
    with atomic_file(out / "docs.txt", encoding="utf-8", newline="") as f:
        for m in re.finditer(r"<DOC>\n<DOCNO>(.*?)</DOCNO>\n(.*?)</DOC>", docs, flags=re.S):
            f.write(f"{m.group(1).strip()}\n{m.group(2)}   /\n")
    queries = _read(data / "vaswani" / "query-text.trec")
    with atomic_file(out / "queries.txt", encoding="utf-8", newline="") as f:
        for m in re.finditer(r"<num>(.*?)</num><title>\n(.*?)</title>", queries, flags=re.S):
            f.write(f"{m.group(1).strip()}\n{m.group(2)}/\n")
    judged: dict[str, list[str]] = {}
    for line in _read(data / "vaswani" / "qrels").splitlines():
        if line.strip():
            qid, _, docno, _rel = line.split()
            judged.setdefault(qid, []).append(docno)
    with atomic_file(out / "qrels.txt", encoding="utf-8", newline="") as f:
        for qid, docnos in judged.items():
            f.write(f"{qid}\n " + " ".join(docnos) + "\n   /\n")


def _copy(pairs: dict[str, str]) -> Callable[[Path, Path], None]:
    def write(data: Path, out: Path) -> None:
        for source, target in pairs.items():
            with open(data / source, "rb") as src, atomic_file(out / target, "wb") as dst:
                shutil.copyfileobj(src, dst)

    return write


COLLECTIONS: dict[str, OfflineCollection] = {
    "vaswani": OfflineCollection(
        "vaswani",
        ("vaswani/doc-text.trec", "vaswani/query-text.trec", "vaswani/qrels"),
        ("vaswani/docs.txt", "vaswani/queries.txt", "vaswani/qrels.txt"),
        lambda data, home: _write_vaswani(data, home / "vaswani"),
    ),
    "cranfield": OfflineCollection(
        "cranfield",
        ("cranfield/cran.all.1400", "cranfield/cran.qry", "cranfield/cranqrel"),
        ("cranfield/docs.txt", "cranfield/queries.txt", "cranfield/qrels.txt"),
        lambda data, home: _copy(
            {
                "cranfield/cran.all.1400": "cranfield/docs.txt",
                "cranfield/cran.qry": "cranfield/queries.txt",
                "cranfield/cranqrel": "cranfield/qrels.txt",
            }
        )(data, home),
    ),
    "beir/scifact": OfflineCollection(
        "beir/scifact",
        ("beir_scifact/scifact.zip",),
        ("beir/scifact/source.zip",),
        lambda data, home: _copy({"beir_scifact/scifact.zip": "beir/scifact/source.zip"})(data, home),
    ),
}


def collection_for(irds_id: str) -> OfflineCollection | None:
    """The offline collection serving an ir_datasets id (``beir/scifact/test`` -> ``beir/scifact``)."""
    for name, coll in COLLECTIONS.items():
        if irds_id == name or irds_id.startswith(name + "/"):
            return coll
    return None


def prepare_collection(irds_id: str, data_dir: Path | None = None, home: Path | None = None) -> str:
    """Fill ir_datasets' cache for one id if the data folder has it.

    Args:
        irds_id: the ir_datasets id (``beir/scifact/test`` is served by the ``beir/scifact`` collection).
        data_dir: the offline data folder (default: :func:`transformers_ir._paths.data_dir`).
        home: ir_datasets' cache (default: :func:`transformers_ir._paths.irds_home`).

    Returns:
        ``'cached'`` (already there), ``'prepared'`` (written now) or ``'unavailable'`` (not in the data folder,
        or not an offline collection: ir_datasets will try its normal download).
    """
    coll = collection_for(irds_id)
    home = home or _paths.irds_home()
    if coll is None:
        return "unavailable"
    if coll.prepared(home):
        return "cached"
    data_dir = data_dir if data_dir is not None else _paths.data_dir()
    if not coll.available(data_dir):
        return "unavailable"
    coll.write(data_dir, home)
    return "prepared"


def prepare_all(data_dir: Path | None = None, home: Path | None = None) -> dict[str, str]:
    """Fill ir_datasets' cache for every offline collection the data folder holds.

    Args:
        data_dir: the offline data folder (default: :func:`transformers_ir._paths.data_dir`).
        home: ir_datasets' cache (default: :func:`transformers_ir._paths.irds_home`).

    Returns:
        ``{collection: 'cached' | 'prepared' | 'unavailable'}`` (see :func:`prepare_collection`).
    """
    return {name: prepare_collection(name, data_dir, home) for name in COLLECTIONS}
