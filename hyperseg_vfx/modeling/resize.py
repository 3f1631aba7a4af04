"""Resizing frames and masks, one convention for inference, training and evaluation.

Frames: bilinear with half-pixel centres (align_corners=False), antialiased when shrinking, so a
frame resized to a working size and the coefficients resized back line up pixel for pixel.
Masks: nearest (nearest-exact: pixel centres), so a truth stays a set of labelled pixels.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def resize_image(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, C, H, W) float -> (N, C, h, w), bilinear, antialiased when shrinking."""
    shrinking = size[0] < image.shape[-2] or size[1] < image.shape[-1]
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=shrinking)


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) bool -> (h, w) bool, nearest."""
    if mask.shape == size:
        return mask
    tensor = torch.from_numpy(np.ascontiguousarray(mask)).float()[None, None]
    return F.interpolate(tensor, size=size, mode="nearest-exact")[0, 0].numpy() > 0.5


def resize_array(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, C) or (H, W) float32 array -> (h, w[, C]) float32, as resize_image, clipped to [0, 1]."""
    planar = pixels[..., None] if pixels.ndim == 2 else pixels
    tensor = torch.from_numpy(np.ascontiguousarray(planar, dtype=np.float32)).permute(2, 0, 1)[None]
    resized = resize_image(tensor, size).clamp_(0, 1)[0].permute(1, 2, 0).numpy()
    return np.ascontiguousarray(resized[..., 0] if pixels.ndim == 2 else resized)
