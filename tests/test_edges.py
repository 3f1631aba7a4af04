"""The band stage (modeling/edges.py): edges decided on the full-resolution plate in a narrow band
around a working-size matte's edge, clicks as hard constraints, nothing outside the band touched,
native models unchanged unless asked."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

from hyperseg_vfx.clicks import Click
from hyperseg_vfx.config import ConfigError, EdgesConfig, ModelConfig
from hyperseg_vfx.modeling.edges import BandCut, band_mask, click_disks, cut_band, decide_edges, settings_for
from hyperseg_vfx.segmenter import SegmentError, Segmenter
from hyperseg_vfx.synthetic import synthetic_frame

HEIGHT, WIDTH = 2160, 3840  # a 4K UHD plate
WORKING = (144, 256)  # its working size at short side 144: 15x smaller
EDGE_X, SLOPE = 1931.37, 0.05  # the colour edge: x = EDGE_X + SLOPE * y (plate pixels, y at pixel centres)
INSIDE, OUTSIDE = np.array([0.8, 0.3, 0.2], np.float32), np.array([0.1, 0.4, 0.7], np.float32)


def textured_edge_plate(height: int, width: int, edge_x: float, slope: float) -> np.ndarray:
    """(H, W, 3): INSIDE left of a slanted sub-pixel edge, OUTSIDE right of it (each pixel mixed by
    its exact coverage along its row), both sides striped (+-25%) and grained (sigma 0.03)."""
    rows = np.arange(height, dtype=np.float32)[:, None] + 0.5
    columns = np.arange(width, dtype=np.float32)[None, :]
    coverage = np.clip(edge_x + slope * rows - columns, 0, 1)[..., None]  # pixel i spans [i, i + 1)
    plate = coverage * INSIDE + (1 - coverage) * OUTSIDE
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (0.6 * columns + 0.8 * rows) / 37.0)
    plate = plate * (0.75 + 0.5 * stripes)[..., None]
    plate += np.random.default_rng(0).normal(0, 0.03, plate.shape).astype(np.float32)
    return np.clip(plate, 0, 1).astype(np.float32)


def working_matte(shift: float) -> np.ndarray:
    """A network's soft step at working size (2 working px wide, `shift` working px right of the
    true edge), brought to the plate bilinearly: (H, W) float32 whose 0.5 contour lies 15 * shift
    plate px off the colour edge."""
    h, w = WORKING
    factor = WIDTH / w
    centres = np.arange(w, dtype=np.float32)[None, :] + 0.5
    rows = (np.arange(h, dtype=np.float32)[:, None] + 0.5) * factor
    edge = (EDGE_X + SLOPE * rows) / factor + shift
    step = torch.from_numpy(np.clip((edge - centres) / 2.0 + 0.5, 0, 1).astype(np.float32))[None, None]
    return F.interpolate(step, size=(HEIGHT, WIDTH), mode="bilinear", align_corners=False)[0, 0].numpy()


def crossings(alpha: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Per row: the x where the left-is-inside matte turns outside (first pixel < 0.5, its left side)."""
    return np.array([np.flatnonzero(alpha[r] < 0.5)[0] for r in rows], dtype=np.float64)


@pytest.fixture(scope="module")
def plate_4k() -> np.ndarray:
    return textured_edge_plate(HEIGHT, WIDTH, EDGE_X, SLOPE)


@pytest.mark.parametrize("shift", [0.5, -0.5])
def test_band_cut_puts_a_4k_plates_sub_pixel_edge_within_a_pixel(plate_4k, shift):
    """The working-size matte's edge is 7.5 plate px off; after the band stage every row's
    transition lies within 1 px of the true sub-pixel edge (the upsampled matte alone: > 5 px)."""
    alpha = working_matte(shift)
    settings = settings_for(EdgesConfig(method="graphcut"), WIDTH / WORKING[1])
    result = cut_band(alpha, plate_4k, [Click(500, 1000, True)], settings)
    rows = np.arange(0, HEIGHT, 7)
    truth = EDGE_X + SLOPE * (rows + 0.5)
    assert np.abs(crossings(alpha, rows) - truth).min() > 5  # the old answer is off
    error = np.abs(crossings(result, rows) - truth)
    assert error.max() <= 1.0, error.max()


