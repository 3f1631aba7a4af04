"""model.working_short_side: backbone and network at the working size, candidates brought back to
the plate's resolution by guided upsampling; native models unchanged; the checkpoint field."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from hyperseg_vfx.checkpoint import describe_checkpoint, load_checkpoint, save_checkpoint
from hyperseg_vfx.cli import main
from hyperseg_vfx.clicks import Click
from hyperseg_vfx.config import ConfigError, ModelConfig, RefineConfig
from hyperseg_vfx.segmenter import Segmenter
from hyperseg_vfx.synthetic import synthetic_frame

WORKING = 64
EDGE_X = 131.37  # the plate's colour edge in full-resolution pixels (4x the working size)
LEFT, RIGHT = np.array([0.8, 0.3, 0.2], np.float32), np.array([0.1, 0.4, 0.7], np.float32)


def edge_plate(size: int = 4 * WORKING) -> np.ndarray:
    """(size, size, 3): LEFT where x < EDGE_X, RIGHT beyond, the edge pixel mixed by its coverage."""
    coverage = np.clip(EDGE_X - np.arange(size, dtype=np.float32), 0, 1)  # pixel i spans [i, i + 1)
    row = coverage[:, None] * LEFT + (1 - coverage[:, None]) * RIGHT
    return np.ascontiguousarray(np.broadcast_to(row, (size, size, 3)), dtype=np.float32)


def coarse_network(shift: float, ramp: float):
    """A network stand-in whose candidates (at whatever size it runs) are a soft vertical step
    `ramp` working pixels wide, `shift` working pixels right of the true edge: what a low-resolution
    network gives, so the test measures what the upsampling makes of it."""

    def forward_projected(projected: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        _, _, height, width = context.shape
        edge = EDGE_X * width / (4 * WORKING) + shift
        centres = torch.arange(width, dtype=torch.float32) + 0.5
        step = ((edge - centres) / ramp + 0.5).clamp(0, 1)
        return step.expand(1, 6, height, width).clone()

    return forward_projected


def measured_edges(alpha: np.ndarray) -> np.ndarray:
    """Per row, where a left-is-inside matte crosses 0.5, interpolated linearly between pixel
    centres (pixel i's centre is at x = i + 0.5)."""
    edges = []
    for row in alpha:
        i = int(np.flatnonzero(row < 0.5)[0])
        edges.append(i - 0.5 + (row[i - 1] - 0.5) / (row[i - 1] - row[i]))
    return np.array(edges)


def transition_width(alpha: np.ndarray) -> int:
    """Pixels of the first row strictly between 0.1 and 0.9."""
    return int(np.count_nonzero((alpha[0] > 0.1) & (alpha[0] < 0.9)))


def working_model_with(tiny_model, shift: float, ramp: float = 3.0):
    model = copy.deepcopy(tiny_model[0])
    model.config.refine = RefineConfig(radius=4, eps=1e-3, reference_short_side=WORKING)
    model.config.working_short_side = WORKING
    model.network.forward_projected = coarse_network(shift, ramp)
    return model


@pytest.fixture()
def working_model(tiny_model):
    return working_model_with(tiny_model, shift=1.0)


@pytest.mark.parametrize("shift", [0.0, 0.5, 1.0])
def test_full_size_matte_edge_lies_on_the_plates_colour_edge(tiny_model, shift):
    """The coarse candidates are soft (3 working px = 12 plate px) and up to 1 working px (4 plate
    px) off. The full-size matte crosses 0.5 within 1 px of the true sub-pixel edge and drops
    across the edge pixel itself; the same model refined at working size and resized bilinearly
    (what `scale` does for a native model) spreads the drop over many pixels."""
    plate = edge_plate()
    model = working_model_with(tiny_model, shift)
    segmenter = Segmenter(model, device="cpu", cache_bytes=0)
    assert segmenter.working_size(*plate.shape[:2]) == (WORKING, WORKING)
    matte = segmenter.segment(plate, None, [Click(60, 128, True)])
    assert matte.candidates.shape == (6, 256, 256)
    error = np.abs(measured_edges(matte.alpha) - EDGE_X)
    assert error.max() < 1.0, error.max()
    edge_pixel = int(EDGE_X)
    assert (matte.alpha[:, edge_pixel - 1] - matte.alpha[:, edge_pixel + 1]).min() > 0.6
    assert matte.alpha[:, : edge_pixel - 1].min() > 0.9  # the object's inside stays inside
    model.config.working_short_side = None
    resized = Segmenter(model, device="cpu", cache_bytes=0).segment(plate, None, [Click(60, 128, True)], scale=0.25)
    assert (resized.alpha[:, edge_pixel - 1] - resized.alpha[:, edge_pixel + 1]).max() < 0.4
    if shift == 0.0:  # placed right: the guided matte is 1-2 px wide at the plate's resolution
        assert transition_width(matte.alpha) <= 2 and transition_width(resized.alpha) >= 8


def test_native_models_are_unchanged_bit_for_bit(tiny_model):
    """working_short_side None: the Segmenter returns the model's own forward at the plate size,
    and with `scale` the forward at the scaled size resized back bilinearly, as before the field
    existed; a working size at or above the plate's runs natively too."""
    model = tiny_model[0]
    plate = synthetic_frame(200, 120, seed=7)
    clicks = [Click(*plate.center, True), Click(5, 5, False)]
    frame = torch.from_numpy(plate.rgb).permute(2, 0, 1)[None]
    native = Segmenter(model, device="cpu", cache_bytes=0)
    with torch.inference_mode():
        expected = model(frame, frame, clicks)[0].numpy()
        small = F.interpolate(frame, size=(60, 100), mode="bilinear", antialias=True, align_corners=False)
        halved = model(small, small, [Click(c.x / 2, c.y / 2, c.positive) for c in clicks])
        halved = F.interpolate(halved, size=(120, 200), mode="bilinear", align_corners=False).clamp_(0, 1)[0].numpy()
    np.testing.assert_array_equal(native.segment(plate.rgb, None, clicks).candidates, expected)
    np.testing.assert_array_equal(native.segment(plate.rgb, None, clicks, scale=0.5).candidates, halved)
    large = copy.deepcopy(model)
    large.config.refine = RefineConfig(radius=0.01)  # on, but 0 px at this size: the candidates as they are
    large.config.working_short_side = 120
    assert Segmenter(large, device="cpu").working_size(120, 200) == (120, 200)
    np.testing.assert_array_equal(Segmenter(large, device="cpu").segment(plate.rgb, None, clicks).candidates, expected)


def test_candidate_one_alone_is_candidate_one_of_all(tiny_model):
    """all_candidates=False (what render asks for without options.candidates) returns exactly
    candidate 1 of the full answer, guided-upsampled or native, as a (1, H, W) array."""
    plate = synthetic_frame(256, 192, seed=3)
    clicks = [Click(*plate.center, True), Click(5, 5, False)]
    guided = copy.deepcopy(tiny_model[0])
    guided.config.refine = RefineConfig(radius=4, eps=1e-3, reference_short_side=WORKING)
    guided.config.working_short_side = WORKING
    for model in (guided, tiny_model[0]):
        segmenter = Segmenter(model, device="cpu", cache_bytes=0)
        every = segmenter.segment(plate.rgb, None, clicks)
        first = segmenter.segment(plate.rgb, None, clicks, all_candidates=False)
        assert every.candidates.shape == (6, 192, 256) and first.candidates.shape == (1, 192, 256)
        np.testing.assert_array_equal(first.alpha, every.alpha)


def test_scale_scales_the_working_size_and_the_cache_key_holds_it(working_model):
    plate = edge_plate()
    segmenter = Segmenter(working_model, device="cpu")
    assert segmenter.working_size(256, 512, scale=0.5) == (32, 64)
    assert segmenter.working_size(256, 512, scale=4.0) == (256, 512)  # never above the plate
    first = segmenter.segment(plate, None, [], frame_key="f")
    again = segmenter.segment(plate, None, [], frame_key="f", scale=0.5)
    assert not first.features_cached and not again.features_cached  # another working size, other features
    assert segmenter.segment(plate, None, [], frame_key="f").features_cached
    assert again.candidates.shape == (6, 256, 256)


def test_checkpoint_round_trip_and_info_of_the_working_size(tiny_checkpoint, tmp_path):
    runner = CliRunner()
    out = tmp_path / "working.pt"
    refused = runner.invoke(main, ["checkpoint", "set-working-size", str(tiny_checkpoint), str(out), "--short-side", "144"])
    assert refused.exit_code == 2 and "refine.radius" in refused.output and not out.exists()
    refined = tmp_path / "refined.pt"
    assert runner.invoke(main, ["checkpoint", "set-refine", str(tiny_checkpoint), str(refined), "--radius", "8",
                                "--reference-short-side", "144"]).exit_code == 0
    result = runner.invoke(main, ["checkpoint", "set-working-size", str(refined), str(out), "--short-side", "144"])
    assert result.exit_code == 0, result.output
    model, _ = load_checkpoint(out)
    assert model.config.working_short_side == 144
    assert describe_checkpoint(out)["working_short_side"] == 144
    assert "working size:    short side 144 px" in runner.invoke(main, ["checkpoint", "info", str(out)]).output
    assert "working size:    native" in runner.invoke(main, ["checkpoint", "info", str(tiny_checkpoint)]).output
    save_checkpoint(model, tmp_path / "again.pt")
    assert load_checkpoint(tmp_path / "again.pt")[0].config.working_short_side == 144
    back = tmp_path / "native.pt"
    assert runner.invoke(main, ["checkpoint", "set-working-size", str(out), str(back), "--native"]).exit_code == 0
    assert load_checkpoint(back)[0].config.working_short_side is None


def test_checkpoint_set_tile_extent_cuts_16_9_into_the_tiles_of_training(tiny_checkpoint, tmp_path):
    """set-tile-extent 192x144: a 256x144 frame (16:9 at the bundled model's working size) is one
    tile, as the 192x144 training frames were, instead of the paper grid's two; the weights and
    the other frames' grids are unchanged; --paper-grid goes back; bad input exits 2."""
    runner = CliRunner()
    out, back = tmp_path / "extent.pt", tmp_path / "paper.pt"
    result = runner.invoke(main, ["checkpoint", "set-tile-extent", str(tiny_checkpoint), str(out), "--extent", "192x144"])
    assert result.exit_code == 0, result.output
    source, extent = load_checkpoint(tiny_checkpoint)[0], load_checkpoint(out)[0]
    assert extent.config.backbone.tile_extent == (192, 144)
    assert (source.tile_grid(144, 256).count, extent.tile_grid(144, 256).count) == (2, 1)
    assert extent.tile_grid(144, 192).count == source.tile_grid(144, 192).count == 1
    assert "tiles covering 192x144 frame px" in runner.invoke(main, ["checkpoint", "info", str(out)]).output
    assert "the paper's grid" in runner.invoke(main, ["checkpoint", "info", str(tiny_checkpoint)]).output
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), extent.state_dict().values()))
    assert runner.invoke(main, ["checkpoint", "set-tile-extent", str(out), str(back), "--paper-grid"]).exit_code == 0
    assert load_checkpoint(back)[0].config.backbone.tile_extent == (0, 0)
    again = runner.invoke(main, ["checkpoint", "set-tile-extent", str(tiny_checkpoint), str(out), "--extent", "192x144"])
    assert again.exit_code != 0 and "already exists" in again.output
    for bad in (["--extent", "192"], ["--extent", "0x144"], [], ["--extent", "192x144", "--paper-grid"]):
        result = runner.invoke(main, ["checkpoint", "set-tile-extent", str(tiny_checkpoint), str(tmp_path / "x.pt"), *bad])
        assert result.exit_code == 2 and not (tmp_path / "x.pt").exists(), bad
    no_refiner = runner.invoke(main, ["checkpoint", "set-edges", str(tiny_checkpoint), str(tmp_path / "x.pt"), "--method", "learned"])
    assert no_refiner.exit_code != 0 and "needs a trained band refiner" in no_refiner.output
    assert not (tmp_path / "x.pt").exists()


