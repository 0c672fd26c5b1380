"""Components available to every pipeline file: first stages, document text, stored runs."""
from __future__ import annotations

from typing import Literal

import pyterrier as pt

from transformers_ir import first_stage
from transformers_ir.data import text_loader
from transformers_ir.experiments._registry import Context, component


@component("bm25")
def _bm25(ctx: Context, *, engine: Literal["terrier", "pisa"] = "pisa", k1: float | None = None,
          b: float | None = None, num_results: int = 1000) -> pt.Transformer:
    """BM25 over the dataset's corpus (Terrier or PISA; k1/b default to each engine's own)."""
    return first_stage.bm25(ctx.dataset, engine=engine, k1=k1, b=b, num_results=num_results, verbose=ctx.verbose)


@component("terrier")
def _terrier(ctx: Context, *, wmodel: str = "BM25", num_results: int = 1000,
             controls: dict | None = None) -> pt.Transformer:
    """Any Terrier weighting model over the dataset's Terrier index (e.g. wmodel = "TF_IDF", "DPH", "PL2")."""
    return first_stage.terrier(ctx.dataset, wmodel=wmodel, num_results=num_results, controls=controls,
                               verbose=ctx.verbose)


@component("text")
def _text(ctx: Context, *, text_field: str = "text") -> pt.Transformer:
    """Add the documents' text (title and body joined) for re-rankers: pt.text.get_text over the dataset."""
    return text_loader(ctx.dataset, text_field=text_field)


@component("run")
def _run(ctx: Context, *, path: str) -> pt.Transformer:
    """A TREC run file produced elsewhere (path relative to the pipeline file), to evaluate as a system."""
    file = (ctx.base_dir / path).expanduser()
    if not file.is_file():
        raise FileNotFoundError(f"run file {file} does not exist: give its path relative to the pipeline file")
    return pt.Transformer.from_df(pt.io.read_results(str(file)), uniform=False)
