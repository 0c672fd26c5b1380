"""The errors transformers-ir raises on bad input. Each message names the problem and the fix."""


class TransformersIRError(Exception):
    """Base class: a problem the user can fix, reported without a traceback by the CLI (exit 1)."""

    exit_code = 1


class UsageError(TransformersIRError):
    """Bad command-line arguments or a bad pipeline/config file (exit 2)."""

    exit_code = 2


class DatasetUnavailable(TransformersIRError):
    """A dataset that is neither in the offline data folder nor downloadable."""