def test_band_cut_changes_no_pixel_outside_the_band():
    """On a real synthetic frame with a rough matte: pixels farther from the matte's 0.5 contour
    than the band's half-width plus one coarse cell (and outside the click disks) keep their exact
    values; the band's own pixels are decided (0 or 1)."""
    frame = synthetic_frame(320, 240, seed=5)
    rng = np.random.default_rng(1)
    alpha = ndimage.gaussian_filter((frame.alpha > 0.5).astype(np.float32), 3) + rng.normal(0, 0.05, frame.alpha.shape)
    alpha = np.clip(alpha, 0, 1).astype(np.float32)
    clicks = [Click(*frame.center, True), Click(10.5, 12.5, False)]
    settings = BandCut(half_width=6, factor=3, smoothness=2.0, click_radius=3)
    result = cut_band(alpha, frame.rgb, clicks, settings)
    contour = (alpha > 0.5) ^ ndimage.binary_erosion(alpha > 0.5, np.ones((3, 3), bool), border_value=1)
    distance = ndimage.distance_transform_edt(~contour)
    positive, negative = click_disks(alpha.shape, clicks, settings.click_radius)
    far = (distance > settings.half_width + 2 * settings.factor * np.sqrt(2)) & ~positive & ~negative
    assert far.sum() > 0.5 * far.size
    np.testing.assert_array_equal(result[far], alpha[far])
    band = band_mask(alpha, settings.factor, settings.half_width) | positive | negative
    np.testing.assert_array_equal(result[~band], alpha[~band])
    assert set(np.unique(result[band])) <= {0.0, 1.0}
    assert (result != alpha).any()


def test_clicks_are_hard_constraints():
    """A positive click where the matte says background (in the band and far from it) ends
    inside the result; a negative click where it says foreground ends outside."""
    frame = synthetic_frame(200, 150, seed=2)
    alpha = (frame.alpha > 0.5).astype(np.float32)
    ys, xs = np.nonzero(alpha > 0.5)
    inside = Click(float(xs.mean()) + 0.5, float(ys.mean()) + 0.5, False)  # negative, deep inside
    rows, cols = np.nonzero(alpha <= 0.5)
    outside = Click(float(cols[0]) + 0.5, float(rows[0]) + 0.5, True)  # positive, a corner, far away
    edge_rows, edge_cols = np.nonzero((alpha > 0.5) ^ ndimage.binary_erosion(alpha > 0.5))
    near = Click(float(edge_cols[0]) + 2.5, float(edge_rows[0]) + 0.5, True)  # at the edge, outside
    for strength in (2.0, 50.0):
        result = cut_band(alpha, frame.rgb, [inside, outside, near], BandCut(4, 2, strength, 1.5))
        for click in (inside, outside, near):
            assert (result[int(click.y), int(click.x)] > 0.5) == click.positive


def test_native_models_are_unchanged_by_default_and_change_when_asked(tiny_model):
    """A model config without `edges` (every checkpoint before it existed) decides nothing: the
    Segmenter returns the model's own forward bit for bit; edges="graphcut" per call changes it."""
    model = tiny_model[0]
    assert model.config.edges.method == "none"
    assert ModelConfig.from_dict({}).edges == EdgesConfig()
    plate = synthetic_frame(200, 120, seed=7)
    clicks = [Click(*plate.center, True), Click(5, 5, False)]
    frame = torch.from_numpy(plate.rgb).permute(2, 0, 1)[None]
    with torch.inference_mode():
        expected = model(frame, frame, clicks)[0].numpy()
    segmenter = Segmenter(model, device="cpu", cache_bytes=0)
    np.testing.assert_array_equal(segmenter.segment(plate.rgb, None, clicks).candidates, expected)
    np.testing.assert_array_equal(segmenter.segment(plate.rgb, None, clicks, edges="none").candidates, expected)
    asked = segmenter.segment(plate.rgb, None, clicks, edges="graphcut")
    assert not np.array_equal(asked.candidates, expected) and "edges" in asked.timings
    with pytest.raises(SegmentError, match="edges must be one of"):
        segmenter.segment(plate.rgb, None, clicks, edges="crf")


def test_model_config_selects_the_stage_and_checks_it(tiny_model):
    model = copy.deepcopy(tiny_model[0])
    model.config.edges = dataclasses.replace(model.config.edges, method="graphcut")
    plate = synthetic_frame(200, 120, seed=7)
    clicks = [Click(*plate.center, True)]
    by_config = Segmenter(model, device="cpu", cache_bytes=0).segment(plate.rgb, None, clicks)
    by_call = Segmenter(tiny_model[0], device="cpu", cache_bytes=0).segment(plate.rgb, None, clicks, edges="graphcut")
    np.testing.assert_array_equal(by_config.candidates, by_call.candidates)
    off = Segmenter(model, device="cpu", cache_bytes=0).segment(plate.rgb, None, clicks, edges="none")
    with torch.inference_mode():
        frame = torch.from_numpy(plate.rgb).permute(2, 0, 1)[None]
        np.testing.assert_array_equal(off.candidates, tiny_model[0](frame, frame, clicks)[0].numpy())
    with pytest.raises(ConfigError, match="edges.method"):
        ModelConfig.from_dict({"edges": {"method": "crf"}})
    with pytest.raises(ConfigError, match="edges.band"):
        ModelConfig.from_dict({"edges": {"band": 0}})
    assert decide_edges(by_config.candidates, plate.rgb, clicks, EdgesConfig(), 1.0) is by_config.candidates
