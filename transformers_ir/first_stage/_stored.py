"""A system whose results were computed elsewhere: a TREC run file read back as a transformer."""
from __future__ import annotations

import os
from pathlib import Path

import pyterrier as pt


def stored_run(path: str | os.PathLike) -> pt.Transformer:
    """The results of a TREC run file, as a transformer that returns them for the queries it is given.

    Args:
        path: the run file (``qid Q0 docno rank score tag`` lines).

    Returns:
        A transformer serving the file's results (``pt.Transformer.from_df``).

    Raises:
        FileNotFoundError: the file does not exist.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise FileNotFoundError(f"run file {file} does not exist: give the path of a TREC run file")
    return pt.Transformer.from_df(pt.io.read_results(str(file)), uniform=False)
