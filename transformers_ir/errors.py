"""The errors transformers-ir raises on problems the user can fix. Each message names the problem and the fix.

Every error is a :class:`TransformersIRError` (the CLI reports it as one line, without a traceback, and exits with
its ``exit_code``, 2) and also the built-in exception it is a kind of, so code that catches ``ValueError`` or
``OSError`` keeps working:

| error | also a | raised for |
|---|---|---|
| :class:`UsageError` | ``ValueError`` | bad command-line arguments, pipeline files or configs (exit 2) |
| :class:`OutputExists` | ``ValueError`` | an output path holding what transformers-ir did not write (exit 2) |
| :class:`PipelineFileError` | ``ValueError`` | a problem in a pipeline file, with its line |
| :class:`ConfigError` | ``ValueError`` | a problem in a training config, with its key |
| :class:`BadTeacherScores` | ``ValueError`` | teacher scores that miss training pairs, are NaN/infinite or constant |
| :class:`DatasetUnavailable` | ``LookupError`` | a dataset neither offline nor downloadable, or an unknown id |
| :class:`RankingError` | ``ValueError`` | NaN/infinite scores, a (qid, docno) pair ranked twice |
| :class:`DocnoNotInCorpus` | ``LookupError`` | results naming documents the corpus does not hold |
| :class:`SystemFailed` | ``RuntimeError`` | a system's stage failing inside a library (names the system and stage) |
| :class:`IncompleteCheckpoint` | ``ValueError`` | a checkpoint lacking weights its model needs, or its tokenizer |
| :class:`ModelMismatch` | ``ValueError`` | a bi-encoder's query and document models of different dimensions |
| :class:`CorruptFile` | ``ValueError`` | a JSON file of ours that is truncated, not JSON or not the shape written |
| :class:`CorruptIndex` | ``RuntimeError`` | an index whose files changed since it was built |
| :class:`IndexMismatch` | ``ValueError`` | an index built by another model than the one retrieving from it |
| :class:`CacheMismatch` | ``RuntimeError`` | a cache folder of another configuration, version or tool |
| :class:`CacheWriteError` | ``OSError`` | a cache that could not be read or written (disk full, permissions) |
| :class:`UnsafeArchive` | ``ValueError`` | an archive member that would land outside its folder, or a link |
| :class:`UnsafeWeights` | ``ValueError`` | weights that cannot be loaded without running code |
| :class:`UnsafeDocstore` | ``ValueError`` | a pickled object other than plain document values in ir_datasets' cache |
"""
from __future__ import annotations

from pathlib import Path


class TransformersIRError(Exception):
    """Base class: a problem the user can fix, reported by the CLI as one line without a traceback (exit 2)."""

    exit_code = 2


class UsageError(TransformersIRError, ValueError):
    """Bad command-line arguments or a bad pipeline/config file (exit 2)."""

    exit_code = 2


class PipelineFileError(UsageError):
    """A problem in a pipeline file: the message names the file, the line where known, and the fix.

    Args:
        path: the pipeline file.
        message: what is wrong and how to fix it.
        line: the line it was found on (1-based), when known.
    """

    def __init__(self, path: Path, message: str, line: int | None = None):
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")
        self.path, self.line = path, line


class ConfigError(UsageError):
    """A problem in a training config; the message names the file, the key and the fix (exit 2)."""


class BadTeacherScores(UsageError):
    """Teacher scores a student cannot learn from, refused before training: pairs the training groups can draw
    that have no score, NaN or infinite scores, or scores constant within every group (exit 2)."""


class OutputExists(UsageError):
    """The output path holds something transformers-ir did not write, or an earlier output without ``--force``."""


class DatasetUnavailable(TransformersIRError, LookupError):
    """A dataset that is neither in the offline data folder nor downloadable, or an id ir_datasets does not know."""


class RankingError(TransformersIRError, ValueError):
    """Scores or rows that cannot be ranked or evaluated correctly (NaN/inf scores, a pair ranked twice)."""


class DocnoNotInCorpus(TransformersIRError, LookupError):
    """Results naming documents the corpus does not hold (a run of another collection)."""


class SystemFailed(TransformersIRError, RuntimeError):
    """A system's stage failed inside a library (PyTerrier, Java, pandas, a model): the message names the system,
    the stage and the error."""


class ModelMismatch(TransformersIRError, ValueError):
    """Two models that must agree do not: a bi-encoder's query model whose vectors differ in size from its document
    model's; the message names both and the fix."""


class CorruptFile(TransformersIRError, ValueError):
    """A JSON file of ours that is unreadable (truncated, not UTF-8, not JSON, or not the shape expected)."""


class CorruptIndex(TransformersIRError, RuntimeError):
    """A built index whose files no longer match the sizes or checksums recorded when it was built."""


class IndexMismatch(TransformersIRError, ValueError):
    """An index opened with a model other than the one that built it (a vector index of another bi-encoder): the
    message names both models and the fix (rebuild the index, or use the model that built it)."""


class IncompleteCheckpoint(TransformersIRError, ValueError):
    """A checkpoint lacking weights its architecture needs (they would be random), or a tokenizer's files."""


class CacheMismatch(TransformersIRError, RuntimeError):
    """A cache folder that belongs to another configuration, another version or no cache at all."""


class CacheWriteError(TransformersIRError, OSError):
    """The cache could not be read or written (disk full, permissions); the batch was not kept."""


class UnsafeArchive(TransformersIRError, ValueError):
    """An archive member would land outside the destination, or is a link or device: nothing was extracted."""


class UnsafeWeights(TransformersIRError, ValueError):
    """Weights that cannot be loaded without running code: pickled objects, or a torch too old to refuse them."""


class UnsafeDocstore(TransformersIRError, ValueError):
    """A document store in ir_datasets' cache holding a pickled object other than a document's plain values."""


__all__ = ["CacheMismatch", "CacheWriteError", "ConfigError", "CorruptFile", "CorruptIndex", "DatasetUnavailable",
           "DocnoNotInCorpus", "IncompleteCheckpoint", "IndexMismatch", "ModelMismatch", "OutputExists",
           "PipelineFileError", "RankingError", "SystemFailed", "TransformersIRError", "UnsafeArchive",
           "UnsafeDocstore", "UnsafeWeights", "UsageError"]
