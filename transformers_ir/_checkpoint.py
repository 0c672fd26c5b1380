"""Checkpoint folders, for every family and for training: find one (local path, offline alias or Hugging Face
hub cache), list its weight files and tensor names, load its tokenizer, read and write the one settings file
that travels with the weights, and load or save weights safely (safetensors, or ``torch.load(weights_only=True)``
through :mod:`transformers_ir._safe_io`).

Loading refuses what Hugging Face would silently make up: a weight the checkpoint lacks is filled with a fresh
random one (two loads then score the same pairs differently), so missing keys are refused by name
(:func:`refuse_missing_weights`) unless the caller asked for a new head (``num_labels=``); a folder without a
tokenizer's vocabulary would give a tokenizer of only its special tokens, so it is refused naming the files.

The settings file is :data:`SETTINGS_FILE`: ``{"architecture": ..., <the family's config_keys>...}``. Checkpoints
written before it (``reranker.json`` by the re-rankers, ``splade_config.json`` by SPLADE) are still read.
"""
from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from transformers_ir import _safe_io
from transformers_ir._atomic import atomic_dir
from transformers_ir._jsonfile import read_json
from transformers_ir._quiet import engine_verbose
from transformers_ir.errors import CorruptFile, IncompleteCheckpoint
from transformers_ir.models import resolve_model

#: The JSON of settings a family saves next to its Hugging Face weights (max lengths, head, pooling, ...).
SETTINGS_FILE = "transformers_ir_settings.json"
#: What earlier versions wrote instead, read when :data:`SETTINGS_FILE` is absent.
LEGACY_SETTINGS_FILES = ("reranker.json", "splade_config.json")
WEIGHTS_FILES = ("model.safetensors", "pytorch_model.bin")
#: Index files of a checkpoint sharded over several weight files (``{"weight_map": {tensor: file}}``).
SHARD_INDEX_FILES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
#: Files that hold a tokenizer's vocabulary (one is needed; ``tokenizer_config.json`` alone holds none).
VOCABULARY_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model",
                    "tokenizer.model")


#: The folder of a dual encoder's separate query-side model, inside its checkpoint.
QUERY_FOLDER = "query"


