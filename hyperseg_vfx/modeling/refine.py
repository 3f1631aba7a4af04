"""Edge-aware refinement of the candidates: a colour guided filter with the frame as guide.

He, Sun and Tang, "Guided Image Filtering" (TPAMI 2013), algorithm 1 with a colour guide I
(3 channels) and the M candidates as inputs p. In every (2r+1)^2 window the output is an affine
function of the guide's RGB, q = a^T I + b, fitted to p by ridge regression with regulariser
eps. Where the window straddles a colour edge, the matte's transition therefore moves onto that
edge; in flat regions the matte is only box-smoothed. Windows are clipped at the frame border
(the means divide by the number of pixels inside), as in the paper's reference code.

This is not in the HyperSeg paper, which argues for one network without post-processing. It is
a stage of the model's inference, configured per checkpoint (RefineConfig; radius 0 = off), so
the renderer, the bridge, the farm and the evaluator all apply it alike.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import RefineConfig


_COARSE_RADIUS = 8  # window radius at which the coefficients are computed, in coarse pixels


def refine_radius(config: RefineConfig, height: int, width: int) -> int:
    """The filter radius in pixels for an H x W frame (0: no refinement)."""
    return round(config.radius * min(height, width) / config.reference_short_side)


def refine_candidates(
    candidates: torch.Tensor, frame: torch.Tensor, config: RefineConfig, output_frame: torch.Tensor | None = None,
    output_count: int | None = None,
) -> torch.Tensor:
    """candidates (1, M, h, w) in [0, 1], frame (1, 3, h, w) RGB -> refined (1, M, H, W) in [0, 1].

    output_frame: (1, 3, H, W), the same picture at a higher resolution (a model's
    working_short_side): the filter's coefficients are fitted at h x w on `frame` and applied
    to output_frame, which brings the candidates to H x W with edges on its own pixels (guided
    upsampling), and with output_count only the first that many candidates are brought up (the
    others are most of a click update's cost at 2K when only candidate 1 is wanted). None:
    H x W = h x w, every candidate. Computed in float32 whatever the caller's dtype (the
    covariances need it); returned in the candidates' dtype. Returns `candidates` itself when the
    radius rounds to 0 at this size and there is no output_frame. Radii above 8 px compute the
    coefficients on a grid radius // 8 times coarser.
    """
    radius = refine_radius(config, candidates.shape[2], candidates.shape[3])
    if radius < 1 and output_frame is None:
        return candidates
    radius = max(1, radius)
    subsample = max(1, radius // _COARSE_RADIUS)
    output = None if output_frame is None else output_frame.float()
    refined = guided_filter(frame.float(), candidates.float(), radius, config.eps, subsample, output, output_count)
    return refined.clamp_(0, 1).to(candidates.dtype)


def guided_filter(
    guide: torch.Tensor, source: torch.Tensor, radius: int, eps: float, subsample: int = 1,
    output_guide: torch.Tensor | None = None, output_count: int | None = None,
) -> torch.Tensor:
    """guide (1, 3, h, w), source (1, M, h, w), float32 -> filtered source (1, M, H, W).

    Per window: a = (Sigma + eps U)^-1 cov(I, p), b = mean(p) - a^T mean(I) (Sigma: the guide's
    3x3 colour covariance). The output averages a and b over the windows covering each pixel:
    q = mean(a)^T I + mean(b). He and Sun's fast guided filter (2015) fits a and b on a coarser
    grid and upsamples their window means bilinearly, while q uses the full-resolution guide:
    subsample > 1 average-pools guide and source by that factor (radius divided by it), and
    output_guide (1, 3, H, W) is a finer version of `guide` that q is computed on (default:
    guide itself, H x W = h x w); with an output_guide, only the first output_count sources
    are computed on it (default all M).
    """
    if output_guide is not None and output_count is not None:
        source = source[:, :output_count]  # the other sources are never brought up: not fitted either
    output_guide = guide if output_guide is None else output_guide
    height, width = output_guide.shape[2:]
    coarse_guide, coarse_source = guide, source
    if subsample > 1:
        coarse_guide, coarse_source = (F.avg_pool2d(t, subsample, ceil_mode=True) for t in (guide, source))
    mean_a, mean_b = _coefficient_means(coarse_guide[0], coarse_source[0], max(1, round(radius / subsample)), eps)
    if output_guide is not guide:
        return _apply_upsampled(mean_a, mean_b, output_guide[0], output_count).unsqueeze(0)
    if subsample > 1:
        mean_a, mean_b = (F.interpolate(t[None], size=(height, width), mode="bilinear", align_corners=False)[0]
                          for t in (mean_a, mean_b))
    return (torch.einsum("cmhw,chw->mhw", mean_a.view(3, -1, height, width), output_guide[0]) + mean_b).unsqueeze(0)


def _apply_upsampled(
    mean_a: torch.Tensor, mean_b: torch.Tensor, guide: torch.Tensor, count: int | None = None
) -> torch.Tensor:
    """q = up(mean_a)^T I + up(mean_b) on a finer guide I (3, H, W) -> (count, H, W), for the
    first `count` of the M sources (default all).

    The same formula as guided_filter's last line, arranged for the working-size path, where it
    runs at the plate's full resolution on every click: one bilinear resize of all coefficients
    and three in-place multiply-adds (at 1920x1080, 6 candidates, one CPU thread: 0.05 s against
    the einsum's 0.22 s). The native path keeps its einsum, so native models stay bit-identical.
    """
    height, width = guide.shape[1:]
    sources = mean_b.shape[0]
    count = sources if count is None else min(count, sources)
    per_plane = torch.cat([mean_a.view(3, sources, *mean_a.shape[1:])[:, :count].flatten(0, 1), mean_b[:count]])
    coefficients = per_plane[None]  # (1, 4 * count, h, w): a for R, G, B, then b
    if coefficients.shape[2:] != (height, width):
        coefficients = F.interpolate(coefficients, size=(height, width), mode="bilinear", align_corners=False)
    planes = coefficients[0]
    refined = planes[3 * count :].clone()
    for channel in range(3):
        refined.addcmul_(planes[channel * count : (channel + 1) * count], guide[channel])
    return refined


def _coefficient_means(guide: torch.Tensor, source: torch.Tensor, radius: int, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """guide (3, h, w), source (M, h, w) -> window means of a, (3 * M, h, w), and of b, (M, h, w)."""
    channels = guide.shape[0]
    mean_guide = box_mean(guide, radius)  # (3, h, w)
    mean_source = box_mean(source, radius)  # (M, h, w)
    products = guide[:, None] * torch.cat([guide, source])[None]  # (3, 3 + M, h, w)
    moments = box_mean(products.flatten(0, 1), radius).view(products.shape)
    means = torch.cat([mean_guide, mean_source])
    covariance = moments - mean_guide[:, None] * means[None]  # (3, 3 + M, h, w)
    sigma = covariance[:, :channels].permute(2, 3, 0, 1)  # (h, w, 3, 3)
    sigma = sigma + eps * torch.eye(channels, dtype=sigma.dtype, device=sigma.device)
    cross = covariance[:, channels:].permute(2, 3, 0, 1)  # (h, w, 3, M)
    a = torch.linalg.solve(sigma, cross)  # (h, w, 3, M)
    b = mean_source - torch.einsum("hwcm,chw->mhw", a, mean_guide)
    return box_mean(a.permute(2, 3, 0, 1).flatten(0, 1), radius), box_mean(b, radius)


def box_mean(image: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean of each (C, H, W) channel over the (2r+1)^2 window around every pixel, clipped at
    the border. Running sums along each axis: the cost does not depend on the radius."""
    return _window_means(_window_means(image, 1, radius), 2, radius)


def _window_means(image: torch.Tensor, dim: int, radius: int) -> torch.Tensor:
    """Means over [i - r, i + r] along `dim`, clipped at the ends (difference of running sums
    divided by the clipped window's length)."""
    size = image.shape[dim]
    padding = [0, 0] * (image.dim() - 1 - dim) + [1, 0]
    running = F.pad(image.cumsum(dim), padding)  # index k holds the sum of the first k entries
    index = torch.arange(size, device=image.device)
    upper = (index + radius + 1).clamp(max=size)
    lower = (index - radius).clamp(min=0)
    lengths = (upper - lower).to(image.dtype).view([size if d == dim else 1 for d in range(image.dim())])
    return (running.index_select(dim, upper) - running.index_select(dim, lower)) / lengths
