"""What identifies a model, a file or a configuration: one place for every hash the library keys things on.

Stage caches key on a model's weights (:func:`weights_hash`) and tokenizer (:func:`tokenizer_hash`); a SPLADE
index is named by its model's weights and settings, a teacher-score file by what decides its pairs, a trained
checkpoint by its training config (:func:`json_hash`); an index records each of its files' digests, and a
teacher file or checkpoint folder enters a student's config by its content (:func:`file_hash`,
:func:`weights_hash` of a folder); each cache value is stored with its checksum (:func:`bytes_hash`). Everything
is SHA-256, memoised where the input is large.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

#: File names hashed when a model folder is given: the weights, never the tokenizer or the README.
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.ckpt")

_file_memo: dict[tuple, str] = {}
_module_memo: dict[tuple, str] = {}
_tokenizer_memo: dict[int, tuple] = {}


def bytes_hash(data: bytes) -> str:
    """SHA-256 (hex) of bytes: the checksum stored beside each cache value and checked when it is read.

    Args:
        data: the bytes.

    Returns:
        The hex digest.
    """
    return hashlib.sha256(data).hexdigest()


def file_hash(path: str | Path) -> str:
    """SHA-256 (hex) of a file's bytes, memoised while its size and modification time stay the same.

    Args:
        path: the file.

    Returns:
        The hex digest.
    """
    path = Path(path)
    stat = path.stat()
    stamp = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if stamp not in _file_memo:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                digest.update(block)
        _file_memo[stamp] = digest.hexdigest()
    return _file_memo[stamp]


def json_hash(value) -> str:
    """SHA-256 (hex) of a JSON-able value written with sorted keys (``str`` for anything else): the hash of a
    configuration (training configs, index folders, teacher-score files).

    Args:
        value: dicts, lists, strings, numbers (other objects are written as ``str``).

    Returns:
        The hex digest.
    """
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _hash_folder(folder: Path) -> str:
    files = sorted({p for pattern in WEIGHT_PATTERNS for p in folder.glob(pattern) if p.is_file()})
    if not files:
        raise FileNotFoundError(f"{folder} holds no weights ({', '.join(WEIGHT_PATTERNS)}): give a model folder")
    return json_hash({p.name: file_hash(p) for p in files})


def _hash_module(module) -> str:
    torch = sys.modules["torch"]  # a module to hash means torch is loaded; the hash itself needs no import
    state = module.state_dict()
    # In-place updates (optimizer steps, load_state_dict) bump a tensor's version: a trained model is re-hashed.
    stamp = (id(module), tuple((name, t.data_ptr(), t._version) for name, t in state.items()))
    if stamp not in _module_memo:
        digest = hashlib.sha256()
        with torch.no_grad():
            for name, tensor in sorted(state.items()):
                t = tensor.detach().to("cpu").contiguous()
                digest.update(f"{name}:{t.dtype}:{tuple(t.shape)}\0".encode())
                digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        _module_memo[stamp] = digest.hexdigest()
    return _module_memo[stamp]


def weights_hash(model) -> str:
    """SHA-256 of a model's weights, memoised: a ``torch.nn.Module`` (its tensors, whatever device or dtype),
    or a folder (its ``*.safetensors`` / ``*.bin`` / ... files by name and content).

    Args:
        model: a ``torch.nn.Module``, or the path of a model folder.

    Returns:
        The hex digest.

    Raises:
        FileNotFoundError: a folder without weight files.
        TypeError: anything else.
    """
    if isinstance(model, (str, Path)):
        return _hash_folder(Path(model))
    if hasattr(model, "state_dict"):
        return _hash_module(model)
    raise TypeError(f"weights_hash takes a torch.nn.Module or a model folder, not {type(model).__name__}")


def tokenizer_hash(tokenizer) -> str:
    """SHA-256 of a Hugging Face tokenizer's definition (vocabulary, normalisation, templates), memoised.

    Args:
        tokenizer: a fast (``backend_tokenizer``) or slow (``get_vocab``) tokenizer.

    Returns:
        The hex digest.
    """
    stamp = id(tokenizer)
    if stamp not in _tokenizer_memo or _tokenizer_memo[stamp][0] is not tokenizer:
        backend = getattr(tokenizer, "backend_tokenizer", None)
        text = backend.to_str() if backend is not None else json.dumps(sorted(tokenizer.get_vocab().items()))
        extra = json.dumps(getattr(tokenizer, "special_tokens_map", {}), sort_keys=True, default=str)
        _tokenizer_memo[stamp] = (tokenizer, hashlib.sha256((text + extra).encode()).hexdigest())
    return _tokenizer_memo[stamp][1]
