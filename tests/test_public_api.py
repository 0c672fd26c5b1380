"""The public surface: the top-level names, the errors (each also its built-in kind), no private names exported."""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

import transformers_ir
from transformers_ir import errors

PACKAGES = sorted(m.name for m in pkgutil.iter_modules(transformers_ir.__path__, "transformers_ir.") if m.ispkg)


def test_the_top_level_names_resolve():
    for name in transformers_ir.__all__:
        assert getattr(transformers_ir, name) is not None, name
    from transformers_ir import CrossEncoder, bm25, get_dataset, text_loader  # what the README imports

    assert CrossEncoder.__module__ == "transformers_ir.cross_encoders._cross_encoder"
    assert callable(bm25) and callable(get_dataset) and callable(text_loader)


@pytest.mark.parametrize("error, builtin", [
    (errors.UsageError, ValueError), (errors.PipelineFileError, ValueError), (errors.ConfigError, ValueError),
    (errors.BadTeacherScores, ValueError),
    (errors.DatasetUnavailable, LookupError), (errors.RankingError, ValueError),
    (errors.CorruptIndex, RuntimeError), (errors.CacheMismatch, RuntimeError), (errors.CacheWriteError, OSError),
    (errors.UnsafeArchive, ValueError), (errors.UnsafeWeights, ValueError), (errors.UnsafeDocstore, ValueError),
    (errors.OutputExists, ValueError), (errors.IncompleteCheckpoint, ValueError), (errors.CorruptFile, ValueError),
    (errors.DocnoNotInCorpus, LookupError), (errors.SystemFailed, RuntimeError), (errors.ModelMismatch, ValueError),
    (errors.IndexMismatch, ValueError),
])
def test_every_error_is_also_its_builtin_kind(error, builtin):
    assert issubclass(error, errors.TransformersIRError) and issubclass(error, builtin)
    raised = error(Path("p.toml"), "bad") if error is errors.PipelineFileError else error("bad")
    with pytest.raises(builtin, match="bad"):
        raise raised


def test_every_error_class_lives_in_errors():
    """One home: the packages re-export the errors of transformers_ir.errors, they define none."""
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, Exception):
                assert value.__module__ == "transformers_ir.errors", f"{package}.{name}"


@pytest.mark.parametrize("package", ["transformers_ir", *PACKAGES])
def test_all_names_no_private_name(package):
    module = importlib.import_module(package)
    assert len(set(module.__all__)) == len(module.__all__), "a name listed twice"
    assert not [n for n in module.__all__ if n.startswith("_") and n != "__version__"]
