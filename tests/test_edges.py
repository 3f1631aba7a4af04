"""The band stage (modeling/edges.py): edges decided on the full-resolution plate in a narrow band
around a working-size matte's edge, clicks as hard constraints, nothing outside the band touched,
native models unchanged unless asked; both methods (graphcut: the network's probability; grabcut:
colour models learned around the band, with a soft edge by the colour models' posterior or by
projection on the compositing equation)."""

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
from hyperseg_vfx.edge_methods import PROJECTION_MIN_FACTOR
from hyperseg_vfx.modeling import colour_models
from hyperseg_vfx.modeling.edges import (
    BandCut, band_mask, click_disks, cut_band, decide_edges, grabcut_band, settings_for,
)
from hyperseg_vfx.segmenter import SegmentError, Segmenter
from hyperseg_vfx.srgb import linear_to_srgb, srgb_to_linear
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


CONFIGS = {"graphcut": EdgesConfig(method="graphcut"), "grabcut": EdgesConfig(method="grabcut"),
           "projection": EdgesConfig(method="grabcut", soft_edge="projection")}
CUTS = {"graphcut": cut_band, "grabcut": grabcut_band, "projection": grabcut_band}
#: Projection zones (plate px) per method for the tests that build BandCut by hand.
ZONES = {"graphcut": 0, "grabcut": 0, "projection": 2}


@pytest.mark.parametrize("method", list(CUTS))
@pytest.mark.parametrize("shift", [0.5, -0.5])
def test_band_cut_puts_a_4k_plates_sub_pixel_edge_within_a_pixel(plate_4k, shift, method):
    """The working-size matte's edge is 7.5 plate px off; after the band stage every row's
    transition lies within 1 px of the true sub-pixel edge (the upsampled matte alone: > 5 px)."""
    alpha = working_matte(shift)
    settings = settings_for(CONFIGS[method], WIDTH / WORKING[1])
    assert settings.projection_zone == (4 if method == "projection" else 0)
    result = CUTS[method](alpha, plate_4k, [Click(500, 1000, True)], settings)
    rows = np.arange(0, HEIGHT, 7)
    truth = EDGE_X + SLOPE * (rows + 0.5)
    assert np.abs(crossings(alpha, rows) - truth).min() > 5  # the old answer is off
    error = np.abs(crossings(result, rows) - truth)
    assert error.max() <= 1.0, error.max()


@pytest.mark.parametrize("method", list(CUTS))
def test_band_cut_changes_no_pixel_outside_the_band(method):
    """On a real synthetic frame with a rough matte: pixels farther from the matte's 0.5 contour
    than the band's half-width plus one coarse cell (and outside the click disks) keep their exact
    values; the band's own pixels are decided (0 or 1, with grabcut's posterior soft edge off; the
    projection's soft values lie in the band too)."""
    frame = synthetic_frame(320, 240, seed=5)
    rng = np.random.default_rng(1)
    alpha = ndimage.gaussian_filter((frame.alpha > 0.5).astype(np.float32), 3) + rng.normal(0, 0.05, frame.alpha.shape)
    alpha = np.clip(alpha, 0, 1).astype(np.float32)
    clicks = [Click(*frame.center, True), Click(10.5, 12.5, False)]
    settings = BandCut(half_width=6, factor=3, smoothness=2.0, click_radius=3, projection_zone=ZONES[method])
    result = CUTS[method](alpha, frame.rgb, clicks, settings)
    contour = (alpha > 0.5) ^ ndimage.binary_erosion(alpha > 0.5, np.ones((3, 3), bool), border_value=1)
    distance = ndimage.distance_transform_edt(~contour)
    positive, negative = click_disks(alpha.shape, clicks, settings.click_radius)
    far = (distance > settings.half_width + 2 * settings.factor * np.sqrt(2)) & ~positive & ~negative
    assert far.sum() > 0.5 * far.size
    np.testing.assert_array_equal(result[far], alpha[far])
    band = band_mask(alpha, settings.factor, settings.half_width) | positive | negative
    np.testing.assert_array_equal(result[~band], alpha[~band])
    soft = (result[band] > 0) & (result[band] < 1)
    assert soft.any() if method == "projection" else not soft.any()
    assert (result != alpha).any()


