"""Components of the first stages: BM25 and other Terrier models, fusion, stored runs, and document text."""
from __future__ import annotations

from typing import TYPE_CHECKING

from transformers_ir import data, first_stage
from transformers_ir._options import Engine, FusionMethod
from transformers_ir.registry import Context, component

if TYPE_CHECKING:  # annotations only: listing the components imports no PyTerrier
    import pyterrier as pt


@component("bm25")
def _bm25(ctx: Context, *, engine: Engine = "pisa", k1: float | None = None, b: float | None = None,
          num_results: int = 1000) -> pt.Transformer:
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
    return data.text_loader(ctx.dataset, text_field=text_field)


@component("run")
def _run(ctx: Context, *, path: str) -> pt.Transformer:
    """A TREC run file produced elsewhere (path relative to the pipeline file), to evaluate as a system."""
    file = (ctx.base_dir / path).expanduser()
    if not file.is_file():
        raise FileNotFoundError(f"run file {file} does not exist: give its path relative to the pipeline file")
    return first_stage.stored_run(file)


@component("fusion")
def _fusion(ctx: Context, *, systems: list[str], method: FusionMethod = "rrf", k: float = 60.0,
            weights: list[float] | None = None, num_results: int = 1000) -> pt.Transformer:
    """Fuse systems defined earlier in the file (by name): reciprocal rank fusion or score interpolation."""
    unknown = [s for s in systems if s not in ctx.systems]
    if unknown:
        raise ValueError(f"fusion names systems {unknown} that are not defined above it "
                         f"(defined: {', '.join(ctx.systems) or 'none'}): list them earlier in the file")
    return first_stage.Fusion([ctx.systems[s] for s in systems], method=method, k=k, weights=weights,
                              num_results=num_results)
