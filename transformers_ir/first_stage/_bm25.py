"""One small factory over both BM25 engines, with indexes built once per dataset and engine."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pyterrier as pt

from transformers_ir import _paths
from transformers_ir._options import ENGINES, Engine
from transformers_ir._quiet import SCREEN
from transformers_ir.data import corpus_id
from transformers_ir.indexes import IndexArtifact, PisaIndex, TerrierIndex

_log = logging.getLogger(__name__)


def _new_index(engine: str, path: Path) -> IndexArtifact:
    if engine == "terrier":
        return TerrierIndex(path)  # Java starts only when the index is built or searched
    if engine == "pisa":
        return PisaIndex(path)
    raise ValueError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")


def dataset_index(dataset, engine: Engine = "pisa", *, root: str | Path | None = None, verbose: bool = False):
    """The index of a dataset's corpus for an engine: reopened from disk when built, built once otherwise.

    Indexes live in ``<root>/<corpus id>/<engine>`` (root defaults to ``$TRANSFORMERS_IR_HOME/indexes``).
    A folder left by an interrupted build (no completion marker) is detected, removed and rebuilt.

    Args:
        dataset: the dataset whose corpus is indexed (datasets sharing a corpus share the index).
        engine: ``'pisa'`` or ``'terrier'``.
        root: the folder of the indexes.
        verbose: show progress while building.

    Returns:
        The :class:`~transformers_ir.indexes.PisaIndex` or :class:`~transformers_ir.indexes.TerrierIndex`.
    """
    path = Path(root or _paths.index_dir()) / _paths.slug(corpus_id(dataset)) / engine
    index = _new_index(engine, path)
    if index.built():
        return index
    if index.incomplete():
        _log.warning("%s holds an interrupted build (no completion marker): rebuilding it", path)
        shutil.rmtree(path)
    fields = dataset.text_fields() if hasattr(dataset, "text_fields") else ["text"]
    try:
        # our bar on the screen: the dataset's own would be created outside the build's capture and then hidden
        docs = pt.tqdm(dataset.get_corpus_iter(verbose=False), desc=f"{corpus_id(dataset)} documents", unit="doc",
                       disable=not verbose, file=SCREEN)
        index.build(docs, fields=fields)
    except FileExistsError:
        if not index.built():
            raise
        _log.info("%s was built by another process meanwhile: using it", path)  # the same corpus, the same index
    return index


def bm25(
    dataset,
    *,
    engine: Engine = "pisa",
    k1: float | None = None,
    b: float | None = None,
    num_results: int = 1000,
    verbose: bool = False,
) -> pt.Transformer:
    """BM25 over a dataset's corpus with Terrier or PISA; the index is built on first use.

    ``k1``/``b`` default to each engine's own defaults (Terrier 1.2/0.75; PISA, like Anserini, 0.9/0.4).

    Example::

        dataset = transformers_ir.data.get_dataset('irds:beir/scifact/test')
        pipeline = bm25(dataset, engine='pisa') % 100 >> text_loader(dataset) >> reranker

    Args:
        dataset: the dataset whose corpus is searched (indexed on first use, see :func:`dataset_index`).
        engine: ``'pisa'`` (no Java) or ``'terrier'``.
        k1: BM25's term-frequency saturation (default: the engine's).
        b: BM25's length normalisation (default: the engine's).
        num_results: results per query.
        verbose: show progress.

    Returns:
        The retriever (queries in, ranked results out).
    """
    index = dataset_index(dataset, engine, verbose=verbose)
    kwargs = {k: v for k, v in {"k1": k1, "b": b}.items() if v is not None}
    return index.bm25(num_results=num_results, verbose=verbose, **kwargs)


def terrier(dataset, *, wmodel: str = "BM25", num_results: int = 1000, controls: dict | None = None,
            verbose: bool = False) -> pt.Transformer:
    """Any Terrier weighting model (``'TF_IDF'``, ``'DPH'``, ``'PL2'``, ...) over the dataset's Terrier index.

    Args:
        dataset: the dataset whose corpus is searched (indexed on first use).
        wmodel: Terrier's weighting model.
        num_results: results per query.
        controls: Terrier controls (e.g. ``{"c": 0.5}``).
        verbose: show progress.

    Returns:
        The retriever.
    """
    index = dataset_index(dataset, "terrier", verbose=verbose)
    return index.retriever(wmodel, num_results=num_results, controls=controls, verbose=verbose)
