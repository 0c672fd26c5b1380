"""The bi-encoder maths: represent() is the definition (pooling over real tokens, optional normalisation); encode()
(length-sorted batches, dynamic padding) gives the same vectors in input order; bad input is named."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import tiny_models
from transformers_ir.dense import BiEncoder, dense_pool
from transformers_ir.errors import ModelMismatch

TEXTS = ["paris is the capital city of france", "cells", "the river flows through the city of paris and the "
         "water temperature rises with heat flow in the boundary layer", "blood pressure"]


def _load(path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # no pooling config: the mean-pooling warning
        return BiEncoder.from_pretrained(str(path), **kwargs)


def _manual(model, texts, rep="doc"):
    """The definition, one text at a time (no padding at all)."""
    encoder = model.query_model if rep == "query" else model.model
    prefix = model.query_prefix if rep == "query" else model.doc_prefix
    limit = model.query_max_length if rep == "query" else model.doc_max_length
    out = []
    for text in texts:
        feats = model.tokenizer([prefix + text], truncation=True, max_length=limit, return_tensors="pt")
        with torch.no_grad():
            states = encoder(**feats).last_hidden_state[0]
        vector = {"mean": states.mean(dim=0), "cls": states[0], "last": states[-1]}[model.pooling]
        out.append(vector / vector.norm() if model.normalized else vector)
    return torch.stack(out).numpy()


@pytest.mark.parametrize("pooling", ["mean", "cls", "last"])
@pytest.mark.parametrize("similarity", ["dot", "cos"])
def test_encode_is_the_definition_in_input_order(tiny_encoder_path, pooling, similarity):
    model = BiEncoder.from_pretrained(str(tiny_encoder_path), pooling=pooling, similarity=similarity, batch_size=3)
    got = model.encode(TEXTS, "doc")  # batched longest first, padded per batch
    assert got.dtype == np.float32 and got.shape == (len(TEXTS), 32)
    assert np.abs(got - _manual(model, TEXTS)).max() <= 1e-5
    norms = np.linalg.norm(got, axis=1)
    assert np.allclose(norms, 1, atol=1e-5) == (similarity == "cos")


def test_pooling_ignores_padding_on_either_side():
    hidden = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
    right = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    left = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    torch.testing.assert_close(dense_pool(hidden, right, "mean")[0], hidden[0, :2].mean(dim=0))
    torch.testing.assert_close(dense_pool(hidden, right, "last")[0], hidden[0, 1])
    torch.testing.assert_close(dense_pool(hidden, left, "last")[0], hidden[0, 3])
    torch.testing.assert_close(dense_pool(hidden, right, "cls"), hidden[:, 0])


def test_prefixes_and_max_lengths(tiny_encoder_path):
    plain = _load(tiny_encoder_path, query_max_length=8, doc_max_length=12)
    prefixed = _load(tiny_encoder_path, query_prefix="query: ", doc_prefix="passage: ", query_max_length=8,
                     doc_max_length=12)
    assert np.abs(prefixed.encode(TEXTS, "query") - _manual(prefixed, TEXTS, "query")).max() <= 1e-5
    assert np.abs(prefixed.encode(TEXTS, "doc") - _manual(prefixed, TEXTS, "doc")).max() <= 1e-5
    assert np.abs(prefixed.encode(TEXTS, "query") - plain.encode(TEXTS, "query")).max() > 1e-3
    # a very long document is truncated to doc_max_length: what follows the cut changes nothing
    long = TEXTS[2] * 50
    assert np.array_equal(plain.encode([long], "doc"), plain.encode([long + " cancer cells " * 20], "doc"))
    assert np.abs(plain.encode([long], "doc") - _manual(plain, [long])).max() <= 1e-5


def test_max_lengths_are_capped_at_the_models_positions(tiny_encoder_path):
    model = _load(tiny_encoder_path, doc_max_length=10_000)
    assert model.doc_max_length == 128  # the tiny model's max_position_embeddings
    assert model.encode(["cells " * 1000], "doc").shape == (1, 32)


def test_empty_and_missing_text_get_the_empty_strings_vector(bi_encoder):
    vectors = bi_encoder.encode(["", None, float("nan"), "cells"], "doc")
    assert np.isfinite(vectors).all()
    # the same text in other rows of a batch: equal up to the kernels' row blocking
    assert np.abs(vectors[1:3] - vectors[0]).max() <= 1e-6
    assert np.abs(vectors[0] - _manual(bi_encoder, [""])[0]).max() <= 1e-5
    assert bi_encoder.encode([], "doc").shape == (0, 32)


def test_bf16_without_native_support_warns_and_stays_exact(tiny_encoder_path):
    from transformers_ir import _device

    if _device.supports("bf16", torch.device("cpu")):
        pytest.skip("this CPU runs bf16 natively")
    with pytest.warns(RuntimeWarning, match="bf16"):
        model = _load(tiny_encoder_path, precision="bf16", device="cpu")
    assert model.precision == "fp32"


def test_int8_runs_a_quantised_copy_close_to_fp32(tiny_encoder_path):
    exact = _load(tiny_encoder_path, device="cpu")
    fast = _load(tiny_encoder_path, device="cpu", precision="int8")
    got, expected = fast.encode(TEXTS, "doc"), exact.encode(TEXTS, "doc")
    assert got.dtype == np.float32
    cosine = (got * expected).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(expected, axis=1)
    assert cosine.min() > 0.95
    assert fast.model.encoder.layer[0].attention.self.query.weight.dtype == torch.float32  # the original kept


def test_an_asymmetric_query_model_of_another_dimension_is_refused(tmp_path, tiny_encoder_path):
    wide = tiny_models.bert_encoder(tmp_path / "wide", hidden_size=48)
    with pytest.raises(ModelMismatch, match=r"48.*32|32.*48") as error:
        _load(tiny_encoder_path, query_model=str(wide))
    assert "query model" in str(error.value) and "document model" in str(error.value)


def test_an_asymmetric_query_model_encodes_queries(tmp_path, tiny_encoder_path):
    other = tiny_models.bert_encoder(tmp_path / "other", seed=1)
    model = _load(tiny_encoder_path, query_model=str(other))
    symmetric = _load(tiny_encoder_path)
    assert model.asymmetric and not symmetric.asymmetric
    assert np.array_equal(model.encode(TEXTS, "doc"), symmetric.encode(TEXTS, "doc"))
    assert np.abs(model.encode(TEXTS, "query") - symmetric.encode(TEXTS, "query")).max() > 1e-3
    assert model.identity == symmetric.identity  # the index holds document vectors only
    saved = model.save_pretrained(tmp_path / "saved")
    again = _load(saved)
    assert again.asymmetric and np.array_equal(again.encode(TEXTS, "query"), model.encode(TEXTS, "query"))


def test_bad_settings_are_named(tiny_encoder_path):
    for kwargs, match in [({"pooling": "max"}, "pooling"), ({"similarity": "l2"}, "similarity"),
                          ({"query_max_length": 1}, "query_max_length"), ({"batch_size": 0}, "batch_size")]:
        with pytest.raises(ValueError, match=match):
            _load(tiny_encoder_path, **kwargs)
    model = _load(tiny_encoder_path)
    with pytest.raises(ValueError, match="rep"):
        model.encode(["x"], "passage")


def test_identity_follows_what_decides_document_vectors(tiny_encoder_path, tmp_path):
    model = _load(tiny_encoder_path)
    assert model.identity == _load(tiny_encoder_path, query_max_length=9, batch_size=7).identity
    assert model.identity != _load(tiny_encoder_path, doc_max_length=9).identity
    assert model.identity != _load(tiny_encoder_path, pooling="cls").identity
    assert model.identity != _load(tiny_models.bert_encoder(tmp_path / "seed1", seed=1)).identity
    assert model == _load(tiny_encoder_path) and hash(model) == hash(_load(tiny_encoder_path))
    assert model != _load(tiny_encoder_path, similarity="cos")
    assert repr(_load(tiny_encoder_path, pooling="cls")) == f"BiEncoder({str(tiny_encoder_path)!r}, pooling='cls')"


def test_represent_is_differentiable(tiny_encoder_path):
    model = _load(tiny_encoder_path)
    model.model.train()
    vectors = model.represent(model.tokenize(TEXTS[:2], "query"), "query")
    vectors.sum().backward()
    assert model.model.embeddings.word_embeddings.weight.grad is not None
    model.model.zero_grad()
    model.model.eval()