@contextlib.contextmanager
def writing(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """A checkpoint folder written atomically: the block fills a temporary sibling, renamed onto ``path`` when it
    succeeds (a kill leaves the previous folder, or none, never a half-written one); Hugging Face's own
    "Writing model shards" bar stays off (:func:`hugging_face_bars_off`).

    Args:
        path: the folder to write.
        overwrite: replace an existing folder.

    Yields:
        The temporary folder to fill.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists: pass overwrite=True to replace it, or choose a new folder")
    with atomic_dir(path, overwrite=overwrite) as tmp, hugging_face_bars_off():
        yield tmp


def save_encoders(folder: Path, model, tokenizer, query_model=None) -> None:
    """A dual encoder's Hugging Face parts: the (document-side or shared) model and the tokenizer in ``folder``, a
    separate query-side model in its :data:`QUERY_FOLDER`."""
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    if query_model is not None and query_model is not model:
        query_model.save_pretrained(Path(folder) / QUERY_FOLDER)


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


@contextlib.contextmanager
def hugging_face_bars_off() -> Iterator[None]:
    """Hugging Face's own progress bars ("Loading weights", "Writing model shards") off for the block, unless
    ``TRANSFORMERS_IR_VERBOSE=1`` (the CLI's ``--verbose``): our stages show their own progress. The user's setting
    is restored afterwards."""
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    if shown and not engine_verbose():
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            hf_logging.enable_progress_bar()


def load_pretrained(model_class, path, **kwargs):
    """``model_class.from_pretrained(path, output_loading_info=True, **kwargs)`` without Hugging Face's own
    progress bar (:func:`hugging_face_bars_off`).

    Args:
        model_class: a Hugging Face model class (``AutoModel``, ``AutoModelForMaskedLM``, ...).
        path: the checkpoint folder.
        **kwargs: ``from_pretrained``'s other arguments.

    Returns:
        ``(model, loading info)``.
    """
    with hugging_face_bars_off():
        return model_class.from_pretrained(path, output_loading_info=True, **kwargs)


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

    Raises:
        CorruptFile: a settings file that is truncated or not a JSON object.
    """
    for name in (SETTINGS_FILE, *LEGACY_SETTINGS_FILES):
        if (path / name).is_file():
            return read_json(path / name, fix="save the model again (save_pretrained), or delete the file for "
                                              "its defaults")
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
        CorruptFile: a shard index that is not JSON or names no ``weight_map``.
    """
    for name in WEIGHTS_FILES:
        if (path / name).is_file():
            return [path / name]
    for name in SHARD_INDEX_FILES:
        if (path / name).is_file():
            weight_map = read_json(path / name, fix="copy the complete checkpoint folder again").get("weight_map")
            if not isinstance(weight_map, dict):
                raise CorruptFile(f"{path / name} has no weight_map: copy the complete checkpoint folder again")
            shards = sorted(set(weight_map.values()))
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
        IncompleteCheckpoint: neither the checkpoint nor a backbone has a vocabulary file (:data:`VOCABULARY_FILES`).
    """
    from transformers import AutoTokenizer

    if any((path / f).is_file() for f in VOCABULARY_FILES):
        source = str(path)
    elif backbone is not None:
        source = resolve_model(backbone)
        require_vocabulary(source, backbone)
    else:
        raise IncompleteCheckpoint(f"checkpoint {path} has no tokenizer (none of {', '.join(VOCABULARY_FILES)}): "
                                   "save the tokenizer with it, or pass backbone=<the model whose tokenizer it uses>")
    return AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)


def require_vocabulary(path: str | Path, name: str) -> None:
    """A local checkpoint folder must hold a tokenizer's vocabulary (one of :data:`VOCABULARY_FILES`).

    Args:
        path: the folder (anything else, e.g. a hub name, is left to Hugging Face).
        name: the checkpoint's name, for the message.

    Raises:
        IncompleteCheckpoint: a folder without any vocabulary file.
    """
    path = Path(path)
    if path.is_dir() and not any((path / f).is_file() for f in VOCABULARY_FILES):
        raise IncompleteCheckpoint(f"checkpoint {name!r} ({path}) has no tokenizer: none of "
                                   f"{', '.join(VOCABULARY_FILES)}; save the tokenizer with the model "
                                   f"(tokenizer.save_pretrained(folder)) or copy its files there")


def check_tokenizer_fits(tokenizer, vocab_size: int | None, name: str) -> None:
    """The tokenizer's ids must fit the model's embeddings, and cover most of them (a tokenizer of a few tokens
    for a model of thousands belongs to something else).

    Args:
        tokenizer: the loaded tokenizer.
        vocab_size: the model's embedding rows (``config.vocab_size``; None skips the check).
        name: the checkpoint's name, for the message.

    Raises:
        IncompleteCheckpoint: more tokens than embeddings, or fewer than a quarter of them.
    """
    if not vocab_size:
        return
    size = len(tokenizer)
    if size > vocab_size or size < vocab_size // 4:
        raise IncompleteCheckpoint(f"the tokenizer of {name!r} has {size} tokens but the model has {vocab_size} "
                                   f"embeddings: the tokenizer files are missing or belong to another model; save "
                                   f"the model's own tokenizer with it")


def head_keys(keys: Iterable[str], base_prefix: str) -> set[str]:
    """The keys of a task head on top of the base model: outside ``base_prefix`` (``classifier.*``), or its
    pooler (``bert.pooler.*``), which only the classification head reads.

    Args:
        keys: weight names.
        base_prefix: the base model's prefix (``model.base_model_prefix``, e.g. ``"bert"``).

    Returns:
        The head's keys among ``keys``.
    """
    prefix = f"{base_prefix}." if base_prefix else ""
    return {k for k in keys if not k.startswith(prefix) or k[len(prefix):].startswith("pooler.")}


def refuse_missing_weights(info: dict, name: str, *, base_prefix: str = "", new_head: bool = False,
                           what: str = "model") -> None:
    """Refuse a checkpoint Hugging Face loaded with weights missing (``from_pretrained(...,
    output_loading_info=True)``): they would be random.

    Args:
        info: Hugging Face's loading info (``missing_keys``).
        name: the checkpoint's name, for the message.
        base_prefix: the base model's prefix (see :func:`head_keys`).
        new_head: a new head was asked for (``num_labels=``): the head's own keys may be missing.
        what: what the checkpoint should be, for the message.

    Raises:
        IncompleteCheckpoint: naming the missing keys (the first eight) and the fix.
    """
    missing = set(info.get("missing_keys") or ())
    if new_head:
        missing -= head_keys(missing, base_prefix)
    if missing:
        shown = ", ".join(sorted(missing)[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        fix = ("give the complete checkpoint" if new_head else
               "give the complete checkpoint, or pass num_labels=N to put a new, randomly initialised head on a "
               "bare encoder (then train it)")
        raise IncompleteCheckpoint(f"checkpoint {name!r} lacks {len(missing)} weights of the {what} ({shown}): they "
                                   f"would be random, and scores would change from one load to the next: {fix}")


#: Where an encoder keeps its stack of layers, under the base model (``model.base_model``): BERT, MiniLM, RoBERTa,
#: ELECTRA and DeBERTa(-v2/v3) at ``encoder.layer``, DistilBERT at ``transformer.layer``.
LAYER_STACKS = ("encoder.layer", "transformer.layer")


def _layer_stack(model):
    """``(holder, stack)``: the ``nn.ModuleList`` of ``model``'s encoder layers (see :data:`LAYER_STACKS`) and the
    module holding it as ``.layer``; None when neither place has one."""
    import torch

    base = getattr(model, "base_model", model)
    for dotted in LAYER_STACKS:
        holder = getattr(base, dotted.split(".")[0], None)
        stack = getattr(holder, "layer", None)
        if isinstance(stack, torch.nn.ModuleList):
            return holder, stack
    return None


def chosen_layers(total: int, *, num_hidden_layers: int | None = None, layers=None, name: str = "model") -> list[int]:
    """The encoder layers a student keeps: the first ``num_hidden_layers``, or the listed ``layers``.

    Args:
        total: the checkpoint's layer count.
        num_hidden_layers: keep the first k (1 <= k <= total).
        layers: keep these (0-based, increasing, each once, each < total).
        name: the checkpoint's name, for the messages.

    Returns:
        The kept layers' indices, in order.

    Raises:
        ValueError: both or a bad count or list (the message names both numbers, or the bad entries).
    """
    if num_hidden_layers is not None and layers is not None:
        raise ValueError("give num_hidden_layers=k (the first k layers) or layers=[...] (those layers), not both")
    if num_hidden_layers is not None:
        if isinstance(num_hidden_layers, bool) or not isinstance(num_hidden_layers, int) or num_hidden_layers < 1:
            raise ValueError(f"num_hidden_layers must be a positive whole number, got {num_hidden_layers!r}")
        if num_hidden_layers > total:
            raise ValueError(f"num_hidden_layers={num_hidden_layers} is more than the {total} layers of {name!r}: "
                             f"give at most {total}")
        return list(range(num_hidden_layers))
    if layers is None:
        return list(range(total))
    layers = list(layers)
    if not layers or any(isinstance(i, bool) or not isinstance(i, int) for i in layers):
        raise ValueError(f"layers must be a non-empty list of layer numbers (0-based), got {layers!r}")
    outside = [i for i in layers if not 0 <= i < total]
    if outside:
        raise ValueError(f"layers {outside} are not layers of {name!r}, which has {total} (numbered 0 to "
                         f"{total - 1})")
    if layers != sorted(set(layers)):
        raise ValueError(f"layers must be increasing and name each layer once, got {layers}: a student keeps the "
                         f"teacher's layers in their order")
    return layers


def keep_layers(model, *, num_hidden_layers: int | None = None, layers=None, name: str = "model"):
    """Cut a Hugging Face encoder (BERT, MiniLM, DistilBERT, RoBERTa, DeBERTa-v2/v3, ...) down to some of its
    layers, in place: the kept layers keep their weights (a student that starts from what its teacher knows), the
    embeddings and head are untouched, and the config's ``num_hidden_layers`` is updated, so that
    ``save_pretrained`` writes a folder that reloads as the smaller model.

    Args:
        model: the loaded model (``AutoModelFor...``).
        num_hidden_layers: keep the first k layers.
        layers: or keep these layers (0-based, increasing).
        name: the checkpoint's name, for the messages.

    Returns:
        ``model``, with ``len(kept)`` layers.

    Raises:
        ValueError: an architecture whose layers are not found, or a bad count or list (:func:`chosen_layers`).
    """
    import torch

    found = _layer_stack(model)
    if found is None:
        raise ValueError(f"cannot keep some layers of {name!r} ({type(model).__name__}): its layers are not at "
                         f"{' or '.join(LAYER_STACKS)}; load it whole")
    holder, stack = found
    kept = chosen_layers(len(stack), num_hidden_layers=num_hidden_layers, layers=layers, name=name)
    new = torch.nn.ModuleList([stack[i] for i in kept])
    for index, layer in enumerate(new):  # attention modules that number themselves (caches) follow the new order
        for module in layer.modules():
            if isinstance(getattr(module, "layer_idx", None), int):
                module.layer_idx = index
    holder.layer = new
    model.config.num_hidden_layers = len(kept)  # DistilBERT maps it to n_layers
    return model
