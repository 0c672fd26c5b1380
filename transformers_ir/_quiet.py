"""Third-party engines' own output kept off the screen: PISA's C++ logging (``[info]`` lines, hundreds of ``\\r``
progress updates, a stray index path on stdout), Terrier's Java logging and PyTerrier's "Java started" line.

:func:`engine_output` captures file descriptors 1 and 2 (so C++, Java and Python alike) into a temporary file for
the block; the capture is shown on stderr only when the block fails, or always when ``TRANSFORMERS_IR_VERBOSE=1``
(the CLI's ``--verbose``) is set, in which case nothing is captured. Our own progress bars and log records go to
:data:`SCREEN`, which writes to the real stderr even while a capture is active.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator

#: Set to 1 to see what the engines print (nothing is captured).
VERBOSE_ENV = "TRANSFORMERS_IR_VERBOSE"
#: How much of a failed block's capture is shown (its end, where the error is).
SHOWN_ON_FAILURE = 20_000

_lock = threading.Lock()
_active: dict[str, int] = {"depth": 0, "screen": -1}


def engine_verbose() -> bool:
    """Whether the engines' own output is shown as it comes (``TRANSFORMERS_IR_VERBOSE`` set and not 0)."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


class _Screen:
    """A text stream to the terminal's stderr: file descriptor 2, or the copy of it kept while a capture is
    active. Give it to progress bars (``pt.tqdm(..., file=SCREEN)``) so they stay visible during a build."""

    encoding = "utf-8"

    def write(self, text: str) -> int:
        fd = _active["screen"]
        if fd < 0:
            return sys.stderr.write(text)
        os.write(fd, text.encode("utf-8", "backslashreplace"))
        return len(text)

    def flush(self) -> None:
        if _active["screen"] < 0:
            sys.stderr.flush()

    def isatty(self) -> bool:
        fd = _active["screen"]
        return os.isatty(fd) if fd >= 0 else sys.stderr.isatty()

    def fileno(self) -> int:
        fd = _active["screen"]
        return fd if fd >= 0 else sys.stderr.fileno()


#: Our progress bars and log records write here: the real stderr, captured or not.
SCREEN = _Screen()


@contextlib.contextmanager
def engine_output(what: str) -> Iterator[None]:
    """Capture what the engines print in the block (file descriptors 1 and 2); show it only if the block raises.

    Nested blocks (or another thread's, while one is active) add nothing: the outer capture holds their output.

    Args:
        what: the work, named in the header of a failed block's output (e.g. ``"PISA index build"``).

    Yields:
        Nothing.
    """
    with _lock:
        outer = _active["depth"] > 0 or engine_verbose()
        if not outer:
            _active["depth"] += 1
    if outer:
        yield
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    log = tempfile.TemporaryFile()
    saved_out, saved_err = os.dup(1), os.dup(2)
    handlers = [h for h in logging.getLogger().handlers
                if isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) is sys.stderr]
    try:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        _active["screen"] = saved_err
        for handler in handlers:
            handler.setStream(SCREEN)
        yield
    except BaseException:
        _restore(saved_out, saved_err, handlers)
        log.seek(0, os.SEEK_END)
        size = log.tell()
        log.seek(max(0, size - SHOWN_ON_FAILURE))
        text = log.read().decode("utf-8", "replace")
        if text.strip():
            sys.stderr.write(f"--- {what} failed; what it printed{' (the end)' if size > SHOWN_ON_FAILURE else ''}:\n"
                             f"{text.rstrip()}\n--- end of {what}'s output\n")
            sys.stderr.flush()
        raise
    else:
        _restore(saved_out, saved_err, handlers)
    finally:
        log.close()
        with _lock:
            _active["depth"] -= 1


def _restore(saved_out: int, saved_err: int, handlers: list) -> None:
    if _active["screen"] < 0:
        return  # already restored (the failure path restores before showing the capture)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    for handler in handlers:
        handler.setStream(sys.stderr)
    _active["screen"] = -1
    os.dup2(saved_out, 1)
    os.dup2(saved_err, 2)
    os.close(saved_out)
    os.close(saved_err)
