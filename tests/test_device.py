"""Hardware detection and ``precision='auto'``: each hardware class faked, the choice and its reason checked, and
the families, pipeline files and the manifest carrying them; the fused attention equal to the eager one."""
from __future__ import annotations

import numpy as np
import pyterrier as pt
import pytest
import torch

from transformers_ir import _device
from transformers_ir.cross_encoders import CrossEncoder
from transformers_ir.registry import Context, registry
from transformers_ir.splade import Splade

CPU = torch.device("cpu")
QUERIES = ["what protein causes cancer", "heart risk", "heart risk"]
DOCS = ["the protein gene study results", "blood pressure and heart risk in patients with cancer", ""]


@pytest.mark.parametrize("flags, capability, expected", [
    ({"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}, "AVX512", "cpu-amx"),
    ({"avx2", "avx512f", "avx512_bf16"}, "AVX512", "cpu-avx512-bf16"),
    ({"avx2", "avx512f"}, "AVX512", "cpu-avx512"),
    ({"avx2"}, "AVX2", "cpu-avx2"),
    ({"sse4_2"}, "DEFAULT", "cpu"),
    (set(), "AVX2", "cpu-avx2"),  # no /proc/cpuinfo: torch's capability decides
])
def test_cpu_classes_from_flags(flags, capability, expected):
    assert _device.classify_cpu(flags, capability) == expected
    assert expected in _device.HARDWARE_CLASSES


def test_without_cpuinfo_torch_probes_find_amx_and_avx512_bf16():
    assert _device.classify_cpu(set(), "AVX512", amx=True) == "cpu-amx"
    assert _device.classify_cpu(set(), "AVX512", avx512_bf16=True) == "cpu-avx512-bf16"


def test_this_machine_has_a_class():
    assert _device.hardware_class(CPU) in _device.HARDWARE_CLASSES
    assert _device.cpu_flags() == _device.cpu_flags()  # read once, cached


@pytest.fixture
def fake_cpu(monkeypatch):
    """``fake_cpu(cls)``: the CPU detected as ``cls`` (the bf16 copy then runs, emulated, on any CPU)."""
    def fake(cls: str):
        monkeypatch.setattr(_device, "cpu_class", lambda: cls)
    return fake


@pytest.mark.parametrize("cls, precision, words", [
    ("cpu-amx", "bf16", "AMX"),
    ("cpu-avx512-bf16", "fp32", "without AMX"),
    ("cpu-avx512", "fp32", "no native bf16"),
    ("cpu-avx2", "fp32", "no native bf16"),
    ("cpu", "fp32", "no native bf16"),
])
def test_auto_on_each_cpu_class(fake_cpu, cls, precision, words):
    fake_cpu(cls)
    choice = _device.choose_precision("auto", CPU)
    assert (choice.asked, choice.precision, choice.hardware) == ("auto", precision, cls)
    assert words in choice.reason and words in str(choice)
    assert _device.resolve_precision("auto", CPU) == precision


@pytest.mark.parametrize("bf16, precision", [(True, "bf16"), (False, "fp16")])
def test_auto_on_cuda(monkeypatch, bf16, precision):
    monkeypatch.setattr(_device.torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    choice = _device.choose_precision("auto", torch.device("cuda"))
    assert (choice.precision, choice.hardware) == (precision, "cuda")


def test_other_choices_say_why(fake_cpu, monkeypatch):
    fake_cpu("cpu-avx2")
    assert _device.choose_precision(None, CPU).as_dict() == {
        "asked": None, "precision": "fp32", "hardware": "cpu-avx2", "reason": "the device default"}
    monkeypatch.setattr(_device, "cpu_has_native_bf16", lambda: False)
    with pytest.warns(RuntimeWarning, match="fp32 instead"):
        assert "not native" in _device.choose_precision("bf16", CPU).reason
    with pytest.raises(ValueError, match="'auto'"):
        _device.choose_precision("fp64", CPU)


def test_cross_encoder_auto_on_amx_runs_the_bf16_copy(fake_cpu, tiny_classifier_path):
    exact = CrossEncoder.from_pretrained(tiny_classifier_path, device="cpu")
    fake_cpu("cpu-amx")
    auto = CrossEncoder.from_pretrained(tiny_classifier_path, device="cpu", precision="auto")
    assert auto.precision == "auto" and auto.precision_choice.precision == "bf16"
    assert repr(auto).startswith(f"CrossEncoder.from_pretrained({str(tiny_classifier_path)!r}, precision='auto')")
    assert "[auto: bf16 (auto on cpu-amx: AMX" in repr(auto)
    model, autocast_precision = auto._inference_model()
    assert autocast_precision == "fp32" and next(model.parameters()).dtype == torch.bfloat16
    assert auto._inference_model()[0] is model, "the bf16 copy is made once, not per call"
    assert all(p.dtype == torch.float32 for p in auto.model.parameters()), "the model itself stays fp32"
    scores = auto.score_pairs(QUERIES, DOCS)
    assert scores.dtype == np.float32
    np.testing.assert_allclose(scores, exact.score_pairs(QUERIES, DOCS), atol=0.05)
    assert auto.cache_key()["precision"] == "bf16", "the cache is keyed on what ran, not on 'auto'"
    rebuilt = pt.inspect.transformer_apply_attributes(auto)
    assert rebuilt.precision == "auto" and rebuilt == auto and repr(rebuilt) == repr(auto)


def test_cross_encoder_auto_without_amx_is_the_exact_mode(fake_cpu, tiny_classifier_path):
    exact = CrossEncoder.from_pretrained(tiny_classifier_path, device="cpu")
    fake_cpu("cpu-avx512-bf16")
    auto = CrossEncoder.from_pretrained(tiny_classifier_path, device="cpu", precision="auto")
    assert auto.precision_choice.precision == "fp32" and auto._inference_model()[0] is auto.model
    assert "without AMX" in repr(auto)
    assert np.array_equal(auto.score_pairs(QUERIES, DOCS), exact.score_pairs(QUERIES, DOCS))
    assert auto.cache_key() == exact.cache_key(), "auto that chose fp32 shares the exact mode's cache"


def test_splade_auto(fake_cpu, tiny_mlm_path):
    exact = Splade.from_pretrained(str(tiny_mlm_path), device="cpu")
    fake_cpu("cpu-amx")
    auto = Splade.from_pretrained(str(tiny_mlm_path), device="cpu", precision="auto")
    assert auto.precision == "auto" and auto.precision_choice.precision == "bf16"
    assert repr(auto).endswith("precision='auto') [auto: bf16 (auto on cpu-amx: AMX tiles compute bf16 matrix "
                               "products natively (3.5x fp32 measured, issue 20))]")
    encoder = auto.query_encoder()
    assert repr(encoder).startswith("Splade(") and ".query_encoder() [auto: bf16" in repr(encoder)
    assert encoder.precision_choice is auto.precision_choice
    weights = auto.encode(DOCS)
    assert weights.dtype == np.float32
    np.testing.assert_allclose(weights.toarray(), exact.encode(DOCS).toarray(), atol=0.05)
    copy = auto._inference_model("doc")
    assert next(copy.parameters()).dtype == torch.bfloat16 and auto._inference_model("doc") is copy
    assert all(p.dtype == torch.float32 for p in auto.model.parameters())
    assert auto.cache_key()["precision"] == "bf16" and "precision" not in exact.cache_key()
    assert auto != exact
    fake_cpu("cpu-avx2")
    plain = Splade.from_pretrained(str(tiny_mlm_path), device="cpu", precision="auto")
    assert plain.precision_choice.precision == "fp32" and "no native bf16" in repr(plain)
    assert np.array_equal(plain.encode(DOCS).toarray(), exact.encode(DOCS).toarray())


def test_pipeline_files_accept_auto(tiny_classifier_path, tmp_path):
    components = registry()
    for name in ("cross-encoder", "bert-cat", "rankt5", "monot5", "splade", "splade-scorer"):
        assert components[name].check_params({"model": "x", "precision": "auto"}) == [], name
        assert any("precision" in p for p in components[name].check_params({"model": "x", "precision": "fast"}))
    ce = components["cross-encoder"].build(Context(dataset=None, base_dir=tmp_path),
                                           {"model": str(tiny_classifier_path), "precision": "auto"})
    assert ce.precision == "auto" and ce.precision_choice.asked == "auto"


def test_the_manifest_records_what_auto_chose(fake_cpu, tiny_classifier_path, tiny_mlm_path):
    from transformers_ir.experiments._manifest import _hardware, _settings

    fake_cpu("cpu-amx")
    ce = CrossEncoder.from_pretrained(tiny_classifier_path, device="cpu", precision="auto")
    settings = _settings(ce)
    assert settings["precision"] == "auto"
    assert settings["precision_choice"] == {"asked": "auto", "precision": "bf16", "hardware": "cpu-amx",
                                            "reason": ce.precision_choice.reason}
    splade = Splade.from_pretrained(str(tiny_mlm_path), device="cpu", precision="auto")
    assert _settings(splade.query_encoder())["precision_choice"]["precision"] == "bf16"
    assert _hardware() == "cpu-amx"


@pytest.mark.parametrize("kind", ["classifier", "mlm", "t5"])
def test_fused_attention_is_loaded_and_equals_eager(kind, tiny_classifier_path, tiny_mlm_path, tiny_t5_path):
    """from_pretrained gets PyTorch's fused attention (sdpa) for these architectures; in fp32 it scores as the
    eager attention does, to float rounding."""
    from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification, T5ForConditionalGeneration

    from transformers_ir.cross_encoders import MonoT5

    if kind == "mlm":
        fused = Splade.from_pretrained(str(tiny_mlm_path), device="cpu")
        eager = Splade(AutoModelForMaskedLM.from_pretrained(tiny_mlm_path, attn_implementation="eager"),
                       tokenizer=fused.tokenizer, device="cpu")
        assert fused.model.config._attn_implementation == "sdpa"
        np.testing.assert_allclose(fused.encode(DOCS).toarray(), eager.encode(DOCS).toarray(), atol=1e-5)
        return
    if kind == "classifier":
        fused = CrossEncoder.from_pretrained(tiny_classifier_path, device="cpu")
        eager = CrossEncoder(AutoModelForSequenceClassification.from_pretrained(
            tiny_classifier_path, attn_implementation="eager"), fused.tokenizer, device="cpu")
    else:
        fused = MonoT5.from_pretrained(tiny_t5_path, device="cpu")
        eager = MonoT5(T5ForConditionalGeneration.from_pretrained(tiny_t5_path, attn_implementation="eager"),
                       fused.tokenizer, device="cpu")
    assert fused.model.config._attn_implementation == "sdpa"
    assert eager.model.config._attn_implementation == "eager"
    np.testing.assert_allclose(fused.score_pairs(QUERIES, DOCS), eager.score_pairs(QUERIES, DOCS), atol=1e-5)
