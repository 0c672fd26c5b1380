"""Training configs: unknown keys, wrong types and impossible combinations are errors naming the key and fix."""
import pytest

from transformers_ir.cli import main
from transformers_ir.training import ConfigError, parse_training_config

BASE = {
    "model": {"family": "cross-encoder", "name": "some-model"},
    "data": {"topics": "irds:beir/scifact/train", "negatives": {"component": "bm25"}, "group_size": 4},
    "loss": {"name": "grouped-softmax"},
    "train": {"epochs": 1, "learning_rate": 1e-4},
}


def _with(section, **values):
    raw = {k: dict(v) for k, v in BASE.items()}
    raw[section].update(values)
    return raw


def test_a_valid_config_parses_with_defaults():
    spec = parse_training_config(BASE, name="x")
    assert spec.data.group_size == 4 and spec.train.batch_size == 4 and spec.loss.flops_doc == 0.0


def test_unknown_key_names_the_key_and_the_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown key 'lerning_rate' in \[train\].*learning_rate"):
        parse_training_config(_with("train", lerning_rate=1e-4))


def test_wrong_type_names_the_key_and_the_expected_type():
    with pytest.raises(ConfigError, match=r"\[data\] group_size must be int, got '4'"):
        parse_training_config(_with("data", group_size="4"))
    with pytest.raises(ConfigError, match=r"\[model\] family must be one of"):
        parse_training_config(_with("model", family="colbert"))


def test_loss_must_fit_the_family_and_distillation_needs_a_teacher():
    with pytest.raises(ConfigError, match="does not train the 'splade' family"):
        parse_training_config(_with("model", family="splade"))
    with pytest.raises(ConfigError, match="needs teacher scores"):
        parse_training_config(_with("loss", name="margin-mse"))


def test_the_hash_changes_with_what_changes_the_weights_only():
    a = parse_training_config(BASE)
    assert a.config_hash() == parse_training_config(_with("train", logging_steps=99)).config_hash()
    assert a.config_hash() != parse_training_config(_with("train", learning_rate=2e-4)).config_hash()
    assert a.output_dir().name.endswith(a.config_hash())


def test_train_command_exits_2_with_the_problem(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[model]\nname = "m"\n[data]\ntopics = "irds:x"\n[train]\nepochs = "two"\n')
    assert main(["train", str(bad)]) == 2
    assert "[train] epochs must be float" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "missing.toml")]) == 2


@pytest.mark.parametrize("native", [False, True])
def test_bf16_training_on_a_cpu_follows_the_inference_rule(monkeypatch, tmp_path, native):
    """bf16 on a CPU without native bf16 is emulated (a MiniLM step ran 14x slower): a warning and fp32, as for
    inference; with AVX512-BF16/AMX, CPU autocast."""
    from transformers_ir import _device
    from transformers_ir.training._fit import training_arguments

    monkeypatch.setattr(_device.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(_device, "cpu_has_native_bf16", lambda: native)
    spec = parse_training_config(_with("train", precision="bf16"), name="x")
    if native:
        args = training_arguments(spec, tmp_path, verbose=False)
    else:
        with pytest.warns(RuntimeWarning, match="running in fp32"):
            args = training_arguments(spec, tmp_path, verbose=False)
    assert args.bf16 is native and not args.fp16
    auto = parse_training_config(_with("train", precision="auto"), name="x")
    assert not training_arguments(auto, tmp_path, verbose=False).bf16  # auto: fp32 on a CPU
