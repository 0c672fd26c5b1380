"""The sentence-transformers folder layout, read and written: ``modules.json`` (a Transformer, a Pooling, an
optional Normalize), ``1_Pooling/config.json``, ``sentence_bert_config.json`` (``max_seq_length``) and
``config_sentence_transformers.json`` (prompts, similarity). A folder without them is a plain Hugging Face
encoder; what they do not say is left to the caller's defaults.

Only what a bi-encoder of this family computes is accepted: one of mean / CLS / last-token pooling, optional
normalisation, dot or cosine similarity. Anything else (a Dense projection, max pooling, several poolings
concatenated, euclidean similarity) is refused by name rather than silently dropped, which would change every
vector.
"""
from __future__ import annotations

import json
from pathlib import Path

from transformers_ir._jsonfile import read_json
from transformers_ir.errors import UsageError

MODULES_FILE = "modules.json"
POOLING_FOLDER = "1_Pooling"
NORMALIZE_FOLDER = "2_Normalize"
ST_CONFIG = "sentence_bert_config.json"
ST_MODEL_CONFIG = "config_sentence_transformers.json"
_MODULE = "sentence_transformers.models."
_POOLING_MODES = {"mean": "pooling_mode_mean_tokens", "cls": "pooling_mode_cls_token",
                  "last": "pooling_mode_lasttoken"}
_OTHER_MODES = ("pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens")
_SIMILARITIES = {"cosine": "cos", "dot": "dot", "dot_product": "dot"}
_FIX = "use sentence-transformers for this model, or a checkpoint with mean, CLS or last-token pooling"


def _fix(path: Path) -> str:
    return f"the sentence-transformers files of {path} are damaged: copy the model folder again"


def read_folder(path: Path) -> tuple[Path, dict]:
    """Where the encoder's weights are and the settings the sentence-transformers files give.

    Args:
        path: a model folder (sentence-transformers or plain Hugging Face).

    Returns:
        ``(the Transformer module's folder, settings)``; settings has ``pooling`` only when a Pooling module says
        it, ``normalize`` and ``similarity`` only for a sentence-transformers folder, the prefixes when prompts
        name them, and both max lengths when ``max_seq_length`` is given.

    Raises:
        UsageError: a module or pooling mode this family does not compute, named.
    """
    settings: dict = {}
    encoder = path
    if (path / MODULES_FILE).is_file():
        modules = read_json(path / MODULES_FILE, fix=_fix(path), expect=list)
        settings["normalize"] = False
        for module in modules:
            kind = str(module.get("type", ""))
            where = path / str(module.get("path", ""))
            short = kind.rsplit(".", 1)[-1]  # sentence-transformers 6 moved its modules: match the class name
            if short == "Transformer" and kind.startswith("sentence_transformers."):
                encoder = where
            elif short == "Pooling" and kind.startswith("sentence_transformers."):
                settings.update(_read_pooling(where / "config.json"))
            elif short == "Normalize" and kind.startswith("sentence_transformers."):
                settings["normalize"] = True
            else:
                raise UsageError(f"{path}: module {kind!r} ({module.get('path')!r}) is not supported by BiEncoder "
                                 f"(Transformer, Pooling and Normalize are): {_FIX}")
        settings["similarity"] = "cos"  # sentence-transformers' default when its config names none
        length = _max_seq_length(encoder, path)
        if length is not None:
            settings["query_max_length"] = settings["doc_max_length"] = length
    if (path / ST_MODEL_CONFIG).is_file():
        config = read_json(path / ST_MODEL_CONFIG, fix=_fix(path))
        name = config.get("similarity_fn_name")
        if name is not None:
            if name not in _SIMILARITIES:
                raise UsageError(f"{path}: similarity {name!r} is not supported (cosine or dot): {_FIX}")
            settings["similarity"] = _SIMILARITIES[name]
        prompts = config.get("prompts") or {}
        if prompts.get("query"):
            settings["query_prefix"] = prompts["query"]
        for key in ("document", "passage", "doc", "corpus"):
            if prompts.get(key):
                settings["doc_prefix"] = prompts[key]
                break
    return encoder, settings


