"""Each architecture against a plain implementation written from its paper or model card, one pair at a time
with no padding, and loading of each published state-dict layout (keys exactly as published)."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from transformers import (
    AutoModel,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    T5EncoderModel,
    T5ForConditionalGeneration,
)

from transformers_ir.cross_encoders import BertCat, CrossEncoder, MonoT5, RankT5Encoder

QUERIES = ["what protein causes cancer", "heart risk", "how does the wing boundary layer flow"]
DOCS = ["the protein gene study results cancer", "blood pressure and heart risk increase in patients",
        "shock wave speed mach"]
PAIRS = [(q, d) for q in QUERIES for d in DOCS]


def ours(reranker) -> torch.Tensor:
    return torch.from_numpy(reranker.score_pairs([q for q, _ in PAIRS], [d for _, d in PAIRS])).double()


@pytest.mark.parametrize("labels", [1, 2])
def test_cross_encoder_is_the_classifier_logit(labels, tiny_classifier_path, tiny_classifier2_path):
    path = tiny_classifier_path if labels == 1 else tiny_classifier2_path
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    expected = []
    with torch.no_grad():
        for q, d in PAIRS:
            logits = model(**tokenizer(q, d, return_tensors="pt")).logits[0]
            expected.append(logits[0] if labels == 1 else logits[1] - logits[0])
    torch.testing.assert_close(ours(CrossEncoder.from_pretrained(path)), torch.stack(expected).double(),
                               atol=1e-5, rtol=0)


def test_bert_cat_published_layout(tiny_distilbert_path, tmp_path):
    """The published checkpoint: config.json naming the backbone in ``bert_model``, weights ``bert_model.*`` and
    ``_classification_layer.*`` in a pytorch_model.bin. Reference: CLS vector of the last hidden state, one
    linear layer (Hofstätter et al. 2020)."""
    encoder = AutoModel.from_pretrained(tiny_distilbert_path).eval()
    torch.manual_seed(3)
    head = torch.nn.Linear(encoder.config.hidden_size, 1)
    state = {f"bert_model.{k}": v for k, v in encoder.state_dict().items()}
    state |= {"_classification_layer.weight": head.weight.detach(), "_classification_layer.bias": head.bias.detach()}
    torch.save(state, tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text(json.dumps({"bert_model": str(tiny_distilbert_path),
                                                      "architectures": ["BERT_Cat"]}))
    tokenizer = AutoTokenizer.from_pretrained(tiny_distilbert_path)
    with torch.no_grad():
        expected = [head(encoder(**tokenizer(q, d, return_tensors="pt")).last_hidden_state[0, 0])[0]
                    for q, d in PAIRS]
    reranker = BertCat.from_pretrained(tmp_path)  # strict: a missing or unexpected key raises
    torch.testing.assert_close(ours(reranker), torch.stack(expected).double(), atol=1e-5, rtol=0)


def _rankt5_reference(encoder, tokenizer, head: dict, q: str, d: str) -> torch.Tensor:
    ids = tokenizer(f"Query: {q} Document: {d}", return_tensors="pt")  # the T5 tokenizer appends </s>
    first = encoder(**ids).last_hidden_state[0, 0]
    if "first_transform.weight" in head:
        first = F.linear(first, head["first_transform.weight"], head["first_transform.bias"])
        first = F.layer_norm(first, first.shape, head["layer_norm.weight"], head["layer_norm.bias"], eps=1e-12)
    return F.linear(first, head["linear.weight"], head["linear.bias"])[0]


@pytest.mark.parametrize("head", ["dense", "linear-layernorm-linear"])
def test_rankt5_published_layout(head, tiny_t5_path, tmp_path):
    """naver/trecdl22-crossencoder-rankT53b-repro ships a bare pytorch_model.bin (keys ``model.*``,
    ``first_transform.*``, ``layer_norm.*``, ``linear.*``) over a T5 backbone named separately."""
    encoder = T5EncoderModel.from_pretrained(tiny_t5_path).eval()
    d_model = encoder.config.d_model
    g = torch.Generator().manual_seed(4)
    weights = {"linear.weight": torch.randn(1, d_model, generator=g), "linear.bias": torch.randn(1, generator=g)}
    if head != "dense":
        weights |= {"first_transform.weight": torch.randn(d_model, d_model, generator=g) / d_model**0.5,
                    "first_transform.bias": torch.randn(d_model, generator=g),
                    "layer_norm.weight": 1 + torch.randn(d_model, generator=g) / 10,
                    "layer_norm.bias": torch.randn(d_model, generator=g) / 10}
    state = {f"model.{k}": v for k, v in encoder.state_dict().items()} | weights
    torch.save(state, tmp_path / "pytorch_model.bin")
    tokenizer = AutoTokenizer.from_pretrained(tiny_t5_path)
    with torch.no_grad():
        expected = torch.stack([_rankt5_reference(encoder, tokenizer, weights, q, d) for q, d in PAIRS])
    reranker = RankT5Encoder.from_pretrained(tmp_path, backbone=str(tiny_t5_path))  # head read from the keys
    assert reranker.model.head == head
    torch.testing.assert_close(ours(reranker), expected.double(), atol=1e-5, rtol=0)


def test_rankt5_bare_weights_need_a_backbone(tiny_t5_path, tmp_path):
    encoder = T5EncoderModel.from_pretrained(tiny_t5_path)
    torch.save({f"model.{k}": v for k, v in encoder.state_dict().items()}, tmp_path / "pytorch_model.bin")
    with pytest.raises(FileNotFoundError, match="backbone="):
        RankT5Encoder.from_pretrained(tmp_path)


def test_monot5_is_the_true_false_log_softmax(tiny_t5_path):
    """castorini/monoT5: 'Query: q Document: d Relevant:', log-softmax over the 'true'/'false' logits at the
    first decoder step, the score is log P(true)."""
    model = T5ForConditionalGeneration.from_pretrained(tiny_t5_path).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_t5_path)
    true, false = tokenizer.convert_tokens_to_ids(["\u2581true", "\u2581false"])
    expected = []
    with torch.no_grad():
        for q, d in PAIRS:
            ids = tokenizer(f"Query: {q} Document: {d} Relevant:", return_tensors="pt")
            start = torch.tensor([[model.config.decoder_start_token_id]])
            logits = model(**ids, decoder_input_ids=start).logits[0, 0]
            expected.append(torch.log_softmax(logits[[false, true]], dim=0)[1])
    reranker = MonoT5.from_pretrained(tiny_t5_path)
    assert reranker.SCORE_KIND == "log-probability"
    torch.testing.assert_close(ours(reranker), torch.stack(expected).double(), atol=1e-5, rtol=0)
