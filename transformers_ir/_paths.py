"""Where transformers-ir keeps its files, and where it finds the offline data.

- our cache (indexes, ir_datasets cache, runs): ``TRANSFORMERS_IR_HOME``, default ``<checkout>/.cache`` in a
  source checkout, else ``~/.cache/transformers-ir``;
- the offline data folder: ``TRANSFORMERS_IR_DATA``, default ``<checkout>/../shared/data`` or ``./../shared/data``
  when it exists;
- ir_datasets' cache: ``IR_DATASETS_HOME`` (the user's, when set), default ``<our cache>/ir_datasets``.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

HOME_ENV = "TRANSFORMERS_IR_HOME"
DATA_ENV = "TRANSFORMERS_IR_DATA"
IRDS_ENV = "IR_DATASETS_HOME"


def checkout_root() -> Path | None:
    """The source checkout holding this package (an editable install), or None for an installed wheel."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "setup.cfg").is_file() and (root / "transformers_ir").is_dir() else None


def home() -> Path:
    """The folder for everything transformers-ir builds: indexes, the ir_datasets cache, model caches."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser()
    root = checkout_root()
    return root / ".cache" if root is not None else Path.home() / ".cache" / "transformers-ir"


def data_dir() -> Path | None:
    """The offline data folder (``../shared/data`` layout), or None when there is none."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    candidates = [Path.cwd().parent / "shared" / "data"]
    root = checkout_root()
    if root is not None:
        candidates.insert(0, root.parent / "shared" / "data")
    return next((c for c in candidates if c.is_dir()), None)


def index_dir() -> Path:
    """Where indexes are built (``<home>/indexes``)."""
    return home() / "indexes"


def slug(text: str, *, keep: str = "._-") -> str:
    """``text`` as one folder or file name: every run of characters other than letters, digits and ``keep``
    becomes ``_`` (``beir/scifact`` -> ``beir_scifact``), without ``_`` at either end.

    Args:
        text: any name (a dataset id, a component, a system name).
        keep: the punctuation kept as it is.

    Returns:
        The name.
    """
    return re.sub(rf"[^A-Za-z0-9{re.escape(keep)}]+", "_", text).strip("_")


def configure_environment() -> None:
    """Point ir_datasets at our cache unless the user chose one, or ir_datasets was imported before us
    (then it already fixed its folder, and we keep its default so that we fill the folder it reads)."""
    if IRDS_ENV not in os.environ and "ir_datasets" not in sys.modules:
        os.environ[IRDS_ENV] = str(home() / "ir_datasets")


def irds_home() -> Path:
    return Path(os.environ.get(IRDS_ENV, Path.home() / ".ir_datasets"))
