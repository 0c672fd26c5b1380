"""Where a command writes what the user asked for (``run --out``, ``predict --out``, ``[train] output``): never over
something it did not write.

A folder we write gets a marker, :data:`MARKER`, listing its files. An existing path is replaced only when it is
our own earlier output and the user asked for it (``--force``); a file, a link, a folder without our marker, or our
folder holding files someone else added is refused, naming the path and the fix, and nothing is touched. An empty
folder holds nothing to lose and is written into.
"""
from __future__ import annotations

import json
from pathlib import Path

from transformers_ir._version import __version__
from transformers_ir.errors import OutputExists

MARKER = "transformers_ir_output.json"


def _listing(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir() or p.is_symlink()}


def marker_text(folder: Path, kind: str) -> str:
    """The marker of ``folder`` (the files in it now, the marker included): write it last, as ``MARKER``."""
    files = sorted(_listing(folder) | {MARKER})
    return json.dumps({"written_by": f"transformers-ir {__version__}", "kind": kind, "files": files}, indent=2) + "\n"


def written_by_us(folder: Path) -> set[str] | None:
    """The files our marker in ``folder`` lists, or None when it has no readable marker."""
    try:
        meta = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = meta.get("files") if isinstance(meta, dict) else None
    return set(files) if isinstance(files, list) and all(isinstance(f, str) for f in files) else None


def check_output_dir(path: str | Path, *, force: bool = False, flag: str = "--out") -> Path:
    """Refuse to write the output folder ``path`` over anything but our own earlier output, replaced with ``force``.

    Raises:
        OutputExists: ``path`` is a file or a link, a non-empty folder without our marker, our earlier output
            without ``force``, or our earlier output holding files we did not write.
    """
    path = Path(path)
    fix = f"give {flag} a new folder"
    if path.is_symlink():
        raise OutputExists(f"{flag} {path} is a link; nothing was changed: {fix} (links are never followed or "
                           f"replaced)")
    if not path.exists():
        return path
    if not path.is_dir():
        raise OutputExists(f"{flag} {path} is an existing file, which would be lost; nothing was changed: {fix}, or "
                           f"move the file away first")
    present = _listing(path) | {p.relative_to(path).as_posix() + "/" for p in path.rglob("*") if p.is_dir()}
    if not present:
        return path
    ours = written_by_us(path)
    if ours is None:
        raise OutputExists(f"{flag} {path} is a folder that transformers-ir did not write (no {MARKER}; it holds "
                           f"{_some(present)}); nothing was changed: {fix}")
    foreign = {p for p in present if p not in ours and not any(f.startswith(p) for f in ours if p.endswith("/"))}
    if foreign:
        raise OutputExists(f"{flag} {path} holds files transformers-ir did not write ({_some(foreign)}); nothing was "
                           f"changed: move them out of it, or {fix}")
    if not force:
        raise OutputExists(f"{flag} {path} holds an earlier output of transformers-ir; nothing was changed: pass "
                           f"--force to replace it, or {fix}")
    return path


def check_output_file(path: str | Path, *, force: bool = False, ours: bool = False, flag: str = "--out") -> Path:
    """Refuse to write the output file ``path`` over anything but our own earlier output (``ours``), replaced
    with ``force``."""
    path = Path(path)
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise OutputExists(f"{flag} {path} is a folder or a link; nothing was changed: give {flag} a new file name")
    if path.exists():
        if not ours:
            raise OutputExists(f"{flag} {path} is an existing file that transformers-ir did not write; nothing was "
                               f"changed: give {flag} a new file name, or move the file away first")
        if not force:
            raise OutputExists(f"{flag} {path} holds an earlier output of transformers-ir; nothing was changed: pass "
                               f"--force to replace it, or give {flag} a new file name")
    return path


def claim_work_dir(path: str | Path, *, kind: str, evidence: tuple[str, ...] = (), flag: str) -> Path:
    """A folder a job fills over several runs (a training run's checkpoints and model): created with our marker
    when absent or empty, reused when it holds our marker (or one of ``evidence``, what earlier versions left
    there), refused otherwise: the job would replace its sub-folders."""
    path = Path(path)
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise OutputExists(f"{flag} {path} is a file or a link; nothing was changed: give {flag} a new folder")
    if path.is_dir() and any(path.iterdir()):
        if (path / MARKER).is_file() or any((path / e).exists() for e in evidence):
            return path
        raise OutputExists(f"{flag} {path} is a folder that transformers-ir did not write (no {MARKER}), and "
                           f"{kind} would replace what is in it; nothing was changed: give {flag} a new folder")
    path.mkdir(parents=True, exist_ok=True)
    (path / MARKER).write_text(json.dumps({"kind": kind}) + "\n")
    return path


def _some(names: set[str], limit: int = 5) -> str:
    shown = sorted(names)[:limit]
    return ", ".join(shown) + (f" and {len(names) - limit} more" if len(names) > limit else "")
