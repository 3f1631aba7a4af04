"""The 10 context channels of HyperSeg, computed on the model's device from click coordinates.

Channel order: X_t (RGB), X_{t-1} (RGB), B_p, B_n, D_p, D_n.
  B_l(p) = 1 where p lies within `radius` of a click of label l, else 0.
  D_l(p) = min(min_q |p - q|, trunc) / trunc over the clicks q of label l, in [0, 1];
           1 everywhere when label l has no click.
Pixel (i, j) is measured at its centre (j + 0.5, i + 0.5), so a click at a pixel centre gives
exactly the Euclidean distance transform of a one-pixel seed. radius and trunc scale with the
frame's short side (ContextConfig), so the maps mean the same thing at every resolution.
No CPU distance transform is involved: the distance is evaluated directly on the device,
with memory bounded by processing the clicks in groups.
"""

from __future__ import annotations

from typing import Sequence

import torch

from ..clicks import Click
from ..config import ContextConfig

_CLICK_GROUP = 8  # clicks evaluated per pass: bounds the (group, H, W) temporary


_MIN_RADIUS = 0.5**0.5  # half a pixel diagonal: a click always marks the pixel it lies in


def context_lengths(config: ContextConfig, height: int, width: int) -> tuple[float, float]:
    """(radius, truncation) in pixels for a frame of this size.

    The radius never drops below half a pixel diagonal, so on tiny frames (thumbnails, low
    preview scales) a click still marks its own pixel in B.
    """
    scale = min(height, width) / config.reference_short_side
    return max(config.click_radius * scale, _MIN_RADIUS), config.distance_truncation * scale


def click_distance(clicks: Sequence[Click], height: int, width: int, device, dtype) -> torch.Tensor:
    """Euclidean distance from every pixel centre to the nearest click, (H, W); +inf with no clicks."""
    ys = torch.arange(height, device=device, dtype=torch.float32).add_(0.5).view(1, height, 1)
    xs = torch.arange(width, device=device, dtype=torch.float32).add_(0.5).view(1, 1, width)
    best = torch.full((height, width), float("inf"), device=device, dtype=torch.float32)
    for start in range(0, len(clicks), _CLICK_GROUP):
        group = clicks[start : start + _CLICK_GROUP]
        cx = torch.tensor([c.x for c in group], device=device, dtype=torch.float32).view(-1, 1, 1)
        cy = torch.tensor([c.y for c in group], device=device, dtype=torch.float32).view(-1, 1, 1)
        squared = (ys - cy).square() + (xs - cx).square()
        best = torch.minimum(best, squared.amin(dim=0))
    return best.sqrt_().to(dtype)


def click_maps(clicks: Sequence[Click], height: int, width: int, config: ContextConfig, device, dtype) -> torch.Tensor:
    """B_p, B_n, D_p, D_n as a (4, H, W) tensor."""
    radius, truncation = context_lengths(config, height, width)
    disks, distances = [], []
    for positive in (True, False):
        distance = click_distance([c for c in clicks if c.positive == positive], height, width, device, torch.float32)
        disks.append((distance <= radius).to(dtype))
        distances.append((distance.clamp(max=truncation) / truncation).to(dtype))
    return torch.stack(disks + distances)


def context_channels(
    frame: torch.Tensor, prev_frame: torch.Tensor, clicks: Sequence[Click], config: ContextConfig
) -> torch.Tensor:
    """frame, prev_frame: (1, 3, H, W) RGB in [0, 1] -> context (1, 10, H, W), same device/dtype."""
    _, _, height, width = frame.shape
    maps = click_maps(clicks, height, width, config, frame.device, frame.dtype)
    return torch.cat([frame, prev_frame, maps.unsqueeze(0)], dim=1)
