"""The reproducibility record of a run (``manifest.json`` in ``--out``): enough to regenerate its results.

It holds the pipeline file (text and SHA-256), the datasets, each system's stages with the resolved
component, its parameters, the transformer's ``repr`` and cache key (model names, weights hashes, heads,
max lengths, dtypes, pooling), the settings found on the transformers (batch sizes, devices...), the caches
used, the library versions, the seeds and the machine.
"""
from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
import time

from transformers_ir._identity import file_hash
from transformers_ir._version import __version__
from transformers_ir.caching import cache_key
from transformers_ir.experiments._efficiency import pipeline_parts
from transformers_ir.experiments._runner import ExperimentResult

#: Distributions whose versions decide the results.
PACKAGES = ("python-terrier", "pyterrier-pisa", "ir_datasets", "ir_measures", "torch",
            "transformers", "tokenizers", "safetensors", "numpy", "pandas", "scipy")
#: Attributes of a transformer worth recording when it has them.
SETTINGS = ("batch_size", "max_length", "query_max_length", "doc_max_length", "dtype", "device", "pooling",
            "text_field", "num_results", "verbose", "precision")


def _versions() -> dict[str, str | None]:
    out = {"transformers-ir": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _seeds() -> dict:
    seeds = {"PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED")}
    torch = sys.modules.get("torch")
    if torch is not None:
        seeds["torch"] = torch.initial_seed()
    return seeds


def _settings(transformer) -> dict:
    found = {}
    for part in pipeline_parts(transformer):
        for name in SETTINGS:
            value = getattr(part, name, None)
            if value is not None and not callable(value):
                found.setdefault(name, value if isinstance(value, (bool, int, float)) else str(value))
        choice = getattr(part, "precision_choice", None)  # what ran and why ('auto' differs machine to machine)
        if choice is not None:
            found.setdefault("precision_choice", choice.as_dict())
    return found


def _safe_key(transformer) -> dict | None:
    try:
        return cache_key(transformer)
    except Exception as e:  # a record must not fail the run: say why the key is missing
        return {"error": f"{type(e).__name__}: {e}"}


def manifest(result: ExperimentResult) -> dict:
    spec = result.spec
    text = spec.path.read_bytes()
    systems = []
    for system, run in zip(spec.systems, result.runs):
        stages = []
        for stage, timing, transformer, cache in zip(system.stages, run.stages, run.transformers, run.caches):
            stages.append({
                "component": stage.component, "params": stage.params, "cutoff": stage.cutoff,
                "repr": repr(transformer), "cache_key": _safe_key(transformer), "settings": _settings(transformer),
                "cache": cache, "source": timing.source,
            })
        systems.append({"name": system.name, "stages": stages})
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": sys.argv,
        "pipeline_file": {"path": str(spec.path.resolve()), "sha256": file_hash(spec.path),
                          "text": text.decode("utf-8")},
        "datasets": {"topics": spec.topics, "qrels": spec.qrels, "corpus": spec.corpus,
                     "num_topics": len(result.topics), "num_qrels": len(result.qrels)},
        "evaluation": {"metrics": spec.metrics, "baseline": spec.baseline, "correction": spec.correction,
                       "test": spec.test},
        "systems": systems,
        "versions": _versions(),
        "seeds": _seeds(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "device": _device(),
                    "hardware": _hardware()},
    }


def _device() -> str:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return "cpu"


def _hardware() -> str | None:
    """The hardware class ``precision='auto'`` decides by (:func:`transformers_ir._device.hardware_class`), when
    the run loaded torch."""
    if "torch" not in sys.modules:
        return None
    from transformers_ir import _device as device

    return device.hardware_class(device.infer_device())
