"""transformers-ir: multi-stage neural ranking on PyTerrier.

Importing the package points ir_datasets at the project's offline cache (``IR_DATASETS_HOME``) unless the user
set it already; this must happen before ir_datasets is first imported, because its dataset modules read the
cache folder at import time. See :mod:`transformers_ir._paths`.
"""
from transformers_ir import _paths

_paths.configure_environment()

__version__ = "0.1.0"

__all__ = ["__version__"]