@pytest.mark.parametrize("method", list(CUTS))
def test_clicks_are_hard_constraints(method):
    """A positive click where the matte says background (in the band and far from it) ends
    inside the result; a negative click where it says foreground ends outside (grabcut with its
    soft edge on: a click's disk stays 0 or 1)."""
    frame = synthetic_frame(200, 150, seed=2)
    alpha = (frame.alpha > 0.5).astype(np.float32)
    ys, xs = np.nonzero(alpha > 0.5)
    inside = Click(float(xs.mean()) + 0.5, float(ys.mean()) + 0.5, False)  # negative, deep inside
    rows, cols = np.nonzero(alpha <= 0.5)
    outside = Click(float(cols[0]) + 0.5, float(rows[0]) + 0.5, True)  # positive, a corner, far away
    edge_rows, edge_cols = np.nonzero((alpha > 0.5) ^ ndimage.binary_erosion(alpha > 0.5))
    near = Click(float(edge_cols[0]) + 2.5, float(edge_rows[0]) + 0.5, True)  # at the edge, outside
    for strength in (2.0, 50.0):
        settings = BandCut(4, 2, strength, 1.5, soft_width=3, colour_smoothness=strength,
                           projection_zone=ZONES[method])
        result = CUTS[method](alpha, frame.rgb, [inside, outside, near], settings)
        for click in (inside, outside, near):
            assert (result[int(click.y), int(click.x)] > 0.5) == click.positive