def test_checkpoint_set_edges_switches_the_edge_stage(tiny_checkpoint, tmp_path):
    """set-edges --method grabcut: the copy decides its edges by colour models (checkpoint info
    says so), with the weights unchanged; --soft-width, --band, --passes, --soft-edge and
    --projection-zone change only what they name;
    an existing OUT, an unknown method or a negative width exit non-zero and write nothing."""
    runner = CliRunner()
    out, hard = tmp_path / "grabcut.pt", tmp_path / "hard.pt"
    result = runner.invoke(main, ["checkpoint", "set-edges", str(tiny_checkpoint), str(out), "--method", "grabcut"])
    assert result.exit_code == 0, result.output
    source, colour = load_checkpoint(tiny_checkpoint)[0], load_checkpoint(out)[0]
    assert colour.config.edges == dataclasses.replace(source.config.edges, method="grabcut")
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), colour.state_dict().values()))
    assert "grabcut at the plate's resolution" in runner.invoke(main, ["checkpoint", "info", str(out)]).output
    args = ["checkpoint", "set-edges", str(out), str(hard), "--method", "grabcut", "--soft-width", "0", "--band", "2",
            "--passes", "2"]
    assert runner.invoke(main, args).exit_code == 0
    edges = load_checkpoint(hard)[0].config.edges
    assert (edges.method, edges.soft_width, edges.band, edges.grabcut_passes, edges.smoothness) == (
        "grabcut", 0.0, 2.0, 2, source.config.edges.smoothness)
    assert "hard edge, 2 passes" in runner.invoke(main, ["checkpoint", "info", str(hard)]).output
    projected = tmp_path / "projected.pt"
    args = ["checkpoint", "set-edges", str(hard), str(projected), "--method", "grabcut", "--soft-edge", "projection",
            "--projection-zone", "0.5"]
    assert runner.invoke(main, args).exit_code == 0
    assert dataclasses.asdict(load_checkpoint(projected)[0].config.edges) == dataclasses.asdict(edges) | {
        "soft_edge": "projection", "projection_zone": 0.5}
    assert "soft edge by projection within 0.5 working px" in runner.invoke(main, ["checkpoint", "info", str(projected)]).output
    again = runner.invoke(main, ["checkpoint", "set-edges", str(tiny_checkpoint), str(out), "--method", "none"])
    assert again.exit_code != 0 and "already exists" in again.output
    for bad in (["--method", "crf"], ["--method", "grabcut", "--soft-width", "-1"], ["--method", "grabcut", "--passes", "5"],
                ["--method", "grabcut", "--soft-edge", "matting"], ["--method", "grabcut", "--projection-zone", "3"], []):
        result = runner.invoke(main, ["checkpoint", "set-edges", str(tiny_checkpoint), str(tmp_path / "x.pt"), *bad])
        assert result.exit_code == 2 and not (tmp_path / "x.pt").exists(), bad


