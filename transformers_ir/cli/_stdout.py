"""Keep the command's stdout for what it means to print."""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to file descriptor 1 (Python, Java and C++ alike) to stderr for the block, so
    stdout carries only what the command means to print (PISA and Terrier print to stdout).

    Yields:
        Nothing; file descriptor 1 is restored when the block ends.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
