"""Building models: an untrained HyperSeg with fitted Tucker factors.

Tucker factors are fitted on backbone features of many frames (StreamingTuckerFit, so any number
of frames fits in memory) at each tap's native resolution; the nearest-neighbour upsampling to
the frame only repeats those pixels.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch

from ..config import ModelConfig
from ..synthetic import synthetic_frame
from .hyperseg import HyperSeg
from .tucker import StreamingTuckerFit


@torch.inference_mode()
def fit_tucker(model: HyperSeg, frames: Iterable[np.ndarray]) -> list[torch.Tensor]:
    """Fit and install the model's Tucker factors on frames of (H, W, 3) float32 RGB in [0, 1]."""
    config = model.config
    fit = StreamingTuckerFit(config.tap_channels, config.compressed_channels)
    for rgb in frames:
        frame = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).unsqueeze(0)
        for _start, taps in model.backbone_tiles(frame.to(next(model.buffers()).device)):
            fit.update(taps)
    factors = fit.factors()
    if config.tucker.enabled:
        model.set_tucker_factors(factors)
    return factors


def generated_plates(count: int, width: int = 448, height: int = 448, seed: int = 0) -> Iterable[np.ndarray]:
    """`count` synthetic plates (different clips) for fitting Tucker factors without data."""
    for index in range(count):
        yield synthetic_frame(width, height, seed=seed * 1000 + index).rgb


def build_untrained(config: ModelConfig, seed: int, tucker_frames: int = 8) -> HyperSeg:
    """A HyperSeg with deterministic network weights and Tucker factors fitted on generated plates."""
    model = HyperSeg(config)
    model.network.reset_parameters(seed)
    fit_tucker(model, generated_plates(tucker_frames, seed=seed))
    return model.eval()
