"""Write an experiment's outputs: tables, per-query results, TREC run files, per-query delta plots."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure  # no pyplot: drawing here never switches the user's backend

from transformers_ir._atomic import atomic_dir
from transformers_ir._outputs import MARKER, check_output_dir, marker_text
from transformers_ir._ranking import write_run
from transformers_ir._values import file_name
from transformers_ir.experiments._efficiency import qps
from transformers_ir.experiments._manifest import manifest
from transformers_ir.experiments._runner import ExperimentResult


def format_table(result: ExperimentResult, digits: int = 4) -> str:
    """The printed table: each metric in the order written in the pipeline file, with the baseline comparison
    as ``<metric> p`` (corrected p-value; ``*`` marks a significant difference), then the other columns
    (efficiency). ``table.csv`` keeps every column pt.Experiment gives (wins, losses, raw p-values).

    Args:
        result: what :func:`run_experiment` returned.
        digits: decimals shown.

    Returns:
        The table as Markdown.
    """
    table = result.table
    shown = {"name": table["name"]}
    for measure in map(str, result.spec.measures):
        shown[measure] = table[measure].round(digits)
        p_col = f"{measure} p-value corrected" if f"{measure} p-value corrected" in table else f"{measure} p-value"
        if p_col in table:
            reject = table.get(f"{measure} reject", pd.Series(False, index=table.index)).fillna(False)
            shown[f"{measure} p"] = [
                "" if pd.isna(p) else f"{p:.3g}{'*' if r else ''}" for p, r in zip(table[p_col], reject)
            ]
    stats = [c for c in table.columns if c not in shown and not c.startswith(tuple(shown)) and c != "name"]
    for col in stats:
        shown[col] = table[col].round(digits) if pd.api.types.is_float_dtype(table[col]) else table[col]
    return pd.DataFrame(shown).to_markdown(index=False)


def summary(result: ExperimentResult) -> dict:
    """The ``--json`` object: dataset and each system's metrics as written in the pipeline file, with its
    efficiency (``qps``, ``ms_per_query``, ``stages``; ``query_nnz``/``doc_nnz`` for sparse systems).

    Args:
        result: what :func:`run_experiment` returned.

    Returns:
        ``{"dataset": ..., "systems": [...]}``.
    """
    n_queries = len(result.topics)
    systems = []
    for entry, run in zip(result.metrics_by_system(), result.runs):
        systems.append({**entry, "qps": qps(run.seconds, n_queries), "ms_per_query": 1000 * run.seconds / n_queries,
                        "stages": [t.as_dict(n_queries) for t in run.stages], **run.sparsity})
    return {"dataset": result.spec.topics, "systems": systems}


def plot_deltas(result: ExperimentResult, measure, path: Path) -> None:
    """Per-query difference of each system to the baseline on one measure, sorted, one panel per system.

    Args:
        result: what :func:`run_experiment` returned (with a baseline).
        measure: one of its measures.
        path: the PNG to write.
    """
    pq = result.perquery[result.perquery["measure"] == str(measure)]
    values = pq.pivot_table(index="qid", columns="name", values="value")
    others = [r.name for r in result.runs if r.name != result.spec.baseline]
    fig = Figure(figsize=(8, 2.6 * len(others)))
    axes = fig.subplots(len(others), 1, squeeze=False)
    for ax, name in zip(axes[:, 0], others):
        delta = (values[name] - values[result.spec.baseline]).sort_values(ascending=False)
        colors = ["tab:green" if d > 0 else "tab:red" for d in delta]
        ax.bar(range(len(delta)), delta.to_numpy(), color=colors, width=1.0)
        ax.axhline(0, color="black", linewidth=0.6)
        wins, losses = int((delta > 0).sum()), int((delta < 0).sum())
        ax.set_title(f"{name} - {result.spec.baseline}: {measure} per query ({wins} better, {losses} worse)")
        ax.set_xlabel("queries, sorted by difference")
        ax.set_ylabel(f"Δ {measure}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def write_outputs(result: ExperimentResult, out: str | Path, *, force: bool = False) -> Path:
    """Write everything into ``out`` as one unit: a temporary folder renamed into place when complete, so an
    interrupted run leaves the previous ``out`` (or none), never a half-written one. ``manifest.json`` records
    what is needed to regenerate the results; ``transformers_ir_output.json``, written last, lists the files.

    ``out`` must not exist, or be an empty folder, or (with ``force``) hold our own earlier output and nothing else:
    a file, a link or a folder we did not write is refused and left as it is.

    Args:
        result: what :func:`run_experiment` returned.
        out: the folder.
        force: replace ``out`` when it holds our own earlier output (and nothing else).

    Returns:
        ``out``.

    Raises:
        OutputExists: ``out`` is a file, a link, a folder transformers-ir did not write, or an earlier output
            without ``force``.
    """
    out = check_output_dir(out, force=force)
    with atomic_dir(out, overwrite=True) as tmp:
        result.table.to_csv(tmp / "table.csv", index=False)
        (tmp / "table.md").write_text(format_table(result) + "\n")
        result.perquery.to_csv(tmp / "perquery.csv", index=False)
        (tmp / "summary.json").write_text(json.dumps(summary(result), indent=2) + "\n")
        (tmp / "runs").mkdir()
        for run in result.runs:
            write_run(run.results, tmp / "runs" / f"{file_name(run.name)}.run", tag=file_name(run.name))
        if result.spec.baseline and len(result.runs) > 1:
            for measure in result.spec.measures:
                plot_deltas(result, measure, tmp / f"delta_{file_name(str(measure))}.png")
        (tmp / "pipeline.toml").write_bytes(result.spec.path.read_bytes())
        (tmp / "manifest.json").write_text(json.dumps(manifest(result), indent=2, default=str) + "\n")
        (tmp / MARKER).write_text(marker_text(tmp, "run"))
    return out
