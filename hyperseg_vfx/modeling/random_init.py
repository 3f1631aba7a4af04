"""Deterministic, platform-independent random weights.

Tests and synthetic-data models need weights that are identical on every machine and every
torch version, so they are drawn with numpy's PCG64 Generator (whose streams numpy keeps
stable) instead of torch's init functions, whose algorithms and RNG differ across releases.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def kaiming_conv_init_(modules: list[nn.Conv2d], seed: int, gain: float = 2.0) -> None:
    """He-normal weights (std = sqrt(gain / fan_in)) and zero biases, in module order, in place."""
    rng = np.random.Generator(np.random.PCG64(seed))
    with torch.no_grad():
        for conv in modules:
            fan_in = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
            weight = rng.standard_normal(tuple(conv.weight.shape), dtype=np.float32)
            conv.weight.copy_(torch.from_numpy(weight * np.float32(np.sqrt(gain / fan_in))))
            if conv.bias is not None:
                conv.bias.zero_()