def test_config_field_checks():
    assert ModelConfig.from_dict({}).working_short_side is None
    assert ModelConfig.from_dict({"working_short_side": None}).working_short_side is None
    good = {"working_short_side": 144, "refine": {"radius": 8.0, "reference_short_side": 144}}
    assert ModelConfig.from_dict(good).working_short_side == 144
    with pytest.raises(ConfigError, match="working_short_side: expected int"):
        ModelConfig.from_dict(good | {"working_short_side": "144"})
    with pytest.raises(ConfigError, match="at least 16"):
        ModelConfig.from_dict(good | {"working_short_side": 8})
    with pytest.raises(ConfigError, match="refine.radius > 0"):
        ModelConfig.from_dict({"working_short_side": 144})


def test_bench_reports_the_working_size_and_compares_with_native(tiny_model):
    from hyperseg_vfx.bench import run_benchmark

    model = copy.deepcopy(tiny_model[0])
    model.config.refine = RefineConfig(radius=4, eps=1e-3, reference_short_side=WORKING)
    model.config.working_short_side = WORKING
    result = run_benchmark(Segmenter(model, device="cpu"), 256, 128, compare_native=True)
    assert (result["working_short_side"], result["working_width"], result["working_height"]) == (WORKING, 128, 64)
    assert result["tiles"] == 1 and result["native"]["tiles"] == 2  # 256x128 natively is 2 x 1 tiles of 224
    assert result["native"]["working_short_side"] is None and result["native"]["working_width"] == 256
    assert set(result["click_update_stage_s"]) == {"resize", "network", "refine", "edges"}
    assert result["edges"] == "none" and result["click_update_stage_s"]["edges"] == 0
    cut = run_benchmark(Segmenter(model, device="cpu"), 256, 128, edges="graphcut")
    assert cut["edges"] == "graphcut" and cut["click_update_stage_s"]["edges"] > 0 and cut["stage_s"]["edges"] > 0
    assert result["click_update_stage_s"]["resize"] > 0 and result["native"]["click_update_stage_s"]["resize"] == 0
    assert result["click_update_speedup"] == pytest.approx(result["native"]["click_update_s"] / result["click_update_s"])
    assert result["click_update_gflop"] == pytest.approx(result["native"]["click_update_gflop"] / 4)  # a quarter of the pixels
    # a cache too small for one frame's features (as the default 2 GiB is for a paper-size model's
    # at 4K): bench still times a click update on cached features instead of failing
    tight = run_benchmark(Segmenter(model, device="cpu", cache_bytes=1024), 256, 128, compare_native=True)
    assert tight["click_update_s"] > 0 and tight["native"]["click_update_s"] > 0


