"""Model cards: a short ``README.md`` in every checkpoint folder training writes, so a folder shared with others
explains itself (what it is, the training config and its hash, the figures measured while training it, and the
effectiveness ``transformers-ir run`` measured with it: :func:`record_figures`)."""
from __future__ import annotations

import csv
import datetime
import json
from pathlib import Path

from transformers_ir._atomic import atomic_file
from transformers_ir._jsonfile import read_json

#: The card's file name (what the Hugging Face hub shows for a model folder).
CARD = "README.md"
#: The effectiveness figures measured with the model (a JSON list), kept beside its card.
FIGURES = "transformers_ir_figures.json"
#: The card's last section, rewritten whenever a figure is recorded.
FIGURES_HEADING = "## Measured effectiveness"


def model_card(summary: dict, *, config_text: str | None = None, loss_log: Path | None = None) -> str:
    """The card of a trained model, from its ``training.json`` summary.

    Args:
        summary: what ``train`` records (name, config hash, config, data report, examples, steps, seconds).
        config_text: the training config file as written (shown verbatim), when there is one.
        loss_log: the ``loss_log.csv`` of the run: its first and last logged losses are shown.

    Returns:
        The card as Markdown.
    """
    config = summary.get("config", {})
    model, loss, train = config.get("model", {}), config.get("loss", {}), config.get("train", {})
    source = model.get("name") or f"the model trained by {model.get('train_config')}"
    lines = [
        f"# {summary['name']}",
        "",
        f"A `{model.get('family', '?')}` model trained by transformers-ir from {source}, with the "
        f"`{loss.get('name', '?')}` loss. "
        f"Load it with `{_loader(model.get('family'))}.from_pretrained(\"<this folder>\")`.",
        "",
        "| | |",
        "|---|---|",
        f"| training config hash | `{summary.get('config_hash', '?')}` (the key this checkpoint is cached under) |",
        f"| training examples | {summary.get('examples', '?')} |",
        f"| optimiser steps | {summary.get('steps', '?')} |",
        f"| wall time | {float(summary.get('seconds', 0)) / 60:.1f} min |",
        f"| precision | {train.get('precision', '?')} |",
    ]
    first_last = _first_and_last_loss(loss_log)
    if first_last:
        lines.append(f"| training loss (first → last logged) | {first_last[0]:.4f} → {first_last[1]:.4f} |")
    data = summary.get("data") or {}
    if data:
        shown = ", ".join(f"{k} = {v}" for k, v in data.items() if not isinstance(v, (dict, list)))
        lines.append(f"| data | {shown} |")
    lines += ["", "Effectiveness is measured with `transformers-ir run` on a pipeline file naming this model "
                  "(`train_config = ...`): each run records its figures in the last section of this card.", ""]
    if config_text:
        lines += ["## Training config", "", "```toml", config_text.rstrip(), "```", ""]
    return "\n".join(lines)


def _loader(family: str | None) -> str:
    return {"cross-encoder": "CrossEncoder", "bert-cat": "BertCat", "rankt5": "RankT5Encoder",
            "monot5": "MonoT5", "splade": "Splade", "bi-encoder": "BiEncoder"}.get(family or "", "from_pretrained")


def record_figures(model_dir: str | Path, *, pipeline: str, system: str, topics: str, figures: dict[str, float]
                   ) -> None:
    """Keep the effectiveness a pipeline measured with a trained model in its folder, and show every recorded
    figure in the last section of its card. A later run of the same pipeline, system and topics replaces its
    entry. Nothing is written into a folder without a card of ours (a published model).

    Args:
        model_dir: the trained model's folder.
        pipeline: the pipeline file's name.
        system: the system, of which the model is one stage.
        topics: the evaluation topics.
        figures: measure name (as written in the pipeline file) -> value.
    """
    model_dir = Path(model_dir)
    card_path = model_dir / CARD
    card = card_path.read_text(encoding="utf-8") if card_path.is_file() else ""
    if "trained by transformers-ir" not in card:
        return
    entries = []
    if (model_dir / FIGURES).is_file():
        entries = read_json(model_dir / FIGURES, expect=list, fix=f"delete {model_dir / FIGURES} (the figures are "
                                                                   "recorded again by the next run)")
    key = (pipeline, system, topics)
    entries = [e for e in entries if (e.get("pipeline"), e.get("system"), e.get("topics")) != key]
    entries.append({"pipeline": pipeline, "system": system, "topics": topics,
                    "figures": {k: float(v) for k, v in figures.items()},
                    "measured": datetime.date.today().isoformat()})
    with atomic_file(model_dir / FIGURES) as f:
        json.dump(entries, f, indent=2)
    card = card.split("\n" + FIGURES_HEADING)[0].rstrip("\n")
    with atomic_file(card_path) as f:
        f.write(card + "\n\n" + figures_section(entries))


def figures_section(entries: list[dict]) -> str:
    """The card's section showing recorded figures: one row per pipeline, system and topics."""
    measures = list(dict.fromkeys(m for e in entries for m in e.get("figures", {})))
    lines = [FIGURES_HEADING, "",
             "Measured by `transformers-ir run` with the system's whole pipeline (this model is one of its stages).",
             "", "| pipeline | system | topics | " + " | ".join(measures) + " | measured |",
             "|---|---|---|" + "---|" * len(measures) + "---|"]
    for e in entries:
        values = [f"{e['figures'][m]:.4f}" if m in e.get("figures", {}) else "–" for m in measures]
        lines.append(f"| {e.get('pipeline')} | {e.get('system')} | {e.get('topics')} | " + " | ".join(values)
                     + f" | {e.get('measured', '')} |")
    return "\n".join(lines) + "\n"


def _first_and_last_loss(log: Path | None) -> tuple[float, float] | None:
    if log is None or not Path(log).is_file():
        return None
    with open(log, newline="") as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f) if row.get("loss") not in (None, "")]
    return (losses[0], losses[-1]) if losses else None
