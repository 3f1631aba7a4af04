"""Training samples as tensors: a dataset sample resized, its cached features, its DOS clicks.

A sample is resized so that its long side (or with data.side short, its short side) is the
training size (plates bilinear with antialiasing, masks nearest), so at the usual 160-224 px long
side a frame is one backbone tile, and at a short side of 144 a 16:9 or scope frame is two. What
varies from step to step is which samples are drawn and their clicks; the frames' features come
from the frozen-feature cache.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch

from ..clicks import Click
from ..config import ContextConfig
from ..data.datasets import Sample
from ..modeling.context import context_channels
from ..modeling.hyperseg import HyperSeg
from ..modeling.resize import resize_image, resize_mask
from .dos import DosConfig, click_masks, sample_clicks
from .features import FeatureCache, frame_identity, frame_tensor


@dataclass(frozen=True)
class TrainingItem:
    """One sample ready for the network.

    features: per tap (T, r_k, h_k, w_k); frame, prev: (1, 3, H, W); clicks: the sample's clicks;
    context: (1, 10, H, W) built from frame, prev and clicks; truth, positive, negative: (H, W)
    float32 in {0, 1}; valid: (H, W) float32 or None (void pixels are 0).
    """

    features: list[torch.Tensor]
    frame: torch.Tensor
    prev: torch.Tensor
    clicks: tuple[Click, ...]
    context: torch.Tensor
    truth: torch.Tensor
    positive: torch.Tensor
    negative: torch.Tensor
    valid: torch.Tensor | None

    def with_clicks(self, clicks: Sequence[Click], config: ContextConfig) -> "TrainingItem":
        """This item with `clicks` instead of its own: new context channels and click masks."""
        context, positive, negative = click_inputs(self.frame, self.prev, clicks, config)
        return replace(self, clicks=tuple(clicks), context=context, positive=positive, negative=negative)


def click_inputs(frame: torch.Tensor, prev: torch.Tensor, clicks: Sequence[Click],
                 config: ContextConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What the clicks give a sample: context (1, 10, H, W) and the click masks S_p, S_n (H, W)
    float32, on the frame's device."""
    height, width = frame.shape[-2:]
    masks = torch.from_numpy(click_masks(list(clicks), height, width)).float().to(frame.device)
    return context_channels(frame, prev, clicks, config), masks[0], masks[1]


def training_size(height: int, width: int, size: int, side: str = "long") -> tuple[int, int]:
    """(H, W) with the long (or, side='short', the short) side `size`, aspect kept (rounded, at
    least 1 pixel)."""
    scale = size / (min(height, width) if side == "short" else max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_frame(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(1, C, H, W) float -> (1, C, h, w) in [0, 1] (modeling.resize.resize_image, clipped)."""
    if tuple(image.shape[-2:]) == size:
        return image
    return resize_image(image, size).clamp_(0, 1)


def prepare_item(
    sample: Sample, model: HyperSeg, cache: FeatureCache, size: int, clicks: DosConfig,
    rng: np.random.Generator, device: torch.device, side: str = "long",
) -> TrainingItem:
    """Load, resize (its `side` side to `size`), fetch features and draw DOS clicks for one sample."""
    loaded = sample.load()
    target = training_size(loaded.rgb.shape[0], loaded.rgb.shape[1], size, side)
    frame = resize_frame(frame_tensor(loaded.rgb, device), target)
    prev = resize_frame(frame_tensor(loaded.prev_rgb, device), target)
    mask = resize_mask(loaded.mask, target)
    others = resize_mask(loaded.others, target) if loaded.others is not None else None
    drawn = sample_clicks(mask, rng, clicks, others)
    features = cache.get(frame_identity(sample.rgb_path, target), frame)
    valid = None
    if loaded.void is not None:
        valid = torch.from_numpy(~resize_mask(loaded.void, target)).float().to(device)
    truth = torch.from_numpy(mask).float().to(device)
    context, positive, negative = click_inputs(frame, prev, drawn, model.config.context)
    return TrainingItem(features, frame, prev, tuple(drawn), context, truth, positive, negative, valid)
