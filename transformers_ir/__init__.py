"""transformers-ir: multi-stage neural ranking on PyTerrier.

Importing the package points ir_datasets at the project's offline cache (``IR_DATASETS_HOME``) unless the user
set it already; this must happen before ir_datasets is first imported, because its dataset modules read the
cache folder at import time. See :mod:`transformers_ir._paths`.
"""
from transformers_ir import _paths
from transformers_ir._version import __version__

_paths.configure_environment()

__all__ = ["__version__"]
