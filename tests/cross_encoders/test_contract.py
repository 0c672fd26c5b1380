"""The contract every re-ranker keeps: columns, ranks, empty input, bad input, determinism, saving."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyterrier as pt
import pytest
import torch

from transformers_ir import _checkpoint, _device
from transformers_ir.cross_encoders import BertCat, CrossEncoder, MonoT5, RankT5Encoder

from .conftest import ARCHITECTURES

CLASSES = {"cross-encoder": CrossEncoder, "cross-encoder-2": CrossEncoder, "bert-cat": BertCat,
           "rankt5-dense": RankT5Encoder, "rankt5-lll": RankT5Encoder, "monot5": MonoT5}


def by_pair(frame: pd.DataFrame) -> pd.Series:
    return frame.assign(n=frame.groupby(["qid", "docno"]).cumcount()).set_index(["qid", "docno", "n"])["score"]


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_rows_columns_and_ranks(arch, build, frame):
    out = build(arch)(frame)
    assert len(out) == len(frame)  # the duplicate (q1, d1) row is scored and kept
    assert list(out.columns) == list(frame.columns)
    assert set(out["extra"]) == set(frame["extra"])
    assert out["score"].dtype == np.float64 and np.isfinite(out["score"]).all()
    assert not np.allclose(out["score"].to_numpy(), frame["score"].to_numpy())
    for _, group in out.groupby("qid"):
        expected = group.sort_values(["score", "docno"], ascending=[False, True])
        assert group["rank"].tolist() == list(range(len(group)))
        assert group.index.tolist() == expected.index.tolist()
    dup = out[(out.qid == "q1") & (out.docno == "d1")]["score"]
    assert len(dup) == 2 and dup.iloc[0] == dup.iloc[1]


@pytest.mark.parametrize("container", [list, np.array, pd.array])
def test_a_repeated_pair_is_scored_once(build, container, monkeypatch):
    """Copies of a pair far apart (other chunks, other batches, other padding) get bit-identical scores: each
    distinct pair goes through the model once; distinct pairs keep their own scores."""
    from transformers_ir.cross_encoders import _base

    monkeypatch.setattr(_base, "CHUNK_BATCHES", 2)
    reranker = build("cross-encoder", batch_size=2)
    words = "protein cancer heart risk blood pressure study gene".split()
    docs = [" ".join(words[: 1 + i % 8]) for i in range(30)]  # 8 distinct texts, each repeated across chunks
    queries = ["heart risk"] * 15 + ["protein"] * 15
    scored = []
    score = reranker._score
    monkeypatch.setattr(reranker, "_score", lambda model, f: scored.append(len(f["input_ids"])) or score(model, f))
    out = reranker.score_pairs(container(queries), container(docs))
    assert sum(scored) == len(set(zip(queries, docs))) == 16
    for pair in set(zip(queries, docs)):
        rows = [i for i, p in enumerate(zip(queries, docs)) if p == pair]
        assert len(set(out[rows].tolist())) == 1
    alone = [reranker.score_pairs([q], [d])[0] for q, d in zip(queries[:8], docs[:8])]
    np.testing.assert_allclose(out[:8], alone, atol=1e-6, rtol=0)
    assert len(set(out.tolist())) > 8


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_empty_frame(arch, build, frame):
    out = build(arch)(frame.iloc[:0])
    assert len(out) == 0
    assert {"score", "rank"} <= set(out.columns) and set(frame.columns) <= set(out.columns)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_order_and_batch_size_do_not_change_scores(arch, build, frame):
    """Length sorting is undone and padding never leaks: shuffled input and any batch size give the same
    scores, and a second call gives identical ones."""
    reranker = build(arch, batch_size=3)
    first = by_pair(reranker(frame))
    assert by_pair(reranker(frame)).equals(first)
    shuffled = by_pair(build(arch, batch_size=1)(frame.sample(frac=1, random_state=0)))
    pd.testing.assert_series_equal(shuffled.sort_index(), first.sort_index(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_missing_columns_say_what_to_add(arch, build, frame):
    reranker = build(arch)
    with pytest.raises(pt.validate.InputValidationError, match=r"pt\.text\.get_text"):
        reranker(frame.drop(columns=["text"]))
    with pytest.raises(pt.validate.InputValidationError, match="query"):
        reranker(frame.drop(columns=["query"]))
    with pytest.raises(pt.validate.InputValidationError, match="body"):
        build(arch, text_field="body")(frame)


@pytest.mark.parametrize("dtype", ["string[python]", "string[pyarrow]"])
def test_string_columns_with_missing_text_score_like_empty_text(build, frame, dtype):
    """Extension string columns (Arrow's too: what pandas 3 makes of text with pyarrow installed) are read chunk
    by chunk; their missing value (pd.NA) is empty text, not the string '<NA>'."""
    if dtype.endswith("[pyarrow]"):
        pytest.importorskip("pyarrow")
    plain = frame.copy()
    plain.loc[0, "text"] = ""
    typed = frame.astype({"query": dtype, "text": dtype})
    typed.loc[0, "text"] = pd.NA
    reranker = build("cross-encoder", batch_size=2)
    pd.testing.assert_series_equal(by_pair(reranker(typed)), by_pair(reranker(plain)), atol=1e-6, rtol=0)
    assert reranker.score_pairs(["q"], ["<NA>"])[0] != reranker.score_pairs(["q"], [""])[0]


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_awkward_text(arch, build, frame):
    """NaN and None text, empty query, a document far beyond max_length: scored, never a crash."""
    awkward = frame.copy()
    awkward.loc[0, "text"] = np.nan
    awkward.loc[1, "text"] = None
    awkward.loc[2, "query"] = ""
    awkward.loc[3, "text"] = "the protein gene " * 5000
    reranker = build(arch, max_length=48, query_max_length=16)
    out = reranker(awkward)
    assert len(out) == len(awkward) and np.isfinite(out["score"]).all()
    features = reranker.tokenize_pairs(["what protein causes cancer"], ["the protein gene " * 5000])
    assert features["input_ids"].shape[1] == 48


@pytest.mark.parametrize("arch", ["cross-encoder", "bert-cat", "rankt5-lll", "monot5"])
def test_query_kept_whole_document_truncated(arch, build):
    """Separate maxima: the query keeps its tokens (up to query_max_length), the document gets what is left."""
    reranker = build(arch, max_length=60, query_max_length=8, doc_max_length=12)
    tok = reranker.tokenizer
    long_query = "the heart risk of blood pressure in patients with cancer and the brain"
    q_ids = tok(long_query, add_special_tokens=False)["input_ids"]
    d_ids = tok("cancer " * 100, add_special_tokens=False)["input_ids"]
    ids = reranker.tokenize_pairs([long_query, "heart"], ["cancer " * 100, "cancer " * 100])["input_ids"]
    row = ids[0].tolist()
    assert _contains(row, q_ids[:8]) and not _contains(row, q_ids[:9])
    assert _contains(row, d_ids[:12]) and not _contains(row, d_ids[:13])
    short = build(arch, max_length=60, query_max_length=8)  # no document cap: it fills max_length
    assert short.tokenize_pairs(["heart"], ["cancer " * 100])["input_ids"].shape[1] == 60


def _contains(row: list[int], part: list[int]) -> bool:
    return any(row[i:i + len(part)] == part for i in range(len(row) - len(part) + 1))


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_save_and_reload_scores_identically(arch, build, frame, tmp_path):
    reranker = build(arch, query_max_length=10, max_length=60)
    path = reranker.save_pretrained(tmp_path / "ckpt")
    assert (path / "model.safetensors").is_file() and (path / _checkpoint.SETTINGS_FILE).is_file()
    again = CLASSES[arch].from_pretrained(path)
    assert (again.query_max_length, again.max_length) == (10, 60)
    assert by_pair(again(frame)).equals(by_pair(reranker(frame)))
    with pytest.raises(FileExistsError, match="overwrite=True"):
        reranker.save_pretrained(path)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_a_checkpoint_saved_with_the_old_settings_file_still_loads(arch, build, tmp_path):
    """Checkpoints written before the one settings file (``reranker.json``) reload with their settings."""
    path = build(arch, query_max_length=10, max_length=60).save_pretrained(tmp_path / "ckpt")
    settings = json.loads((path / _checkpoint.SETTINGS_FILE).read_text())
    assert settings["architecture"] == CLASSES[arch].ARCHITECTURE
    assert set(CLASSES[arch].config_keys) <= set(settings)
    (path / _checkpoint.SETTINGS_FILE).rename(path / "reranker.json")
    again = CLASSES[arch].from_pretrained(path)
    assert (again.query_max_length, again.max_length) == (10, 60)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_score_features_is_differentiable(arch, build):
    """Training calls the same score_features: with grad enabled, the loss reaches every weight of the head."""
    reranker = build(arch)
    scores = reranker.score_features(reranker.tokenize_pairs(["heart risk", "cancer"], ["blood", "protein"]))
    assert scores.shape == (2,) and scores.dtype == torch.float32 and scores.requires_grad
    scores.sum().backward()
    grads = [p.grad for p in reranker.model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads[-2:]) and any(g.abs().sum() > 0 for g in grads if g is not None)


@pytest.mark.parametrize("arch", ["cross-encoder", "monot5"])
def test_normalise(arch, build, frame):
    raw = build(arch)(frame)
    prob = build(arch, normalise="sigmoid")(frame)
    assert build(arch, normalise="sigmoid").score_kind == "probability"
    assert ((prob["score"] > 0) & (prob["score"] < 1)).all()
    assert prob[["qid", "docno"]].equals(raw[["qid", "docno"]])  # monotone: the same ranking
    expected = np.exp(raw["score"]) if arch == "monot5" else 1 / (1 + np.exp(-raw["score"]))
    np.testing.assert_allclose(prob["score"], expected, rtol=1e-6)
    minmax = build(arch, normalise="minmax")(frame)
    assert minmax.groupby("qid")["score"].max().eq(1).all() and minmax.groupby("qid")["score"].min().eq(0).all()
    one_each = frame.drop_duplicates("qid")  # a query with one result: its scores are all equal
    assert build(arch, normalise="minmax")(one_each)["score"].eq(1.0).all(), "one tie rule: 1.0, as fusion"
    with pytest.raises(ValueError, match="normalise"):
        build(arch, normalise="softmax")


def test_repr_and_equality(build, tiny_classifier_path):
    a = CrossEncoder.from_pretrained(tiny_classifier_path, batch_size=8)
    assert repr(a) == f"CrossEncoder.from_pretrained({str(tiny_classifier_path)!r}, batch_size=8)"
    b = CrossEncoder.from_pretrained(tiny_classifier_path, batch_size=8)
    assert a == b and hash(a) == hash(b)
    assert a != CrossEncoder.from_pretrained(tiny_classifier_path, batch_size=8, normalise="minmax")
    built = build("bert-cat")
    assert repr(built) == "BertCat(BertCatModel(...))" and built != build("bert-cat")


def test_precision(build, frame):
    """bf16 autocast where this CPU has it (scores fp32, close to the exact mode); fp16 on a CPU warns and
    runs fp32."""
    exact = build("cross-encoder")
    with pytest.warns(RuntimeWarning, match="fp32 instead"):
        fallback = build("cross-encoder", precision="fp16", device="cpu")
    assert fallback.precision == "fp32"
    assert by_pair(fallback(frame)).equals(by_pair(exact(frame)))
    fast = build("cross-encoder", precision="bf16", device="cpu")
    if fast.precision == "bf16":
        scores = fast.score_pairs(frame["query"].tolist(), frame["text"].tolist())
        assert scores.dtype == np.float32
        np.testing.assert_allclose(scores, exact.score_pairs(frame["query"].tolist(), frame["text"].tolist()),
                                   atol=0.05)
        with torch.no_grad():  # the bf16 copy follows the weights as training changes them
            fast.model.classifier.bias.add_(1.0)
        shifted = fast.score_pairs(frame["query"].tolist(), frame["text"].tolist())
        np.testing.assert_allclose(shifted, scores + 1.0, atol=0.05)
    with pytest.raises(ValueError, match="precision"):
        build("cross-encoder", precision="fp8")


def test_out_of_memory_halves_the_batch_and_remembers(build, frame):
    """Fault injection: a device that runs out of memory above 2 pairs per batch."""
    reranker = build("cross-encoder", batch_size=8)
    expected = reranker.score_pairs(frame["query"].tolist(), frame["text"].tolist())
    real = reranker._score
    sizes = []

    def limited(model, features):
        sizes.append(len(features["input_ids"]))
        if sizes[-1] > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        return real(model, features)

    reranker._score = limited
    np.testing.assert_allclose(reranker.score_pairs(frame["query"].tolist(), frame["text"].tolist()), expected,
                               atol=1e-5)
    assert sizes[:3] == [6, 4, 2] and reranker._fitting_batch_size == 2  # 7 rows, 6 distinct pairs
    sizes.clear()
    reranker.score_pairs(frame["query"].tolist(), frame["text"].tolist())
    assert max(sizes) == 2


def test_streams_in_chunks(build):
    """A frame much larger than a chunk is tokenized chunk by chunk: memory follows the batch size."""
    reranker = build("cross-encoder", batch_size=2)
    calls = []
    tokenizer = reranker.tokenizer
    original = type(tokenizer).__call__

    class Spy(type(tokenizer)):
        def __call__(self, text, *args, **kwargs):
            calls.append(len(text) if isinstance(text, list) else 1)
            return original(self, text, *args, **kwargs)

    tokenizer.__class__ = Spy
    try:
        n = 300
        scores = reranker.score_pairs(["heart risk"] * n, [f"blood pressure {i}" for i in range(n)])
    finally:
        tokenizer.__class__ = Spy.__bases__[0]
    assert len(scores) == n and max(calls) <= 64 < n


def test_missing_checkpoint_files_are_named(build, tmp_path):
    path = build("bert-cat").save_pretrained(tmp_path / "ckpt")
    (path / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors or pytorch_model.bin"):
        BertCat.from_pretrained(path)
    (path / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="config.json"):
        BertCat.from_pretrained(path)
    with pytest.raises(FileNotFoundError, match="not a folder|neither"):
        CrossEncoder.from_pretrained(tmp_path / "nowhere")


def test_remote_code_is_never_run_unless_asked(tiny_classifier_path, tmp_path):
    """A checkpoint whose config points at its own modelling code: refused without trust_remote_code, and
    the code never runs."""
    import shutil

    shutil.copytree(tiny_classifier_path, tmp_path / "ckpt")
    marker = tmp_path / "code-ran"
    (tmp_path / "ckpt" / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n"
                                               "from transformers import BertConfig as EvilConfig\n")
    config = (tmp_path / "ckpt" / "config.json")

    data = json.loads(config.read_text())
    data["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModelForSequenceClassification": "evil.EvilConfig"}
    config.write_text(json.dumps(data))
    try:
        CrossEncoder.from_pretrained(tmp_path / "ckpt")
    except (ValueError, OSError):
        pass
    assert not marker.exists()


@pytest.mark.parametrize("arch", ["cross-encoder", "bert-cat"])
def test_int8_scores_a_quantised_copy_close_to_fp32(build, frame, arch):
    """int8 (CPU): a copy with dynamically quantised linear layers scores, fp32 scores out, close to the exact
    mode; the model itself stays fp32 (training and save_pretrained see the real weights), and the copy follows
    the weights when they change; on CUDA it is refused with a warning."""
    exact = build(arch)
    fast = build(arch, precision="int8", device="cpu")
    assert fast.precision == "int8"
    queries, docs = frame["query"].tolist(), frame["text"].tolist()
    scores = fast.score_pairs(queries, docs)
    assert scores.dtype == np.float32 and np.isfinite(scores).all()
    reference = exact.score_pairs(queries, docs)
    np.testing.assert_allclose(scores, reference, atol=0.05 * max(1.0, np.abs(reference).max()))
    assert all(p.dtype == torch.float32 for p in fast.model.parameters())
    quantised = fast._inference_model()[0]
    assert any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in quantised.modules())
    head = [p for p in fast.model.parameters()][-1]
    with torch.no_grad():
        head.add_(1.0)
    assert fast._inference_model()[0] is not quantised, "the copy follows the weights"
    with pytest.warns(RuntimeWarning, match="int8 is for CPUs"):
        assert _device.resolve_precision("int8", torch.device("cuda")) == "fp32"
