"""Device choice and the precision policy per device.

--device auto picks CUDA when torch sees a GPU. On CUDA the model runs under float16 autocast
with channels_last tensors and pinned host memory for uploads; on the CPU it runs in float32
with channels_last (bfloat16 is far slower than float32 on CPUs without AMX).
"""

from __future__ import annotations

import contextlib

import torch

from .errors import HypersegError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


class DeviceError(HypersegError, RuntimeError):
    """The requested device cannot be used here."""


def resolve_device(spec: str = "auto") -> torch.device:
    """'auto' | 'cpu' | 'cuda' | 'cuda:N' -> torch.device, or DeviceError naming the problem."""
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


def autocast_for(device: torch.device) -> contextlib.AbstractContextManager:
    """float16 autocast on CUDA; nothing (float32) elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def to_device_image(array, device: torch.device) -> torch.Tensor:
    """(H, W, 3) float32 numpy image -> (1, 3, H, W) channels_last tensor on `device`.

    The numpy buffer is viewed, not copied, on the CPU; uploads to CUDA go through pinned memory.
    """
    tensor = torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0)
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor
