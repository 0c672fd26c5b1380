"""Checkpoint folders: find them (local path, offline alias or Hugging Face hub cache), read and write the small
JSON of re-ranker settings, load state dicts safely (safetensors, or ``torch.load(weights_only=True)``)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from transformers_ir.models import resolve_model

#: The JSON of settings a re-ranker saves next to its Hugging Face weights.
SETTINGS_FILE = "reranker.json"
WEIGHTS_FILES = ("model.safetensors", "pytorch_model.bin")


def checkpoint_dir(name_or_path: str | os.PathLike) -> Path:
    """The local folder of a checkpoint: a path, an offline alias (:mod:`transformers_ir.models`), or a hub
    name already in the Hugging Face cache (downloaded when the hub is reachable)."""
    path = Path(resolve_model(str(name_or_path))).expanduser()
    if path.is_dir():
        return path
    if path.exists() or str(name_or_path).startswith((".", "/", "~")) or str(name_or_path).count("/") > 1:
        raise FileNotFoundError(f"checkpoint {name_or_path!r} is not a folder: give a checkpoint directory")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(str(name_or_path)))
    except (LocalEntryNotFoundError, HFValidationError, OSError) as e:
        raise FileNotFoundError(
            f"checkpoint {name_or_path!r} is neither a local folder nor in the Hugging Face cache (and the hub "
            f"cannot be reached): download it first or give its local path"
        ) from e


def require_files(path: Path, *groups: tuple[str, ...]) -> None:
    """Raise naming what is missing when ``path`` lacks, for any group, all of that group's alternatives."""
    missing = [" or ".join(group) for group in groups if not any((path / f).is_file() for f in group)]
    if missing:
        raise FileNotFoundError(f"checkpoint {path} is missing {', '.join(missing)}: save it with "
                                "save_pretrained(...) or copy the complete checkpoint folder")


def read_settings(path: Path) -> dict:
    file = path / SETTINGS_FILE
    return json.loads(file.read_text()) if file.is_file() else {}


def write_settings(path: Path, settings: dict) -> None:
    (path / SETTINGS_FILE).write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")


def load_weights(module: torch.nn.Module, path: Path) -> None:
    """Load the weights in ``path`` into ``module`` (``model.safetensors`` preferred, else ``pytorch_model.bin``
    read with ``weights_only=True``, so a checkpoint can never run code), refusing missing or unexpected keys
    with their names. A key missing only because it is tied to a loaded one (T5's shared embeddings) is fine."""
    require_files(path, WEIGHTS_FILES)
    if (path / "model.safetensors").is_file():
        from safetensors.torch import load_model

        missing, unexpected = load_model(module, str(path / "model.safetensors"), strict=False)
        source = path / "model.safetensors"
    else:
        source = path / "pytorch_model.bin"
        state = torch.load(source, map_location="cpu", weights_only=True)
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


def save_weights(module: torch.nn.Module, path: Path) -> None:
    """Save ``module``'s weights as ``model.safetensors`` (a tensor tied under two names is stored once)."""
    from safetensors.torch import save_model

    save_model(module, str(path / "model.safetensors"))


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "spiece.model",
                   "sentencepiece.bpe.model")


def weight_keys(path: Path) -> set[str]:
    """The tensor names in ``path``'s weights file, read without loading the tensors."""
    require_files(path, WEIGHTS_FILES)
    if (path / "model.safetensors").is_file():
        from safetensors import safe_open

        with safe_open(str(path / "model.safetensors"), framework="pt") as f:
            return set(f.keys())
    return set(torch.load(path / "pytorch_model.bin", map_location="cpu", weights_only=True, mmap=True))


def load_tokenizer(path: Path, backbone: str | None, *, trust_remote_code: bool = False):
    """The checkpoint's own tokenizer, else the backbone's (``backbone`` names it: a hub name, alias or path);
    an error naming the missing files when there is neither."""
    from transformers import AutoTokenizer

    if any((path / f).is_file() for f in TOKENIZER_FILES):
        source = str(path)
    elif backbone is not None:
        source = resolve_model(backbone)
    else:
        raise FileNotFoundError(f"checkpoint {path} has no tokenizer ({' or '.join(TOKENIZER_FILES)}): save the "
                                "tokenizer with it, or pass backbone=<the model whose tokenizer it uses>")
    return AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
