"""``[data] negatives = { component = "dense", train_config = "bi.toml" }``: the teacher -> student loop's second
round mines its hard negatives with the model another config trains (trained first when missing), keyed by that
config's hash; a config that cannot do so is refused before any training."""
from __future__ import annotations

import json

import pytest

from transformers_ir import _paths
from transformers_ir.cli import main
from transformers_ir.errors import ConfigError, UsageError
from transformers_ir.training import build_dataset, parse_training_config

needs_data = pytest.mark.skipif(_paths.data_dir() is None, reason="no offline data folder (../shared/data)")

TRAIN = ('max_steps = 2\nbatch_size = 2\nmax_length = 32\nquery_max_length = 8\nlearning_rate = 1e-3\n'
         'save_steps = 100\n')


def _configs(tmp_path, encoder: str, negatives: str = 'component = "dense", train_config = "parent.toml"'):
    (tmp_path / "parent.toml").write_text(
        f'[model]\nfamily = "bi-encoder"\nname = "{encoder}"\noptions = {{ pooling = "mean" }}\n'
        f'[data]\ntopics = "irds:cranfield"\nmax_queries = 4\nnegatives = {{ component = "bm25", engine = "pisa" }}\n'
        f'depth = 4\ngroup_size = 2\n[train]\n{TRAIN}output = "parent"\n')
    (tmp_path / "child.toml").write_text(
        f'[model]\nfamily = "bi-encoder"\ntrain_config = "parent.toml"\n'
        f'[data]\ntopics = "irds:cranfield"\nmax_queries = 4\nnegatives = {{ {negatives} }}\n'
        f'depth = 5\ngroup_size = 3\n[train]\n{TRAIN}output = "child"\n')
    return tmp_path / "parent.toml", tmp_path / "child.toml"


@needs_data
def test_negatives_are_mined_by_the_model_the_named_config_trains(tmp_path, monkeypatch, tiny_encoder_path):
    from transformers_ir import dense
    from transformers_ir.data import get_dataset
    from transformers_ir.training._dataset import negatives_stage

    monkeypatch.setenv(_paths.HOME_ENV, str(tmp_path / "home"))
    parent_config, child_config = _configs(tmp_path, tiny_encoder_path)
    child = parse_training_config(child_config)
    assert parse_training_config(parent_config).loss.name == "rank-ibn", "a dual encoder's default loss"
    with pytest.raises(UsageError, match="not trained yet"):  # build_dataset alone does not train the parent
        build_dataset(child)
    assert main(["train", str(child_config), "--quiet"]) == 0
    assert (tmp_path / "parent" / "training.json").is_file(), "the parent was trained first"
    assert (tmp_path / "child" / "training.json").is_file()

    # the negatives are the trained parent's ranking, not the untrained encoder's
    topics = get_dataset("irds:cranfield").get_topics().head(4)
    mined = negatives_stage(child, get_dataset("irds:cranfield"))(topics)
    trained = dense.BiEncoder.from_pretrained(str(tmp_path / "parent" / "model"))
    index = dense.dataset_dense_index(get_dataset("irds:cranfield"), trained, verbose=False)
    expected = trained.retriever(index, num_results=1000)(topics)
    assert mined[["qid", "docno"]].head(50).values.tolist() == expected[["qid", "docno"]].head(50).values.tolist()
    untrained = dense.BiEncoder.from_pretrained(str(tiny_encoder_path), pooling="mean")
    before = untrained.retriever(dense.dataset_dense_index(get_dataset("irds:cranfield"), untrained, verbose=False),
                                 num_results=1000)(topics)
    assert mined["docno"].head(50).tolist() != before["docno"].head(50).tolist()

    # the child is keyed by the parent's hash: retraining the parent differently is a new child
    summary = json.loads((tmp_path / "child" / "training.json").read_text())
    assert summary["config"]["data"]["negatives"]["train_config"] == "parent.toml"
    first = child.config_hash()
    parent_config.write_text(parent_config.read_text().replace("1e-3", "2e-3"))
    assert parse_training_config(child_config).config_hash() != first


@pytest.mark.parametrize("negatives, error", [
    ('component = "bm25", train_config = "parent.toml"', "component with 'model'"),
    ('component = "dense", model = "m", train_config = "parent.toml"', "drop 'model'"),
    ('component = "dense", train_config = 3', "path of a training .toml"),
    ('component = "dense", train_config = "nowhere.toml"', "does not exist"),
    ('component = "dense", train_config = "child.toml"', "leads back to"),
])
def test_negatives_train_config_is_checked_before_training(tmp_path, tiny_encoder_path, negatives, error):
    _, child_config = _configs(tmp_path, tiny_encoder_path, negatives)
    with pytest.raises(ConfigError, match=error):
        parse_training_config(child_config)