def _max_seq_length(encoder: Path, path: Path) -> int | None:
    """sentence-transformers' ``max_seq_length``: its config's (up to version 5), else the tokenizer's
    ``model_max_length`` (where version 6 keeps it), when it is a real limit."""
    for folder in dict.fromkeys((encoder, path)):
        if (folder / ST_CONFIG).is_file():
            length = read_json(folder / ST_CONFIG, fix=_fix(path)).get("max_seq_length")
            if isinstance(length, int):
                return length
    if (encoder / "tokenizer_config.json").is_file():
        length = read_json(encoder / "tokenizer_config.json", fix=_fix(path)).get("model_max_length")
        if isinstance(length, int) and 0 < length < 1_000_000:  # tokenizers without a limit say 1e30
            return length
    return None


def _read_pooling(file: Path) -> dict:
    config = read_json(file, fix=_fix(file.parent.parent))
    mode = config.get("pooling_mode")  # sentence-transformers 6: one name or a list; before: one flag per mode
    if mode is not None:
        modes = [mode] if isinstance(mode, str) else list(mode)
    else:
        names = {**{key: name for name, key in _POOLING_MODES.items()}, **{key: key for key in _OTHER_MODES}}
        modes = [name for key, name in names.items() if config.get(key)]
    chosen = {"lasttoken": "last"}.get(modes[0], modes[0]) if len(modes) == 1 else None
    if chosen not in _POOLING_MODES:
        raise UsageError(f"{file}: pooling {modes or 'none'} is not supported (exactly one of mean, CLS or "
                         f"last-token): {_FIX}")
    if config.get("include_prompt") is False:
        raise UsageError(f"{file}: include_prompt = false (the prompt's tokens left out of the pooling) is not "
                         f"supported: {_FIX}")
    return {"pooling": chosen}


def write_folder(path: Path, *, dim: int, pooling: str, normalize: bool, similarity: str, query_prefix: str,
                 doc_prefix: str, max_seq_length: int) -> None:
    """Write the sentence-transformers files beside a saved Hugging Face encoder (weights and tokenizer in
    ``path`` itself), so ``SentenceTransformer(path)`` loads the same model.

    Args:
        path: the folder being written.
        dim: the vectors' dimension.
        pooling: ``'mean'``, ``'cls'`` or ``'last'``.
        normalize: add a Normalize module.
        similarity: ``'dot'`` or ``'cos'``.
        query_prefix, doc_prefix: written as the ``query`` and ``document`` prompts.
        max_seq_length: the tokens sentence-transformers keeps per text.
    """
    modules = [{"idx": 0, "name": "0", "path": "", "type": _MODULE + "Transformer"},
               {"idx": 1, "name": "1", "path": POOLING_FOLDER, "type": _MODULE + "Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": NORMALIZE_FOLDER, "type": _MODULE + "Normalize"})
        (path / NORMALIZE_FOLDER).mkdir()
    (path / MODULES_FILE).write_text(json.dumps(modules, indent=2) + "\n")
    (path / POOLING_FOLDER).mkdir()
    pooling_config = {"word_embedding_dimension": dim, **{key: name == pooling for name, key in _POOLING_MODES.items()},
                      **dict.fromkeys(_OTHER_MODES, False), "include_prompt": True}
    (path / POOLING_FOLDER / "config.json").write_text(json.dumps(pooling_config, indent=2) + "\n")
    (path / ST_CONFIG).write_text(json.dumps({"max_seq_length": max_seq_length, "do_lower_case": False}) + "\n")
    config = {"prompts": {"query": query_prefix, "document": doc_prefix}, "default_prompt_name": None,
              "similarity_fn_name": "cosine" if similarity == "cos" else "dot"}
    (path / ST_MODEL_CONFIG).write_text(json.dumps(config, indent=2) + "\n")
