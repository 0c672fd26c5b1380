"""Write files and folders so that a reader never sees a half-written one.

Everything is written under a temporary sibling name and renamed into place only when complete; a crash leaves
at most a ``.tmp-*`` sibling, which is never read. Each temporary name carries its owner (host, process id and the
process's start time), so a later writer removes only the leftovers of processes that are gone: another live
process's build on the same folder is never touched, whatever the host or however long it runs.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

#: ``.tmp-<name>-<pid>.<start>.<host>.<random>``; ``start`` is the owner's start time (``x`` when unknown).
_OWNER = re.compile(r"(?P<pid>\d+)\.(?P<start>\d+|x)\.(?P<host>[0-9a-f]{8})\.[0-9a-f]{8}")
_LEGACY = re.compile(r"(?P<pid>\d+)-[0-9a-f]{8}")  # what earlier versions wrote: pid and random only


def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from ``/proc``), or None when unknown or gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22 of stat; the name before ")" may hold spaces


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def owner_token() -> str:
    """This process's owner token: pid, start time and host (hashed), plus a random part."""
    pid = os.getpid()
    return f"{pid}.{process_start(pid) or 'x'}.{_host()}.{uuid.uuid4().hex[:8]}"


def owner_gone(token: str) -> bool:
    """Whether the process that owns a temporary name is gone. Only an owner on this host can be judged: one
    whose pid is dead, or whose pid now belongs to a process that started at another time. Anything we cannot
    read as an owner (another host, another naming) is kept."""
    m = _OWNER.fullmatch(token)
    if m is not None:
        if m["host"] != _host():
            return False
        pid = int(m["pid"])
        if not _alive(pid):
            return True
        start = process_start(pid)
        return m["start"] != "x" and start is not None and start != m["start"]
    m = _LEGACY.fullmatch(token)
    return m is not None and not _alive(int(m["pid"]))


def _tmp_sibling(path: Path) -> Path:
    return path.with_name(f".tmp-{path.name}-{owner_token()}")


def remove_stale_tmp(path: Path) -> None:
    """Remove temporary siblings of ``path`` left by writers that are gone (see :func:`owner_gone`); those of
    live writers, and those of other names sharing the prefix (``a-b`` beside ``a``), are kept."""
    if not path.parent.is_dir():
        return
    prefix = f".tmp-{path.name}-"
    for stale in path.parent.glob(glob_escape(prefix) + "*"):
        if owner_gone(stale.name[len(prefix):]):
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() and not stale.is_symlink() \
                else stale.unlink(missing_ok=True)


def glob_escape(text: str) -> str:
    """``text`` with glob's special characters escaped (a folder named ``a[1]`` matches itself only)."""
    return re.sub(r"([*?\[])", r"[\1]", text)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator:
    """Open a temporary sibling of ``path`` for writing; rename it onto ``path`` when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(path)
    try:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder; when the block succeeds it replaces ``path`` (which must not exist unless
    ``overwrite``). On failure the temporary folder is removed and ``path`` is untouched. When another process
    puts ``path`` in place first, :class:`FileExistsError` is raised (unless ``overwrite``) and nothing of
    theirs is replaced."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(path)
    tmp = _tmp_sibling(path)
    tmp.mkdir()
    try:
        yield tmp
        if path.exists() or path.is_symlink():
            if not overwrite:
                raise FileExistsError(f"{path} appeared while it was being written; nothing was replaced")
            old = _tmp_sibling(path)
            os.replace(path, old)
            _rename_new(tmp, path)
            shutil.rmtree(old, ignore_errors=True) if old.is_dir() and not old.is_symlink() else old.unlink()
        else:
            _rename_new(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _rename_new(tmp: Path, path: Path) -> None:
    """Rename the folder ``tmp`` to ``path``, which must not exist: a folder another process put there meanwhile
    is never replaced (``rename`` refuses a non-empty target folder)."""
    try:
        os.rename(tmp, path)
    except OSError as e:
        if e.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
            raise FileExistsError(f"{path} appeared while it was being written; nothing was replaced") from None
        raise
