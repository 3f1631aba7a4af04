"""The guided-filter refinement of the candidates (modeling/refine.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hyperseg_vfx.config import ConfigError, ModelConfig, RefineConfig
from hyperseg_vfx.evaluation.metrics import boundary_iou_1px
from hyperseg_vfx.modeling.refine import box_mean, guided_filter, refine_candidates, refine_radius


def reference_guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s algorithm 1 pixel by pixel: guide (3, H, W), source (H, W), windows clipped."""
    _, height, width = guide.shape
    a = np.zeros((height, width, 3))
    b = np.zeros((height, width))
    windows = {}
    for y in range(height):
        for x in range(width):
            rows, cols = slice(max(0, y - radius), y + radius + 1), slice(max(0, x - radius), x + radius + 1)
            colours = guide[:, rows, cols].reshape(3, -1)
            values = source[rows, cols].reshape(-1)
            mean_colour, mean_value = colours.mean(1), values.mean()
            sigma = (colours @ colours.T) / values.size - np.outer(mean_colour, mean_colour)
            cov = (colours @ values) / values.size - mean_colour * mean_value
            a[y, x] = np.linalg.solve(sigma + eps * np.eye(3), cov)
            b[y, x] = mean_value - a[y, x] @ mean_colour
            windows[y, x] = (rows, cols)
    out = np.zeros((height, width))
    for (y, x), (rows, cols) in windows.items():
        out[y, x] = a[rows, cols].reshape(-1, 3).mean(0) @ guide[:, y, x] + b[rows, cols].mean()
    return out


def test_guided_filter_matches_the_papers_algorithm_pixel_by_pixel():
    rng = np.random.default_rng(0)
    guide = rng.random((3, 11, 13))
    source = rng.random((11, 13))
    for radius, eps in [(1, 1e-2), (2, 1e-3), (4, 1e-1)]:
        expected = reference_guided_filter(guide, source, radius, eps)
        got = guided_filter(torch.from_numpy(guide).float()[None], torch.from_numpy(source).float()[None, None], radius, eps)
        np.testing.assert_allclose(got[0, 0].numpy(), expected, atol=2e-4)


def test_box_mean_clips_windows_at_the_border():
    image = torch.arange(20, dtype=torch.float32).view(1, 4, 5)
    got = box_mean(image, 1)
    assert got[0, 0, 0] == pytest.approx((0 + 1 + 5 + 6) / 4)
    assert got[0, 1, 1] == pytest.approx(image[0, :3, :3].mean().item())
    assert got[0, 3, 4] == pytest.approx((13 + 14 + 18 + 19) / 4)


def edge_plate(height=48, width=64, edge=30, seed=0):
    """A textured orange object left of column `edge` on a textured blue background, and noise."""
    rng = np.random.default_rng(seed)
    rgb = np.where(np.arange(width)[None, :, None] < edge, [0.9, 0.5, 0.1], [0.1, 0.3, 0.8])
    rgb = rgb + 0.03 * rng.standard_normal((height, width, 3))
    return torch.from_numpy(rgb.transpose(2, 0, 1)).float()[None], np.arange(width)[None, :].repeat(height, 0) < edge


def test_refinement_moves_a_soft_misplaced_matte_onto_the_colour_edge():
    frame, truth = edge_plate()
    # The network's kind of error: a soft transition centred 3 px right of the real edge.
    columns = torch.arange(64, dtype=torch.float32)
    soft = torch.sigmoid((33 - columns) / 2.5).expand(48, 64)[None, None]
    refined = refine_candidates(soft, frame, RefineConfig(radius=6, eps=1e-3, reference_short_side=48))
    before, after = soft[0, 0].numpy() > 0.5, refined[0, 0].numpy() > 0.5
    assert (before.sum(1) == 33).all()  # every row's matte ends 3 px right of the edge
    assert (after.sum(1) >= 30).all() and (after.sum(1) <= 31).all()  # at most 1 px off, never past it
    assert boundary_iou_1px(after, truth) > boundary_iou_1px(before, truth) + 0.3
    assert refined.min() >= 0 and refined.max() <= 1


def test_fast_path_for_large_radii_is_close_to_the_exact_filter():
    frame, _ = edge_plate(96, 128, edge=60)
    soft = torch.sigmoid((torch.arange(128.0) - 64) / -6).expand(96, 128)[None, None].contiguous()
    exact = guided_filter(frame, soft, 16, 1e-3)
    fast = refine_candidates(soft, frame, RefineConfig(radius=16, eps=1e-3, reference_short_side=96))
    assert (fast - exact.clamp(0, 1)).abs().mean() < 0.01
    assert torch.equal(fast[0, 0] > 0.5, exact[0, 0] > 0.5)


def test_radius_scales_with_the_frame_and_zero_leaves_the_candidates_alone():
    config = RefineConfig(radius=8, reference_short_side=144)
    assert refine_radius(config, 144, 192) == 8
    assert refine_radius(config, 1080, 1920) == 60
    assert refine_radius(config, 9, 12) == 0
    candidates = torch.rand(1, 6, 9, 12)
    assert refine_candidates(candidates, torch.rand(1, 3, 9, 12), config) is candidates
    assert refine_candidates(candidates, torch.rand(1, 3, 9, 12), RefineConfig()) is candidates


def test_refinement_keeps_the_candidates_dtype_and_shape():
    frame, _ = edge_plate()
    candidates = torch.rand(1, 6, 48, 64).half()
    refined = refine_candidates(candidates, frame.half(), RefineConfig(radius=4, reference_short_side=48))
    assert refined.dtype == torch.float16 and refined.shape == candidates.shape


def test_config_defaults_to_no_refinement_and_names_bad_fields():
    assert ModelConfig.from_dict({}).refine.radius == 0  # checkpoints written before refinement existed
    with pytest.raises(ConfigError, match="refine.radius"):
        ModelConfig.from_dict({"refine": {"radius": -1}})
    with pytest.raises(ConfigError, match="refine.eps"):
        ModelConfig.from_dict({"refine": {"eps": 0}})
