"""Where and in which precision models run: one :func:`infer_device`, one :func:`resolve_precision`, one
:func:`autocast`. Shared by inference (re-rankers, encoders) and training, so both make the same choice.

Precisions:

* ``'auto'``: the fast mode where the hardware has one, chosen by :func:`choose_precision` from
  :func:`hardware_class`: bf16 on CUDA (fp16 on a GPU without bf16) and on CPUs with AMX; fp32 elsewhere,
  AVX512-BF16 without AMX included (bf16 measured 0.75x fp32 there). The choice and its reason are a
  :class:`PrecisionChoice`, shown in the stages' ``repr`` and recorded in the experiment manifest.
* ``'fp32'``: the exact mode, default on CPU.
* ``'bf16'``: bfloat16 where the device computes it natively (CUDA with bf16 support; a CPU with AVX512-BF16
  or AMX). Default on CUDA. Elsewhere a warning and fp32. Inference runs a bf16 copy of the weights made once
  (:class:`LowPrecisionCopy`), not autocast: autocast re-casts the weights on every call and, on a CPU,
  the activations around every fp32 op.
* ``'fp16'``: autocast to float16, CUDA only (a warning and fp32 elsewhere).
* ``'int8'``: inference only, CPU only: a copy of the model whose linear layers are dynamically quantised to int8
  (``torch.ao.quantization.quantize_dynamic``: int8 weights, activations quantised per batch). The fast mode of
  CPUs without AVX512-BF16/AMX; approximate (see ``bench/rerank.py`` for its agreement with fp32).

Scores and losses stay fp32 whatever the precision: callers cast the model's output with ``.float()``.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import warnings
from pathlib import Path

import torch

from transformers_ir._options import PRECISIONS, Precision

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def infer_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` as a :class:`torch.device`; when None, CUDA if available, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bfloat16 matrix products natively (AVX512-BF16 or AMX), the only case where
    bf16 autocast is faster than fp32 rather than emulated and slower."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False


#: What :func:`hardware_class` tells apart: a CUDA GPU, then CPUs by their best matrix instructions.
HARDWARE_CLASSES = ("cuda", "cpu-amx", "cpu-avx512-bf16", "cpu-avx512", "cpu-avx2", "cpu")


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (Linux; empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def classify_cpu(flags: frozenset[str] | set[str], capability: str, *, amx: bool = False,
                 avx512_bf16: bool = False) -> str:
    """The hardware class of a CPU from its ``/proc/cpuinfo`` flags and
    ``torch.backends.cpu.get_cpu_capability()`` (``'AVX512'``, ``'AVX2'``, ``'DEFAULT'``, ...); ``amx`` and
    ``avx512_bf16`` are torch's own probes, for systems without ``/proc/cpuinfo``.

    Returns:
        ``'cpu-amx'`` (AMX tiles with bf16), ``'cpu-avx512-bf16'``, ``'cpu-avx512'``, ``'cpu-avx2'`` or ``'cpu'``.
    """
    if {"amx_bf16", "amx_tile"} <= set(flags) or amx:
        return "cpu-amx"
    if "avx512_bf16" in flags or avx512_bf16:
        return "cpu-avx512-bf16"
    if capability.upper().startswith("AVX512") or "avx512f" in flags:
        return "cpu-avx512"
    if capability.upper() == "AVX2" or "avx2" in flags:
        return "cpu-avx2"
    return "cpu"


def _torch_probe(name: str) -> bool:
    probe = getattr(torch.cpu, name, None)  # private helpers of torch.cpu; absent in some builds
    try:
        return bool(probe()) if probe is not None else False
    except RuntimeError:
        return False


@functools.cache
def cpu_class() -> str:
    """This machine's CPU class (:func:`classify_cpu` of its flags and torch's capability), detected once."""
    flags = cpu_flags()
    probes = {} if flags else {"amx": _torch_probe("_is_amx_tile_supported"),
                               "avx512_bf16": _torch_probe("_is_avx512_bf16_supported")}
    return classify_cpu(flags, torch.backends.cpu.get_cpu_capability(), **probes)


def hardware_class(device: torch.device) -> str:
    """``'cuda'`` for a CUDA device, :func:`cpu_class` for the CPU, the device type for anything else."""
    if device.type == "cuda":
        return "cuda"
    if device.type == "cpu":
        return cpu_class()
    return device.type


@dataclasses.dataclass(frozen=True)
class PrecisionChoice:
    """The precision a model runs in and why: what was asked (``None``: the device default), what runs, the
    hardware class it was chosen for, and the reason in words."""

    asked: str | None
    precision: str
    hardware: str
    reason: str

    def __str__(self) -> str:
        asked = "default" if self.asked is None else self.asked
        return f"{self.precision} ({asked} on {self.hardware}: {self.reason})"

    def as_dict(self) -> dict:
        """The fields by name (for JSON: the manifest, the benchmarks' last line)."""
        return dataclasses.asdict(self)

    @property
    def setting(self) -> str:
        """What a family stores as its ``precision`` (the constructor argument ``pt.inspect`` reads back):
        ``'auto'`` when asked, so a rebuilt stage chooses again on its own machine; else what runs."""
        return "auto" if self.asked == "auto" else self.precision

    def note(self) -> str:
        """What ``'auto'`` chose and why, to follow a ``repr`` (``' [auto: bf16 (...)]'``); empty otherwise."""
        return f" [auto: {self}]" if self.asked == "auto" else ""


def _auto(device: torch.device, hardware: str) -> tuple[str, str]:
    """What ``'auto'`` runs on ``hardware``, and why."""
    if hardware == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bf16", "the GPU computes bf16 natively"
        return "fp16", "a GPU without bf16: fp16 autocast"
    if hardware == "cpu-amx":
        return "bf16", "AMX tiles compute bf16 matrix products natively (3.5x fp32 measured, issue 20)"
    if hardware == "cpu-avx512-bf16":
        return "fp32", "AVX512-BF16 without AMX: bf16 measured 0.75x fp32, so the exact mode"
    if device.type == "cpu":
        return "fp32", "no native bf16 on this CPU (no AMX): bf16 would be emulated, slower than fp32"
    return "fp32", f"no fast mode known for {device.type}"


def choose_precision(precision: str | None, device: torch.device) -> PrecisionChoice:
    """The precision to run and its reason: ``'auto'`` by the hardware (:func:`hardware_class`), ``None`` the
    device default, any other ``precision`` itself when ``device`` supports it, else fp32 with a warning."""
    if precision is not None and precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}")
    hardware = hardware_class(device)
    if precision == "auto":
        chosen, reason = _auto(device, hardware)
        return PrecisionChoice("auto", chosen, hardware, reason)
    if precision is None:
        return PrecisionChoice(None, default_precision(device), hardware, "the device default")
    if not supports(precision, device):
        warnings.warn(
            f"precision {precision!r} is not supported natively on {device} (bf16 needs CUDA or a CPU with "
            f"AVX512-BF16/AMX; fp16 needs CUDA; int8 is for CPUs): running in fp32 instead",
            RuntimeWarning,
            stacklevel=3,
        )
        return PrecisionChoice(precision, "fp32", hardware, f"{precision} is not native here")
    return PrecisionChoice(precision, precision, hardware, "as asked")


def supports(precision: str, device: torch.device) -> bool:
    """Whether ``device`` runs ``precision`` natively."""
    if precision == "fp32":
        return True
    if device.type == "cuda":
        return precision == "fp16" or (precision == "bf16" and torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        if precision == "int8":
            return bool({"x86", "fbgemm"} & set(torch.backends.quantized.supported_engines))
        return precision == "bf16" and cpu_has_native_bf16()
    return False


def default_precision(device: torch.device) -> str:
    """bf16 on CUDA (fp16 on GPUs without bf16), fp32 elsewhere (the exact mode)."""
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def resolve_precision(precision: str | None, device: torch.device) -> str:
    """The precision to run (:func:`choose_precision` without its reason): ``precision`` when ``device``
    supports it, the device default when None, the hardware's fast mode for ``'auto'``, and fp32 with a warning
    when the device lacks it."""
    return choose_precision(precision, device).precision


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """A ``torch.autocast`` context for a resolved precision: fp16 autocasts; a no-op for fp32, and for bf16 and
    int8, which run a copy of the model (:class:`LowPrecisionCopy`) instead."""
    if precision in ("fp32", "int8", "bf16"):
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])


@contextlib.contextmanager
def eval_mode(module: torch.nn.Module):
    """Eval mode (no dropout) for the block, restoring the training flag after (inference during training)."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def inference_module(module: torch.nn.Module, precision: str, device: torch.device,
                     copies: dict[str, LowPrecisionCopy]) -> tuple[torch.nn.Module, str]:
    """The module that runs inference in a resolved ``precision`` and the autocast precision it runs under.

    bf16 runs a bf16 copy of ``module``, made once and rebuilt only when its weights change: autocast would
    re-cast the weights on every call (and on a CPU every activation around each fp32 op, which costs as much as
    the bf16 matrix products save). int8 runs a copy with dynamically quantised linear layers; fp16 (CUDA)
    autocast, which keeps softmax and layer norms in fp32. fp32 ``module`` itself.

    Args:
        module: the model.
        precision: a precision from :func:`resolve_precision`.
        device: where it runs.
        copies: the caller's low-precision copies by precision (filled on first use, kept between calls).

    Returns:
        ``(module to run, precision to pass to :func:`autocast`)``.
    """
    if precision in ("bf16", "int8"):
        if precision not in copies:
            copies[precision] = LowPrecisionCopy(precision)
        return copies[precision].get(module), "fp32"
    return module, precision


class LowPrecisionCopy:
    """A copy of a module for inference in ``'bf16'`` (the weights cast) or ``'int8'`` (linear layers dynamically
    quantised), made on first use and rebuilt whenever the module's weights change (an optimiser step or
    ``load_state_dict`` bumps the parameters' version counters)."""

    def __init__(self, precision: str):
        if precision not in ("bf16", "int8"):
            raise ValueError(f"a low-precision copy is 'bf16' or 'int8', not {precision!r}")
        self.precision = precision
        self._stamp: tuple | None = None
        self._copy: torch.nn.Module | None = None

    def get(self, module: torch.nn.Module) -> torch.nn.Module:
        stamp = tuple((p.data_ptr(), p._version) for p in module.parameters())
        if self._copy is None or stamp != self._stamp:
            self._copy = None  # free the old copy before making the new one
            self._copy = self._make(copy.deepcopy(module).eval().requires_grad_(False))
            self._stamp = stamp
        return self._copy

    def _make(self, module: torch.nn.Module) -> torch.nn.Module:
        if self.precision == "bf16":
            return module.to(torch.bfloat16)
        from torch.ao.quantization import quantize_dynamic

        with warnings.catch_warnings():  # torch marks its quantized tensors deprecated; the kernels are current
            warnings.simplefilter("ignore")
            return quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8)


__all__ = [
    "HARDWARE_CLASSES",
    "PRECISIONS",
    "LowPrecisionCopy",
    "Precision",
    "PrecisionChoice",
    "autocast",
    "choose_precision",
    "classify_cpu",
    "cpu_class",
    "cpu_flags",
    "cpu_has_native_bf16",
    "default_precision",
    "eval_mode",
    "hardware_class",
    "infer_device",
    "inference_module",
    "resolve_precision",
    "supports",
]
