"""Where and in which precision models run: one :func:`infer_device`, one :func:`resolve_precision`, one
:func:`autocast`. Shared by inference (re-rankers, encoders) and training, so both make the same choice.

Precisions:

* ``'fp32'``: the exact mode, default on CPU.
* ``'bf16'``: bfloat16 where the device computes it natively (CUDA with bf16 support; a CPU with AVX512-BF16
  or AMX). Default on CUDA. Elsewhere a warning and fp32. On a CPU, inference is fastest on a bf16 copy of the
  weights (:class:`LowPrecisionCopy`): CPU autocast re-casts activations around every fp32 op.
* ``'fp16'``: autocast to float16, CUDA only (a warning and fp32 elsewhere).

Scores and losses stay fp32 whatever the precision: callers cast the model's output with ``.float()``.
"""
from __future__ import annotations

import contextlib
import copy
import functools
import warnings
from typing import Literal

import torch

Precision = Literal["fp32", "bf16", "fp16"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def infer_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` as a :class:`torch.device`; when None, CUDA if available, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@functools.lru_cache(maxsize=None)
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
        return precision == "fp16" or torch.cuda.is_bf16_supported()
    if device.type == "cpu":
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
            f"AVX512-BF16/AMX; fp16 needs CUDA): running in fp32 instead",
            RuntimeWarning,
            stacklevel=3,
        )
        return "fp32"
    return precision


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """A ``torch.autocast`` context for a resolved precision (a no-op for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])


class LowPrecisionCopy:
    """A copy of a module in a lower precision, made on first use and rebuilt whenever the module's weights
    change (an optimiser step or ``load_state_dict`` bumps the parameters' version counters)."""

    def __init__(self, dtype: torch.dtype):
        self.dtype = dtype
        self._stamp: tuple | None = None
        self._copy: torch.nn.Module | None = None

    def get(self, module: torch.nn.Module) -> torch.nn.Module:
        stamp = tuple((p.data_ptr(), p._version) for p in module.parameters())
        if self._copy is None or stamp != self._stamp:
            self._copy = None  # free the old copy before making the new one
            self._copy = copy.deepcopy(module).to(self.dtype).eval().requires_grad_(False)
            self._stamp = stamp
        return self._copy


__all__ = [
    "PRECISIONS",
    "LowPrecisionCopy",
    "Precision",
    "autocast",
    "cpu_has_native_bf16",
    "default_precision",
    "infer_device",
    "resolve_precision",
    "supports",
]
