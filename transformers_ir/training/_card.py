"""Model cards: a short ``README.md`` in every checkpoint folder training writes, so a folder shared with others
explains itself (what it is, the training config and its hash, the figures measured while training it)."""
from __future__ import annotations

import csv
from pathlib import Path

#: The card's file name (what the Hugging Face hub shows for a model folder).
CARD = "README.md"


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
                  "(`train_config = ...`); see the project's README for the figures.", ""]
    if config_text:
        lines += ["## Training config", "", "```toml", config_text.rstrip(), "```", ""]
    return "\n".join(lines)


def _loader(family: str | None) -> str:
    return {"cross-encoder": "CrossEncoder", "bert-cat": "BertCat", "rankt5": "RankT5Encoder",
            "monot5": "MonoT5", "splade": "Splade"}.get(family or "", "from_pretrained")


def _first_and_last_loss(log: Path | None) -> tuple[float, float] | None:
    if log is None or not Path(log).is_file():
        return None
    with open(log, newline="") as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f) if row.get("loss") not in (None, "")]
    return (losses[0], losses[-1]) if losses else None