def striped_object_plate(height: int, width: int, edge_x: float, rim: float) -> np.ndarray:
    """(H, W, 3): an object left of the sub-pixel silhouette x = edge_x over a green background.
    Inside it, from the silhouette in: a pale stripe `rim` px wide (close to the background's
    colour), then orange and pale stripes 12 px each. The strongest contrast near the silhouette
    is the pale/orange edge `rim` px inside it, not the silhouette."""
    background, pale, orange = np.array([0.42, 0.55, 0.40]), np.array([0.55, 0.66, 0.52]), np.array([0.90, 0.50, 0.20])
    columns = np.arange(width, dtype=np.float64)[None, :]
    coverage = np.clip(edge_x - columns, 0, 1)[..., None]
    depth = edge_x - (columns + 0.5)
    stripe = np.where(((depth >= rim) & (((depth - rim) // 12) % 2 == 0))[..., None], orange, pale)
    plate = np.broadcast_to(coverage * stripe + (1 - coverage) * background, (height, width, 3))
    plate = plate + np.random.default_rng(0).normal(0, 0.01, plate.shape)
    return np.clip(plate, 0, 1).astype(np.float32)


def test_grabcut_finds_the_silhouette_where_a_stronger_edge_lies_inside_the_object():
    """A 960x540 plate at 7.5x a working matte whose edge lies 4.3 px inside the object, next to
    an internal stripe edge 5 px inside: graphcut's contrast cut stops at the internal edge (more
    than 5 px off); grabcut's colour models (the object has pale and orange stripes, the pale
    close to the background) put every row within 1 px of the silhouette."""
    height, width, factor, edge_x = 540, 960, 7.5, 481.3
    plate = striped_object_plate(height, width, edge_x, rim=5.0)
    working = np.clip((edge_x / factor - 0.6 - (np.arange(int(width / factor)) + 0.5)) / 2 + 0.5, 0, 1)
    step = torch.from_numpy(np.tile(working, (int(height / factor), 1)).astype(np.float32))[None, None]
    alpha = F.interpolate(step, size=(height, width), mode="bilinear", align_corners=False)[0, 0].numpy()
    rows = np.arange(0, height, 5)
    clicks = [Click(100, 270, True)]
    graphcut = cut_band(alpha, plate, clicks, settings_for(EdgesConfig(method="graphcut"), factor))
    grabcut = grabcut_band(alpha, plate, clicks, settings_for(EdgesConfig(method="grabcut"), factor))
    assert np.abs(crossings(alpha, rows) - edge_x).min() > 4  # the network's edge is off
    assert np.abs(crossings(graphcut, rows) - edge_x).min() > 5
    assert np.abs(crossings(grabcut, rows) - edge_x).max() <= 1.0


def test_grabcut_soft_edge_lies_next_to_the_cut_and_follows_a_blurred_edge():
    """A motion-blurred edge (coverage ramping over 6 px between two colours): the soft result
    is the hard one (soft_width 0) except within soft_width px of the hard cut's edge, where it
    holds values between 0 and 1 that are closer to the true coverage than the hard cut's."""
    height, width, factor, edge_x, blur = 135, 480, 7.5, 240.4, 6.0
    x = np.arange(width)[None, :] + 0.5
    coverage = np.tile(np.clip((edge_x - x) / blur + 0.5, 0, 1), (height, 1))
    plate = coverage[..., None] * INSIDE + (1 - coverage[..., None]) * OUTSIDE
    plate = np.clip(plate + np.random.default_rng(0).normal(0, 0.01, plate.shape), 0, 1).astype(np.float32)
    alpha = np.tile((x < edge_x + 6).astype(np.float32), (height, 1))
    settings = settings_for(EdgesConfig(method="grabcut"), factor)
    soft = grabcut_band(alpha, plate, [], settings)
    hard = grabcut_band(alpha, plate, [], dataclasses.replace(settings, soft_width=0))
    assert set(np.unique(hard)) <= {0.0, 1.0}
    inside = hard > 0.5
    edge = inside ^ ndimage.binary_erosion(inside, border_value=1) | ~inside ^ ndimage.binary_erosion(~inside, border_value=1)
    near = ndimage.binary_dilation(edge, iterations=int(settings.soft_width))
    np.testing.assert_array_equal(soft[~near], hard[~near])
    assert ((soft > 0.05) & (soft < 0.95)).sum() >= height  # a soft transition on every row
    ramp = (coverage > 0) & (coverage < 1)
    assert np.abs(soft - coverage)[ramp].mean() < np.abs(hard - coverage)[ramp].mean()


def test_projection_follows_a_blurred_edge_over_a_busy_background():
    """A flat object's motion-blurred edge (coverage ramping over 6 px) over a busy background
    (brightness varying +-30% per pixel), mixed in linear light and encoded to sRGB, as a
    display-referred plate is. The projection's alpha there is much closer to the true
    coverage than the colour models' posterior (whose broad background model claims the mixed
    pixels): measured 0.030 against 0.153 (solved on the sRGB code values instead of linear
    light: 0.070, and rows 2 px off). Every row's 0.5 crossing is within 1 px of the true one,
    and only pixels within the projection zone of the hard cut's edge differ from the hard cut."""
    height, width, factor, edge_x, blur = 135, 480, 7.5, 240.4, 6.0
    x = np.arange(width)[None, :] + 0.5
    coverage = np.tile(np.clip((edge_x - x) / blur + 0.5, 0, 1), (height, 1))
    rng = np.random.default_rng(0)
    background = srgb_to_linear(OUTSIDE) * (0.7 + 0.6 * rng.random((height, width, 1)))
    plate = coverage[..., None] * srgb_to_linear(INSIDE) + (1 - coverage[..., None]) * background
    plate = linear_to_srgb(plate + rng.normal(0, 0.005, plate.shape)).astype(np.float32)
    alpha = np.tile((x < edge_x + 6).astype(np.float32), (height, 1))
    settings = settings_for(CONFIGS["projection"], factor)
    assert settings.projection_zone == 2  # 0.25 working px at 7.5x
    projected = grabcut_band(alpha, plate, [], settings)
    posterior = grabcut_band(alpha, plate, [], settings_for(CONFIGS["grabcut"], factor))
    hard = grabcut_band(alpha, plate, [], dataclasses.replace(settings, projection_zone=0, soft_width=0))
    ramp = (coverage > 0) & (coverage < 1)
    error = np.abs(projected - coverage)[ramp].mean()
    assert error <= 0.25 * np.abs(posterior - coverage)[ramp].mean(), error
    rows = np.arange(height)
    assert np.abs(crossings(projected, rows) - np.floor(edge_x)).max() <= 1.0
    inside = hard > 0.5
    edge = inside ^ ndimage.binary_erosion(inside, border_value=1) | ~inside ^ ndimage.binary_erosion(~inside, border_value=1)
    near = ndimage.binary_dilation(edge, np.ones((3, 3), bool), iterations=settings.projection_zone)
    np.testing.assert_array_equal(projected[~near], hard[~near])
    assert ((projected > 0.05) & (projected < 0.95)).sum() >= 3 * height


@pytest.mark.parametrize("ocio_config", [None, "ocio://studio-config-latest"])
def test_projection_decode_undoes_the_plate_readers_encode(tmp_path, ocio_config):
    """The projection solves mixes in linear light by decoding the plate with the sRGB EOTF. That
    is only linear light if read_frame's "sRGB" target is the plain sRGB curve, not a display
    transform with a tone curve: checked for OpenImageIO's built-in config and OCIO's ACES
    studio config. A float EXR in linear Rec.709 with two colours and their 50% mix, read as a
    plate and decoded, gives back its values (so the mix still lies halfway between them)."""
    from image_files import write_image
    from hyperseg_vfx.io.images import read_frame

    inside, outside = np.array([0.6, 0.12, 0.03]), np.array([0.02, 0.25, 0.9])
    linear = np.stack([inside, 0.5 * inside + 0.5 * outside, outside])[None].astype(np.float32)
    plate = write_image(tmp_path / "mix.exr", linear, fmt="float")
    decoded = srgb_to_linear(read_frame(plate, ocio_config=ocio_config).rgb.astype(np.float64))
    np.testing.assert_allclose(decoded, linear, atol=2e-4)  # the mix (middle pixel) included


def test_projection_runs_only_on_plates_well_above_the_working_size():
    """Below PROJECTION_MIN_FACTOR (a plate near its working size) soft_edge "projection" is the
    posterior soft edge, bit for bit; the zone grows with the plate (0.25 working px: 2 plate px
    at 7.5x, 4 at 15x); the config refuses an unknown soft edge and a zone out of bounds."""
    frame = synthetic_frame(200, 150, seed=3)
    alpha = ndimage.gaussian_filter((frame.alpha > 0.5).astype(np.float32), 2)
    clicks = [Click(*frame.center, True)]
    for factor in (1.0, PROJECTION_MIN_FACTOR - 0.1):
        projection, posterior = (settings_for(CONFIGS[name], factor) for name in ("projection", "grabcut"))
        assert projection == posterior
        np.testing.assert_array_equal(decide_edges(alpha[None], frame.rgb, clicks, CONFIGS["projection"], factor),
                                      decide_edges(alpha[None], frame.rgb, clicks, CONFIGS["grabcut"], factor))
    assert [settings_for(CONFIGS["projection"], f).projection_zone for f in (2.0, 3.75, 7.5, 15.0)] == [1, 1, 2, 4]
    with pytest.raises(ConfigError, match="edges.soft_edge"):
        ModelConfig.from_dict({"edges": {"method": "grabcut", "soft_edge": "matting"}})
    for zone in (0, 2.5):
        with pytest.raises(ConfigError, match="edges.projection_zone"):
            ModelConfig.from_dict({"edges": {"method": "grabcut", "soft_edge": "projection", "projection_zone": zone}})


def test_grabcut_is_deterministic_and_falls_back_to_graphcut_without_colour_samples():
    """The same inputs give the same matte (OpenCV's k-means is reseeded); a matte whose band
    has fewer than colour_models.MIN_SAMPLES background pixels around it (a 3x3 hole) gets
    graphcut's answer."""
    frame = synthetic_frame(200, 150, seed=3)
    alpha = ndimage.gaussian_filter((frame.alpha > 0.5).astype(np.float32), 2)
    settings = BandCut(half_width=4, factor=2, smoothness=50.0, click_radius=1.5, soft_width=3)
    clicks = [Click(*frame.center, True)]
    first = grabcut_band(alpha, frame.rgb, clicks, settings)
    np.testing.assert_array_equal(first, grabcut_band(alpha, frame.rgb, clicks, settings))
    assert not np.array_equal(first, cut_band(alpha, frame.rgb, clicks, settings))
    holed = np.ones((40, 40), np.float32)
    holed[18:21, 18:21] = 0
    small = BandCut(half_width=2, factor=1, smoothness=2.0, click_radius=1.0, soft_width=3)  # graphcut's lambda
    np.testing.assert_array_equal(grabcut_band(holed, frame.rgb[:40, :40], [], small),
                                  cut_band(holed, frame.rgb[:40, :40], [], small))


def test_passes_run_the_stage_again_around_the_previous_edge():
    """edges.grabcut_passes 2: grabcut runs on its own result (its band around the edge the first
    pass found), so pixels up to two bands from the matte's contour may change and none farther;
    graphcut runs once whatever grabcut_passes says."""
    frame = synthetic_frame(320, 240, seed=5)
    alpha = np.clip(ndimage.gaussian_filter((frame.alpha > 0.5).astype(np.float32), 3), 0, 1).astype(np.float32)
    clicks = [Click(*frame.center, True)]
    config = EdgesConfig(method="grabcut", band=2.0, grabcut_passes=2)
    settings = settings_for(config, 3.0)
    once = grabcut_band(alpha, frame.rgb, clicks, settings)
    twice = decide_edges(alpha[None], frame.rgb, clicks, config, 3.0)[0]
    np.testing.assert_array_equal(twice, grabcut_band(once, frame.rgb, clicks, settings))
    assert not np.array_equal(twice, once)
    contour = (alpha > 0.5) ^ ndimage.binary_erosion(alpha > 0.5, np.ones((3, 3), bool), border_value=1)
    far = ndimage.distance_transform_edt(~contour) > 2 * (settings.half_width + 2 * settings.factor * np.sqrt(2))
    positive, _ = click_disks(alpha.shape, clicks, settings.click_radius)
    np.testing.assert_array_equal(twice[far & ~positive], alpha[far & ~positive])
    graphcut = dataclasses.replace(config, method="graphcut")
    np.testing.assert_array_equal(decide_edges(alpha[None], frame.rgb, clicks, graphcut, 3.0)[0],
                                  cut_band(alpha, frame.rgb, clicks, settings_for(graphcut, 3.0)))
    for passes in (0, 5):
        with pytest.raises(ConfigError, match="edges.grabcut_passes"):
            ModelConfig.from_dict({"edges": {"method": "grabcut", "grabcut_passes": passes}})


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
    with pytest.raises(ConfigError, match="edges.soft_width"):
        ModelConfig.from_dict({"edges": {"method": "grabcut", "soft_width": -1}})
    colour = copy.deepcopy(tiny_model[0])
    colour.config.edges = dataclasses.replace(colour.config.edges, method="grabcut")
    np.testing.assert_array_equal(
        Segmenter(colour, device="cpu", cache_bytes=0).segment(plate.rgb, None, clicks).candidates,
        Segmenter(tiny_model[0], device="cpu", cache_bytes=0).segment(plate.rgb, None, clicks, edges="grabcut").candidates)
    assert decide_edges(by_config.candidates, plate.rgb, clicks, EdgesConfig(), 1.0) is by_config.candidates
