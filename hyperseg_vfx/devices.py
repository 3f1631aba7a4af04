"""Device choice and the precision a model computes in.

--device auto picks CUDA when torch sees a GPU. Precision is the shot's (`options.precision`),
not the device's, so every chunk of a shot computes the same arithmetic wherever it runs:

- float32 (the default): plain float32 on every device; on CUDA with TF32 off for matmuls and
  convolutions (cuDNN uses TF32 for float32 convolutions by default, which rounds inputs to a
  10-bit mantissa).
- float16: float16 autocast on CUDA. Refused on the CPU: torch's CPU autocast fails on this model
  and a model cast to half ran 12.7x slower than float32 (480x270, 1 thread, torch 2.14), and
  neither would be the GPU's arithmetic.

Tensors are channels_last; uploads to CUDA go through pinned host memory. torch is imported
by the functions that use it, so that the shot schema (PRECISIONS) costs no torch import.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from .errors import HypersegError

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")
#: Precisions a shot may ask for (options.precision); the first is the default.
PRECISIONS = ("float32", "float16")
DEFAULT_PRECISION = PRECISIONS[0]


class DeviceError(HypersegError, RuntimeError):
    """The requested device cannot be used here."""


def resolve_device(spec: str = "auto") -> torch.device:
    """'auto' | 'cpu' | 'cuda' | 'cuda:N' -> torch.device, or DeviceError naming the problem."""
    import torch

    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(
                f"--device {spec}: CUDA is not available here (torch {torch.__version__}, "
                f"built for CUDA {torch.version.cuda or 'none'}); use --device cpu or auto"
            )
        return torch.device(spec)
    raise DeviceError(f"--device {spec!r}: expected one of {', '.join(DEVICE_CHOICES)}")


class PrecisionError(DeviceError):
    """The shot's precision cannot be computed on this device."""

    field = "options.precision"


def check_precision(device: torch.device, precision: str) -> None:
    """PrecisionError unless `device` computes `precision` (see the module docstring)."""
    if precision not in PRECISIONS:
        raise PrecisionError(f"options.precision: expected one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "float16" and device.type != "cuda":
        raise PrecisionError(
            f"options.precision: float16 is computed on CUDA only and this render runs on {device.type}; "
            "render it with --device cuda on a GPU host, or set `options.precision: float32` in the shot "
            "(and render every frame of the shot again, so that its mattes share one precision)"
        )


def compute_dtype(precision: str) -> torch.dtype:
    """The dtype the network computes (and caches features) in."""
    import torch

    return torch.float16 if precision == "float16" else torch.float32


@contextlib.contextmanager
def precision_context(device: torch.device, precision: str):
    """Run the model at `precision` on `device`: float16 autocast, or float32 with TF32 off on
    CUDA (the global TF32 switches are restored afterwards). PrecisionError where `device`
    cannot compute it."""
    import torch

    check_precision(device, precision)
    if device.type != "cuda":
        yield
        return
    if precision == "float16":
        with torch.autocast("cuda", dtype=torch.float16):
            yield
        return
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def to_device_image(array, device: torch.device) -> torch.Tensor:
    """(H, W, 3) float32 numpy image -> (1, 3, H, W) channels_last tensor on `device`.

    The numpy buffer is viewed, not copied, on the CPU; uploads to CUDA go through pinned memory.
    """
    import torch

    tensor = torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0)
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor
