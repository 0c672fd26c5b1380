"""Students from a bigger model's body: ``num_hidden_layers=`` / ``layers=`` on the families' ``from_pretrained``
keep some encoder layers with their weights (:func:`transformers_ir._checkpoint.keep_layers`), and the saved
student reloads as the smaller model, scoring identically."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoTokenizer

from transformers_ir import _checkpoint
from transformers_ir.cross_encoders import BertCat, BertCatModel, CrossEncoder
from transformers_ir.splade import Splade

QUERIES = ["what causes cancer", "paris france", "heat flow in the boundary layer"]
DOCS = ["cancer cells protein gene", "paris is the capital city of france", "the river water temperature"]


def _source(path):
    return load_file(str(path / "model.safetensors"))


def _renumbered(state: dict, stack: str, kept: list[int]) -> dict:
    """The source tensors the student should hold: layer ``kept[i]`` under layer ``i``, everything else as is."""
    out = {}
    for key, value in state.items():
        if f"{stack}." in key:
            head, rest = key.split(f"{stack}.", 1)
            index, tail = rest.split(".", 1)
            if int(index) in kept:
                out[f"{head}{stack}.{kept.index(int(index))}.{tail}"] = value
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("option", [{"num_hidden_layers": 1}, {"layers": [1]}, {"layers": [0, 1]}])
def test_cross_encoder_student_keeps_the_chosen_layers_weights(tiny_classifier_path, option):
    kept = option.get("layers") or list(range(option["num_hidden_layers"]))
    student = CrossEncoder.from_pretrained(tiny_classifier_path, max_length=64, query_max_length=16, **option)
    assert student.model.config.num_hidden_layers == len(kept) == len(student.model.bert.encoder.layer)
    expected = _renumbered(_source(tiny_classifier_path), "encoder.layer", kept)
    own = student.model.state_dict()
    assert set(expected) - {"bert.embeddings.position_ids"} <= set(own)
    for key, value in expected.items():
        assert torch.equal(own[key], value), key
    assert not any(f"encoder.layer.{len(kept)}." in key for key in own)  # nothing past the kept layers
    if option == {"layers": [1]}:  # the second layer, not the first: scores differ from a first-layer student
        first = CrossEncoder.from_pretrained(tiny_classifier_path, max_length=64, query_max_length=16,
                                             num_hidden_layers=1)
        assert not torch.equal(first.model.bert.encoder.layer[0].attention.self.query.weight,
                               student.model.bert.encoder.layer[0].attention.self.query.weight)


def test_cross_encoder_student_saves_and_reloads_identically(tiny_classifier_path, tmp_path):
    student = CrossEncoder.from_pretrained(tiny_classifier_path, max_length=64, query_max_length=16, layers=[1])
    assert student.name is None and repr(student).startswith("CrossEncoder(BertForSequenceClassification(")
    full = CrossEncoder.from_pretrained(tiny_classifier_path, max_length=64, query_max_length=16)
    assert student != full
    student.save_pretrained(tmp_path / "student")
    again = CrossEncoder.from_pretrained(tmp_path / "student")
    assert again.model.config.num_hidden_layers == 1 and len(again.model.bert.encoder.layer) == 1
    assert (again.max_length, again.query_max_length) == (64, 16)
    scores = student.score_pairs(QUERIES, DOCS)
    assert scores.tolist() == again.score_pairs(QUERIES, DOCS).tolist()
    assert scores.tolist() != full.score_pairs(QUERIES, DOCS).tolist()
    saved = _checkpoint.weight_keys(tmp_path / "student") - {"bert.embeddings.position_ids"}
    assert saved == set(_renumbered(_source(tiny_classifier_path), "encoder.layer", [1])) - {
        "bert.embeddings.position_ids"}


def test_bert_cat_student_from_distilbert(tiny_distilbert_path, tmp_path):
    torch.manual_seed(0)
    full = BertCat(BertCatModel(AutoModel.from_pretrained(tiny_distilbert_path)),
                   AutoTokenizer.from_pretrained(tiny_distilbert_path), max_length=64, query_max_length=16)
    full.save_pretrained(tmp_path / "cat")
    student = BertCat.from_pretrained(tmp_path / "cat", layers=[1])
    assert student.model.bert_model.config.n_layers == 1
    assert torch.equal(student.model.bert_model.transformer.layer[0].ffn.lin1.weight,
                       full.model.bert_model.transformer.layer[1].ffn.lin1.weight)
    student.save_pretrained(tmp_path / "student")
    again = BertCat.from_pretrained(tmp_path / "student")
    assert len(again.model.bert_model.transformer.layer) == 1
    assert student.score_pairs(QUERIES, DOCS).tolist() == again.score_pairs(QUERIES, DOCS).tolist()


def test_splade_student_keeps_layers_and_reloads(tiny_mlm_path, tmp_path):
    student = Splade.from_pretrained(str(tiny_mlm_path), num_hidden_layers=1, doc_max_length=32)
    assert student.name is None and len(student.model.bert.encoder.layer) == 1
    source = _source(tiny_mlm_path)
    own = student.model.state_dict()
    for key, value in _renumbered(source, "encoder.layer", [0]).items():
        if key in own:
            assert torch.equal(own[key], value), key
    student.save_pretrained(tmp_path / "student")
    again = Splade.from_pretrained(str(tmp_path / "student"))
    assert again.model.config.num_hidden_layers == 1 and again.doc_max_length == 32
    assert (student.encode(DOCS) != again.encode(DOCS)).nnz == 0


@pytest.mark.parametrize("option, message", [
    ({"num_hidden_layers": 3}, "num_hidden_layers=3 is more than the 2 layers"),
    ({"num_hidden_layers": 0}, "num_hidden_layers must be a positive whole number"),
    ({"layers": [0, 2]}, "layers [2] are not layers of"),
    ({"layers": [1, 0]}, "increasing"),
    ({"layers": [1, 1]}, "increasing"),
    ({"layers": []}, "non-empty list"),
    ({"layers": [1], "num_hidden_layers": 1}, "not both"),
])
def test_a_bad_layer_choice_is_a_clear_error(tiny_classifier_path, option, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        CrossEncoder.from_pretrained(tiny_classifier_path, max_length=64, query_max_length=16, **option)


def test_an_architecture_without_a_known_layer_stack_is_refused(tiny_t5_path):
    from transformers import T5EncoderModel

    with pytest.raises(ValueError, match="its layers are not at encoder.layer or transformer.layer"):
        _checkpoint.keep_layers(T5EncoderModel.from_pretrained(tiny_t5_path), num_hidden_layers=1, name="t5")


def test_a_training_config_makes_a_student_through_model_options(tiny_classifier_path):
    from transformers_ir.training import parse_training_config
    from transformers_ir.training._families import load_family

    spec = parse_training_config({"model": {"name": str(tiny_classifier_path), "options": {"num_hidden_layers": 1}},
                                  "data": {"triples": "t.tsv"}, "train": {"max_length": 64,
                                                                          "query_max_length": 16}})
    assert len(load_family(spec).model.bert.encoder.layer) == 1
    with pytest.raises(Exception, match="num_hidden_layers must be a positive whole number"):
        parse_training_config({"model": {"name": "x", "options": {"num_hidden_layers": 0}},
                               "data": {"triples": "t.tsv"}})
