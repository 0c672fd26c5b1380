"""The shipped training configs keep their hashes: trained checkpoints are cached under them (a changed hash
would retrain every model, and orphan the ones a long run is writing)."""
from pathlib import Path

import pytest

from transformers_ir.training import parse_training_config

TRAIN = Path(__file__).resolve().parents[2] / "pipelines" / "train"
PINNED = {
    "bert-tiny-scifact-distil": "e35eeed3b932",
    "bert-tiny-scifact": "2f39bf643fcd",
    "minilm-scifact-g8": "ec553b56147a",
    "minilm-scifact-r3": "457e66f91d12",
    "minilm-scifact-top30": "1f0bdffc0c47",
    "minilm-bi-scifact": "dae7a3fb9ef4",
    "minilm-bi-scifact-distil": "14522426957c",
    "minilm-bi-scifact-distil10": "1a13d4ee64da",
    "minilm-bi-scifact-r2": "22a02199f14f",
    "minilm-scifact": "dc3febe53299",
    "minilm-scifact-dense30": "18b55ef99f07",
    "minilm-l3-scifact": "3c153c656ad2",
    "minilm-l3-scifact-distil": "9f6140c25238",
    "splade-tiny-scifact": "a0cb914d4887",
    "splade-tiny-scifact-distil": "8350fa64676d",
}


@pytest.mark.parametrize("name, expected", sorted(PINNED.items()))
def test_shipped_config_hash_is_pinned(name, expected):
    assert parse_training_config(TRAIN / f"{name}.toml").config_hash() == expected


def test_every_shipped_config_is_pinned():
    assert {p.stem for p in TRAIN.glob("*.toml")} == set(PINNED)
