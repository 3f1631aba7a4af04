"""The GPUs a farm task was given, handed to CUDA before it starts.

Render managers reserve GPUs per task but say so in their own way: OpenCue's RQD exports only
CUE_GPU_CORES (a comma list of GPU indices, rqd/rqd/rqcore.py), never CUDA_VISIBLE_DEVICES, so
every concurrent frame on a multi-GPU host would use cuda:0. `hyperseg-vfx render --gpu-list-env
CUE_GPU_CORES` copies that list into CUDA_VISIBLE_DEVICES, with CUDA_DEVICE_ORDER=PCI_BUS_ID so
the indices mean what nvidia-smi (and so RQD) counts, not CUDA's fastest-first order.
"""

from __future__ import annotations

import os
import re

from ..errors import HypersegError

_GPU_LIST = re.compile(r"\d{1,3}(,\d{1,3}){0,63}")


def restrict_gpus_from_env(name: str, environ=os.environ) -> str | None:
    """Set CUDA_VISIBLE_DEVICES (and CUDA_DEVICE_ORDER=PCI_BUS_ID) in `environ` to the GPU list in
    $`name`; returns the list, or None when $`name` is unset or empty (no restriction).
    HypersegError when it is not a comma list of GPU indices. Call before CUDA initialises."""
    value = environ.get(name, "").replace(" ", "")
    if not value:
        return None
    if not _GPU_LIST.fullmatch(value):
        raise HypersegError(f"--gpu-list-env: ${name} must be a comma list of GPU indices, got {value[:80]!r}")
    environ["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
    environ["CUDA_VISIBLE_DEVICES"] = value
    return value
