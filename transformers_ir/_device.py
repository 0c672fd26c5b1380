"""Where and in which precision models run: one :func:`infer_device`, one :func:`resolve_precision`, one
:func:`autocast`. Shared by inference (re-rankers, encoders) and training, so both make the same choice.

Precisions:

* ``'fp32'``: the exact mode, default on CPU.
* ``'bf16'``: bfloat16 where the device computes it natively (CUDA with bf16 support; a CPU with AVX512-BF16
  or AMX). Default on CUDA. Elsewhere a warning and fp32. On a CPU, inference is fastest on a bf16 copy of the
  weights (:class:`LowPrecisionCopy`): CPU autocast re-casts activations around every fp32 op.
* ``'fp16'``: autocast to float16, CUDA only (a warning and fp32 elsewhere).
* ``'int8'``: inference only, CPU only: a copy of the model whose linear layers are dynamically quantised to int8
  (``torch.ao.quantization.quantize_dynamic``: int8 weights, activations quantised per batch). The fast mode of
  CPUs without AVX512-BF16/AMX; approximate (see ``bench/rerank.py`` for its agreement with fp32).

Scores and losses stay fp32 whatever the precision: callers cast the model's output with ``.float()``.
"""
from __future__ import annotations

import contextlib
import copy
import functools
import warnings

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
    """The precision to run: ``precision`` when ``device`` supports it, the device default when None, and fp32
    with a warning when the device lacks it."""
    if precision is None:
        return default_precision(device)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}")
    if not supports(precision, device):
        warnings.warn(
            f"precision {precision!r} is not supported natively on {device} (bf16 needs CUDA or a CPU with "
            f"AVX512-BF16/AMX; fp16 needs CUDA; int8 is for CPUs): running in fp32 instead",
            RuntimeWarning,
            stacklevel=3,
        )
        return "fp32"
    return precision


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """A ``torch.autocast`` context for a resolved precision (a no-op for fp32)."""
    if precision in ("fp32", "int8"):  # int8 runs a quantised copy (LowPrecisionCopy), not autocast
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

    bf16 on a CPU runs a bf16 copy of ``module`` (rebuilt whenever its weights change): CPU autocast re-casts
    every activation around each fp32 op, which costs as much as the bf16 matrix products save. int8 runs a copy
    with dynamically quantised linear layers. Elsewhere ``module`` itself, under autocast for bf16/fp16.

    Args:
        module: the model.
        precision: a precision from :func:`resolve_precision`.
        device: where it runs.
        copies: the caller's low-precision copies by precision (filled on first use, kept between calls).

    Returns:
        ``(module to run, precision to pass to :func:`autocast`)``.
    """
    if (precision == "bf16" and device.type == "cpu") or precision == "int8":
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
    "PRECISIONS",
    "LowPrecisionCopy",
    "Precision",
    "autocast",
    "cpu_has_native_bf16",
    "default_precision",
    "eval_mode",
    "infer_device",
    "inference_module",
    "resolve_precision",
    "supports",
]
