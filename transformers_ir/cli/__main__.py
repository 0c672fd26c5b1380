"""``python -m transformers_ir.cli``: the same as the ``transformers-ir`` command."""
import sys

from transformers_ir.cli import main

sys.exit(main())
