"""Every stage of the library survives ``pt.inspect``: its attributes are read back from the constructor's
arguments (``pt.inspect.transformer_attributes``), and the stage rebuilt from them
(``pt.inspect.transformer_apply_attributes``) compares equal to the original. PyTerrier relies on this to
rewrite pipelines (``fuse_rank_cutoff``, schematics, caches)."""
from __future__ import annotations

import importlib.util

import pandas as pd
import pyterrier as pt
import pytest
from transformers import AutoModel, AutoTokenizer, T5EncoderModel, T5ForConditionalGeneration

from transformers_ir import cross_encoders as ce_family
from transformers_ir._cutoff import Cutoff
from transformers_ir.caching import EncoderCache, RetrieverCache, ScorerCache
from transformers_ir.cross_encoders import CrossEncoder
from transformers_ir.data import JoinFields
from transformers_ir.data._text import CorpusText
from transformers_ir.dense import BiEncoder
from transformers_ir.first_stage import Fusion
from transformers_ir.indexes import PisaIndex, QueryGuard, sparse_index
from transformers_ir.splade import Splade

DOCS = [{"docno": "d1", "text": "the cat sat on the mat"}, {"docno": "d2", "text": "dogs chase cats in the park"},
        {"docno": "d3", "text": "stock markets fell sharply today"}]
TOKS = [{"docno": "d1", "toks": {"cat": 1.5}}, {"docno": "d2", "toks": {"dog": 1.0, "cat": 0.5}}]


@pytest.fixture(scope="module")
def splade(tiny_mlm_path):
    return Splade.from_pretrained(str(tiny_mlm_path), batch_size=2, query_max_length=16, doc_max_length=24)


@pytest.fixture(scope="module")
def stages(tmp_path_factory, splade, tiny_classifier_path, tiny_distilbert_path, tiny_t5_path, tiny_encoder_path):
    """name -> a function building the stage (some need Java, which only the marked cases start)."""
    tmp = tmp_path_factory.mktemp("inspect")
    t5_tokenizer = AutoTokenizer.from_pretrained(tiny_t5_path)
    bm25 = PisaIndex(tmp / "pisa").build(iter(DOCS)).bm25(num_results=10)
    sparse = {engine: sparse_index(tmp / f"sparse-{engine}", engine).indexer().index(iter(TOKS))
              for engine in ("pisa", "exact")}
    ce = CrossEncoder.from_pretrained(tiny_classifier_path, batch_size=4, query_max_length=16, max_length=64)
    dense = BiEncoder.from_pretrained(str(tiny_encoder_path), pooling="cls", batch_size=2, doc_max_length=24)
    return {
        "dense-query-encoder": lambda: dense.query_encoder(batch_size=2),
        "dense-doc-encoder": lambda: dense.doc_encoder(text_field="body"),
        "dense-scorer": lambda: dense.scorer(text_loader=JoinFields(["title", "text"])),
        "cross-encoder": lambda: ce,
        "bert-cat": lambda: ce_family.BertCat(ce_family.BertCatModel(AutoModel.from_pretrained(tiny_distilbert_path)),
                                              AutoTokenizer.from_pretrained(tiny_distilbert_path), normalise="sigmoid"),
        "rankt5": lambda: ce_family.RankT5Encoder(ce_family.RankT5EncoderModel(
            T5EncoderModel.from_pretrained(tiny_t5_path), head="linear-layernorm-linear"), t5_tokenizer),
        "monot5": lambda: ce_family.MonoT5(T5ForConditionalGeneration.from_pretrained(tiny_t5_path), t5_tokenizer,
                                           query_max_length=8),
        "splade-query-encoder": lambda: splade.query_encoder(batch_size=2),
        "splade-doc-encoder": lambda: splade.doc_encoder(text_field="body"),
        "splade-scorer": lambda: splade.scorer(text_loader=JoinFields(["title", "text"])),
        "sparse-indexer": lambda: sparse_index(tmp / "to-build", "exact").indexer(overwrite=True),
        "pisa-sparse-retriever": lambda: sparse["pisa"].retriever(num_results=5),
        "exact-sparse-retriever": lambda: sparse["exact"].retriever(num_results=5, quantised=True),
        "seismic-sparse-retriever": lambda: sparse_index(tmp / "seismic", "seismic", n_postings=10).indexer().index(
            iter(TOKS)).retriever(num_results=5, query_cut=3, heap_factor=0.5),
        "terrier-sparse-retriever": lambda: sparse_index(tmp / "terrier", "terrier").indexer().index(
            iter(TOKS)).retriever(num_results=5),
        "query-guard": lambda: bm25,
        "fusion": lambda: Fusion([bm25, bm25 % 2], method="interpolate", weights=[0.3, 0.7], num_results=5),
        "join-fields": lambda: JoinFields(["title", "text"], text_field="body"),
        "corpus-text": lambda: CorpusText(pt.Transformer.from_df(pd.DataFrame(DOCS), uniform=True), "docs"),
        "cutoff": lambda: Cutoff(7),
        "scorer-cache": lambda: ScorerCache(tmp / "scores", ce),
        "retriever-cache": lambda: RetrieverCache(tmp / "results", bm25),
        "encoder-cache": lambda: EncoderCache(tmp / "encodings", splade.query_encoder()),
    }


