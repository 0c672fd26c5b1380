"""Terrier's jars, fetched once from Maven Central into ``~/.pyterrier`` (what ``transformers-ir prepare`` does)."""
from __future__ import annotations

import pyterrier as pt

from transformers_ir._quiet import engine_output


def prepare_terrier() -> None:
    """Start PyTerrier's Java side, which downloads Terrier's jars the first time (the PISA and neural paths need
    no Java; only Terrier indexes do)."""
    with engine_output("starting Java for Terrier"):
        pt.java.init()
