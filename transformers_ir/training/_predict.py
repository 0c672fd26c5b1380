"""Teacher scores of a run's pairs, as ``transformers-ir predict`` writes them: the re-ranker's scores of each
query's top documents (and its judged positives), with their provenance."""
from __future__ import annotations

from pathlib import Path

import pyterrier as pt

from transformers_ir import first_stage
from transformers_ir._outputs import check_output_file
from transformers_ir.data import get_dataset
from transformers_ir.errors import UsageError
from transformers_ir.training._config import parse_training_config
from transformers_ir.training._families import load_reranker
from transformers_ir.training._teacher import (
    pairs_to_score,
    provenance_path,
    score_with_teacher,
    write_teacher_scores,
)
from transformers_ir.training._train import ensure_trained


def predict_teacher_scores(out: str | Path, *, topics: str, model: str | None = None, family: str = "cross-encoder",
                           train_config: str | Path | None = None, qrels: str | None = None,
                           corpus: str | None = None, run: str | Path | None = None, engine: str = "pisa",
                           depth: int = 100, judged_positives: bool = True, max_queries: int | None = None,
                           max_length: int | None = None, batch_size: int | None = None, force: bool = False,
                           verbose: bool = True) -> dict:
    """Score the candidates of a run (default: BM25 over the corpus) with a re-ranker and write them as a
    teacher-score file (a TREC run, and ``<out>.json`` with the provenance).

    Args:
        out: the teacher-score file to write (a new file, or with ``force`` an earlier teacher-score file).
        topics: the queries' dataset id (e.g. ``"irds:beir/scifact/train"``).
        model: a re-ranker checkpoint folder or alias (exactly one of ``model`` and ``train_config``).
        family: the family of ``model``.
        train_config: instead of ``model``, the model this training config trains (trained first when missing).
        qrels: the dataset whose judged positives are added (default: the topics' dataset).
        corpus: the dataset holding the document texts (default: the topics' dataset).
        run: a TREC run file of candidates (default: BM25 over the corpus with ``engine``).
        engine: the BM25 engine when no ``run`` is given.
        depth: candidates per query taken from the run.
        judged_positives: add each query's judged positives.
        max_queries: only the first N queries.
        max_length: tokens per pair (default: the checkpoint's).
        batch_size: pairs per forward pass.
        force: replace ``out`` when it is an earlier teacher-score file (one with its provenance beside it).
        verbose: show progress.

    Returns:
        What the command prints: the file, the numbers of pairs and queries, the teacher and its checkpoint hash.

    Raises:
        UsageError: both or neither of ``model`` and ``train_config``, or a missing run file.
        OutputExists: ``out`` (or ``<out>.json`` beside it) is a folder, a link, a file transformers-ir did not
            write, or an earlier teacher-score file without ``force``.
    """
    if bool(model) == bool(train_config):
        raise UsageError("predict needs exactly one of --model (a checkpoint or alias) or --train-config "
                         "(the model a training config trains, trained first when missing)")
    # before any work; ours: a teacher-score file has its provenance beside it (both are replaced together)
    provenance = provenance_path(out)
    ours = provenance.is_file() and Path(out).is_file()
    check_output_file(out, force=force, ours=ours)
    if (provenance.exists() or provenance.is_symlink()) and not ours:  # a file of someone else's where it would go
        check_output_file(provenance, ours=False, flag="--out's provenance")
    dataset = get_dataset(topics)
    documents = get_dataset(corpus) if corpus else dataset
    queries = dataset.get_topics()
    if max_queries:
        queries = queries.head(max_queries)
    judged = (get_dataset(qrels) if qrels else dataset).get_qrels() if judged_positives else None
    if run:
        if not Path(run).is_file():
            raise UsageError(f"run file {run} does not exist: give a TREC run of the topics to score")
        candidates = pt.io.read_results(str(run))
    else:
        candidates = first_stage.bm25(documents, engine=engine)(queries)
    if train_config:
        spec = parse_training_config(train_config)
        family, model_dir = spec.model.family, str(ensure_trained(spec, verbose=verbose))
    else:
        model_dir = model
    reranker = load_reranker(family, model_dir, max_length=max_length, batch_size=batch_size, verbose=verbose)
    scored, provenance = score_with_teacher(
        reranker, documents, pairs_to_score(candidates, queries, judged, depth=depth),
        name=model or Path(model_dir).parent.name, model=model_dir, topics=topics, depth=depth,
        judged_positives=judged_positives, source_run=str(run) if run else f"bm25 ({engine})")
    write_teacher_scores(scored, out, provenance)
    return {"out": str(out), "pairs": len(scored), "queries": int(scored["qid"].nunique()),
            **{k: provenance[k] for k in ("teacher", "checkpoint_hash")}}