NAMES = ["dense-query-encoder", "dense-doc-encoder", "dense-scorer",
         "cross-encoder", "bert-cat", "rankt5", "monot5", "splade-query-encoder", "splade-doc-encoder",
         "splade-scorer", "sparse-indexer", "pisa-sparse-retriever", "exact-sparse-retriever",
         pytest.param("seismic-sparse-retriever", marks=pytest.mark.skipif(
             importlib.util.find_spec("seismic") is None, reason="the [seismic] extra")),
         pytest.param("terrier-sparse-retriever", marks=pytest.mark.java), "query-guard", "fusion", "join-fields",
         "corpus-text", "cutoff", "scorer-cache", "retriever-cache", "encoder-cache"]


@pytest.mark.parametrize("name", NAMES)
def test_a_stage_rebuilt_by_pt_inspect_is_equal(stages, name):
    stage = stages[name]()
    attributes = pt.inspect.transformer_attributes(stage)  # strict: every constructor argument is found
    assert all(a.value is not pt.inspect.TransformerAttribute.MISSING for a in attributes)
    assert not any(callable(a.value) and a.name == "index" for a in attributes), "a method read as an attribute"
    rebuilt = pt.inspect.transformer_apply_attributes(stage)
    assert rebuilt is not stage and type(rebuilt) is type(stage)
    assert rebuilt == stage and hash(rebuilt) == hash(stage)
    assert repr(rebuilt) == repr(stage)


def test_a_rebuilt_cross_encoder_keeps_its_checkpoint_name_and_scores(stages, tiny_classifier_path):
    ce = stages["cross-encoder"]()
    rebuilt = pt.inspect.transformer_apply_attributes(ce, batch_size=2)
    assert rebuilt.name == str(tiny_classifier_path) and rebuilt.batch_size == 2
    assert repr(rebuilt) == (f"CrossEncoder.from_pretrained({str(tiny_classifier_path)!r}, batch_size=2, "
                             f"query_max_length=16, max_length=64)")
    assert rebuilt.cache_key() == ce.cache_key(), "the batch size does not change a score"
    frame = pd.DataFrame({"qid": ["q"] * 2, "query": ["cat"] * 2, "docno": ["d1", "d2"],
                          "text": [d["text"] for d in DOCS[:2]]})
    pd.testing.assert_frame_equal(rebuilt(frame), ce(frame))


def test_a_rebuilt_indexer_builds_its_index(tmp_path):
    indexer = sparse_index(tmp_path / "index", "exact").indexer()
    rebuilt = pt.inspect.transformer_apply_attributes(indexer)
    assert rebuilt.index(iter(TOKS)).num_docs() == len(TOKS)


def test_the_subtransformers_of_wrappers_are_found(stages):
    guard = stages["query-guard"]()
    assert isinstance(guard, QueryGuard)
    assert pt.inspect.subtransformers(guard) == {"retriever": guard.retriever}
    cache = stages["scorer-cache"]()
    assert pt.inspect.subtransformers(cache) == {"transformer": stages["cross-encoder"]()}
    assert list(pt.inspect.subtransformers(stages["fusion"]())) == ["systems"]