def test_checkpoint_set_tile_extent_overlap_cuts_scope_into_overlapping_crops(tiny_checkpoint, tmp_path):
    """set-tile-extent 192x144 --overlap blend: a 2.39:1 working frame (344x144) is two 192x144
    crops that overlap (x 0-192 and 152-344) instead of two 172-px tiles meeting at a seam; 16:9
    stays one tile; `checkpoint info` says so; the weights are unchanged; without --overlap the
    grid has none; a bad --overlap exits 2 and writes nothing."""
    runner = CliRunner()
    out, plain = tmp_path / "overlap.pt", tmp_path / "plain.pt"
    result = runner.invoke(main, ["checkpoint", "set-tile-extent", str(tiny_checkpoint), str(out),
                                  "--extent", "192x144", "--overlap", "blend"])
    assert result.exit_code == 0, result.output
    source, overlapping = load_checkpoint(tiny_checkpoint)[0], load_checkpoint(out)[0]
    assert overlapping.config.backbone.tile_overlap == "blend"
    scope = overlapping.tile_grid(144, 344)
    assert scope.count == 2 and [cols for _rows, cols in scope.crops()] == [slice(0, 192), slice(152, 344)]
    assert overlapping.tile_grid(144, 256).count == 1
    assert "blended linearly across each overlap" in runner.invoke(main, ["checkpoint", "info", str(out)]).output
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), overlapping.state_dict().values()))
    assert runner.invoke(main, ["checkpoint", "set-tile-extent", str(out), str(plain), "--extent", "192x144"]).exit_code == 0
    assert load_checkpoint(plain)[0].config.backbone.tile_overlap == "none"
    bad = runner.invoke(main, ["checkpoint", "set-tile-extent", str(tiny_checkpoint), str(tmp_path / "x.pt"),
                               "--extent", "192x144", "--overlap", "average"])
    assert bad.exit_code == 2 and "--overlap" in bad.output and not (tmp_path / "x.pt").exists()
