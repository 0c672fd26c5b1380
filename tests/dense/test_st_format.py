"""sentence-transformers folders both ways, through the installed sentence-transformers: a folder it saved loads
with its pooling, normalisation, prompts, similarity and max length; a folder we save loads there and scores
identically; what we cannot compute is refused by name; a folder without pooling config gets mean and a warning."""
from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest

import tiny_models
from transformers_ir.dense import BiEncoder
from transformers_ir.errors import UsageError

QUERIES = ["capital of france", "cancer cells protein", "heat flow"]
DOCS = ["paris is the capital city of france", "protein gene expression in cancer cells",
        "water temperature and heat flow in the boundary layer " * 6, ""]


@pytest.fixture(scope="module")
def st_folder(tmp_path_factory):
    return tiny_models.sentence_transformer(tmp_path_factory.mktemp("st") / "model", pooling="cls")


def _st(path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu")


def test_a_sentence_transformers_folder_loads_with_its_settings(st_folder):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a pooling config: no warning
        model = BiEncoder.from_pretrained(str(st_folder))
    assert model.settings() == {"pooling": "cls", "normalize": True, "similarity": "cos", "query_prefix": "query: ",
                                "doc_prefix": "", "query_max_length": 48, "doc_max_length": 48}
    st = _st(st_folder)
    assert np.abs(model.encode(DOCS, "doc") - st.encode(DOCS)).max() <= 1e-5
    assert np.abs(model.encode(QUERIES, "query") - st.encode(QUERIES, prompt_name="query")).max() <= 1e-5


def test_the_legacy_pooling_flags_are_read(tmp_path, st_folder):
    path = tmp_path / "legacy"
    shutil.copytree(st_folder, path)
    _legacy_pooling(path, pooling_mode_mean_tokens=True)
    assert BiEncoder.from_pretrained(str(path)).pooling == "mean"


@pytest.mark.parametrize("pooling, normalize", [("mean", False), ("cls", True), ("last", False)])
def test_our_folder_loads_in_sentence_transformers_and_scores_identically(tmp_path, tiny_encoder_path, pooling,
                                                                           normalize):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = BiEncoder.from_pretrained(str(tiny_encoder_path), pooling=pooling, normalize=normalize,
                                          query_prefix="query: ", doc_prefix="passage: ", query_max_length=40,
                                          doc_max_length=40)
    path = model.save_pretrained(tmp_path / "saved")
    st = _st(path)
    assert st.max_seq_length == 40
    q = st.encode(QUERIES, prompt_name="query")
    d = st.encode(DOCS, prompt_name="document")
    assert np.abs(model.encode(QUERIES, "query") - q).max() <= 1e-5
    assert np.abs(model.encode(DOCS, "doc") - d).max() <= 1e-5
    ours = model.encode(QUERIES, "query") @ model.encode(DOCS, "doc").T
    assert np.abs(st.similarity(q, d).numpy() - ours).max() <= 1e-5
    again = BiEncoder.from_pretrained(str(path))  # our settings file: no warning, same settings
    assert again.settings() == model.settings()
    assert np.array_equal(again.encode(DOCS, "doc"), model.encode(DOCS, "doc"))


def test_saving_refuses_an_existing_folder(tmp_path, bi_encoder):
    (tmp_path / "taken").mkdir()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        bi_encoder.save_pretrained(tmp_path / "taken")
    bi_encoder.save_pretrained(tmp_path / "taken", overwrite=True)
    assert (tmp_path / "taken" / "modules.json").is_file()


def test_no_pooling_config_means_mean_pooling_with_a_warning(tmp_path, st_folder):
    plain = tmp_path / "plain"
    shutil.copytree(st_folder, plain)
    (plain / "modules.json").unlink()  # a plain Hugging Face folder now
    with pytest.warns(UserWarning, match="no pooling configuration.*mean pooling"):
        model = BiEncoder.from_pretrained(str(plain))
    assert model.pooling == "mean" and model.similarity == "cos"  # similarity: config_sentence_transformers.json
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        assert BiEncoder.from_pretrained(str(plain), pooling="cls").pooling == "cls"  # chosen: no warning


@pytest.mark.parametrize("edit, match", [
    (lambda p: _pooling(p, pooling_mode="max"), "max"),
    (lambda p: _pooling(p, pooling_mode=["cls", "mean"]), "cls.*mean"),
    (lambda p: _legacy_pooling(p, pooling_mode_max_tokens=True), "pooling_mode_max_tokens"),
    (lambda p: _legacy_pooling(p, pooling_mode_mean_tokens=True, pooling_mode_cls_token=True), "pooling"),
    (lambda p: _pooling(p, include_prompt=False), "include_prompt"),
    (lambda p: _modules(p, {"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"}),
     "Dense"),
    (lambda p: _config(p, similarity_fn_name="euclidean"), "euclidean"),
])
def test_what_the_family_cannot_compute_is_refused_by_name(tmp_path, st_folder, edit, match):
    path = tmp_path / "edited"
    shutil.copytree(st_folder, path)
    edit(path)
    with pytest.raises(UsageError, match=match):
        BiEncoder.from_pretrained(str(path))


def _pooling(path, **changes):
    config = json.loads((path / "1_Pooling" / "config.json").read_text())
    (path / "1_Pooling" / "config.json").write_text(json.dumps({**config, **changes}))


def _legacy_pooling(path, **modes):
    """The pooling config as sentence-transformers up to version 5 wrote it (one flag per mode)."""
    config = {"word_embedding_dimension": 32, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": False,
              "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False, **modes}
    (path / "1_Pooling" / "config.json").write_text(json.dumps(config))


def _modules(path, module):
    modules = json.loads((path / "modules.json").read_text())
    (path / "modules.json").write_text(json.dumps(modules + [module]))


def _config(path, **changes):
    config = json.loads((path / "config_sentence_transformers.json").read_text())
    (path / "config_sentence_transformers.json").write_text(json.dumps({**config, **changes}))
