"""Checkpoint folders, for every family and for training: find one (local path, offline alias or Hugging Face
hub cache), list its weight files and tensor names, load its tokenizer, read and write the one settings file
that travels with the weights, and load or save weights safely (safetensors, or ``torch.load(weights_only=True)``
through :mod:`transformers_ir._safe_io`).

The settings file is :data:`SETTINGS_FILE`: ``{"architecture": ..., <the family's config_keys>...}``. Checkpoints
written before it (``reranker.json`` by the re-rankers, ``splade_config.json`` by SPLADE) are still read.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from transformers_ir import _safe_io
from transformers_ir.models import resolve_model

#: The JSON of settings a family saves next to its Hugging Face weights (max lengths, head, pooling, ...).
SETTINGS_FILE = "transformers_ir_settings.json"
#: What earlier versions wrote instead, read when :data:`SETTINGS_FILE` is absent.
LEGACY_SETTINGS_FILES = ("reranker.json", "splade_config.json")
WEIGHTS_FILES = ("model.safetensors", "pytorch_model.bin")
#: Index files of a checkpoint sharded over several weight files (``{"weight_map": {tensor: file}}``).
SHARD_INDEX_FILES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "spiece.model",
                   "sentencepiece.bpe.model")


def checkpoint_dir(name_or_path: str | os.PathLike) -> Path:
    """The local folder of a checkpoint.

    Args:
        name_or_path: a folder, an offline alias (:mod:`transformers_ir.models`), or a hub name already in the
            Hugging Face cache (downloaded when the hub is reachable).

    Returns:
        The folder.

    Raises:
        FileNotFoundError: neither a folder nor a name the cache (or the hub) has.
    """
    path = Path(resolve_model(str(name_or_path))).expanduser()
    if path.is_dir():
        return path
    if path.exists() or str(name_or_path).startswith((".", "/", "~")) or str(name_or_path).count("/") > 1:
        raise FileNotFoundError(f"checkpoint {name_or_path!r} is not a folder: give a checkpoint directory")
    from huggingface_hub import snapshot_download  # only for hub names: local checkpoints never import it
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(str(name_or_path)))
    except (LocalEntryNotFoundError, HFValidationError, OSError) as e:
        raise FileNotFoundError(
            f"checkpoint {name_or_path!r} is neither a local folder nor in the Hugging Face cache (and the hub "
            f"cannot be reached): download it first or give its local path"
        ) from e


def require_files(path: Path, *groups: tuple[str, ...]) -> None:
    """Raise naming what is missing when ``path`` lacks, for any group, all of that group's alternatives.

    Args:
        path: the checkpoint folder.
        *groups: alternatives, e.g. ``("model.safetensors", "pytorch_model.bin")``.

    Raises:
        FileNotFoundError: a group none of whose files is there.
    """
    missing = [" or ".join(group) for group in groups if not any((path / f).is_file() for f in group)]
    if missing:
        raise FileNotFoundError(f"checkpoint {path} is missing {', '.join(missing)}: save it with "
                                "save_pretrained(...) or copy the complete checkpoint folder")


def read_settings(path: Path) -> dict:
    """The settings saved beside a checkpoint's weights (:data:`SETTINGS_FILE`, else a legacy file).

    Args:
        path: the checkpoint folder.

    Returns:
        The settings (empty when the folder has none, e.g. a checkpoint from the hub).
    """
    for name in (SETTINGS_FILE, *LEGACY_SETTINGS_FILES):
        if (path / name).is_file():
            return json.loads((path / name).read_text())
    return {}


def write_settings(path: Path, architecture: str, settings: dict) -> None:
    """Write :data:`SETTINGS_FILE` into ``path``.

    Args:
        path: the checkpoint folder (being written).
        architecture: what the weights are (``"cross-encoder"``, ``"splade"``, ``"token-weights"``, ...).
        settings: the family's ``config_keys`` and their values.
    """
    content = {"architecture": architecture, **settings}
    (path / SETTINGS_FILE).write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")


def weight_files(path: Path) -> list[Path]:
    """The files holding a checkpoint's tensors: ``model.safetensors``, else ``pytorch_model.bin``, else the
    shards a ``*.index.json`` names.

    Args:
        path: the checkpoint folder.

    Returns:
        The files (safetensors first when a checkpoint has both formats).

    Raises:
        FileNotFoundError: no weights in the folder.
    """
    for name in WEIGHTS_FILES:
        if (path / name).is_file():
            return [path / name]
    for name in SHARD_INDEX_FILES:
        if (path / name).is_file():
            shards = sorted(set(json.loads((path / name).read_text())["weight_map"].values()))
            return [path / shard for shard in shards]
    require_files(path, WEIGHTS_FILES + SHARD_INDEX_FILES)
    return []


def weight_keys(path: Path) -> set[str]:
    """The tensor names in a checkpoint's weights, safetensors read without loading the tensors.

    Args:
        path: the checkpoint folder.

    Returns:
        Every tensor name.
    """
    keys: set[str] = set()
    for file in weight_files(path):
        if file.suffix == ".safetensors":
            from safetensors import safe_open  # the package imports no torch; deferred like the loading

            with safe_open(str(file), framework="pt") as f:
                keys |= set(f.keys())
        else:
            keys |= set(_safe_io.load_weights(file))
    return keys


def load_weights(module, path: Path) -> None:
    """Load the weights in ``path`` into ``module``, refusing missing or unexpected keys with their names.

    ``model.safetensors`` is preferred; ``pytorch_model.bin`` is read by :func:`transformers_ir._safe_io.load_weights`
    (``weights_only=True``, so a checkpoint can never run code). A key missing only because it is tied to a
    loaded one (T5's shared embeddings) is fine.

    Args:
        module: a ``torch.nn.Module`` of the checkpoint's architecture.
        path: the checkpoint folder.

    Raises:
        FileNotFoundError: no weights file.
        ValueError: the weights do not fit the module.
    """
    require_files(path, WEIGHTS_FILES)
    if (path / "model.safetensors").is_file():
        from safetensors.torch import load_model

        source = path / "model.safetensors"
        missing, unexpected = load_model(module, str(source), strict=False)
    else:
        source = path / "pytorch_model.bin"
        state = _safe_io.load_weights(source)
        missing, unexpected = module.load_state_dict(state, strict=False)
        own = module.state_dict()
        loaded = {own[k].data_ptr() for k in state if k in own}
        missing = [k for k in missing if own[k].data_ptr() not in loaded]
    unexpected = [k for k in unexpected if not k.endswith("position_ids")]  # a buffer old versions saved
    if missing or unexpected:
        raise ValueError(
            f"weights in {source} do not fit {type(module).__name__}: missing {sorted(missing)[:8]}, "
            f"unexpected {sorted(unexpected)[:8]}; is it a checkpoint of this architecture?"
        )


def save_weights(module, path: Path) -> None:
    """Save ``module``'s weights as ``model.safetensors`` (a tensor tied under two names is stored once).

    Args:
        module: a ``torch.nn.Module``.
        path: the folder (being written).
    """
    from safetensors.torch import save_model

    save_model(module, str(path / "model.safetensors"))


def load_tokenizer(path: Path, backbone: str | None, *, trust_remote_code: bool = False):
    """The checkpoint's own tokenizer, else the backbone's.

    Args:
        path: the checkpoint folder.
        backbone: the model whose tokenizer it uses (a hub name, alias or path), when it has none.
        trust_remote_code: passed to ``AutoTokenizer.from_pretrained``.

    Returns:
        The tokenizer.

    Raises:
        FileNotFoundError: neither the checkpoint nor a backbone gives one.
    """
    from transformers import AutoTokenizer

    if any((path / f).is_file() for f in TOKENIZER_FILES):
        source = str(path)
    elif backbone is not None:
        source = resolve_model(backbone)
    else:
        raise FileNotFoundError(f"checkpoint {path} has no tokenizer ({' or '.join(TOKENIZER_FILES)}): save the "
                                "tokenizer with it, or pass backbone=<the model whose tokenizer it uses>")
    return AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
