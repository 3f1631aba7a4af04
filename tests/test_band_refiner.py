"""The learned band refiner (modeling/band_refiner.py, training/band_refiner.py, edges `learned`):
it changes only its band, never a click's disk, computes the same alpha block by block as over the
whole frame, learns to move an edge that grabcut put off the plate's colour edge, and travels in
checkpoints; `checkpoint train-refiner` trains one on a model's own mattes."""

from __future__ import annotations

import copy
import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy import ndimage

from hyperseg_vfx.checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from hyperseg_vfx.clicks import Click
from hyperseg_vfx.config import ConfigError, ModelConfig, RefineConfig
from hyperseg_vfx.modeling.band_refiner import REACH, BandRefiner, padded_inputs, refiner_band
from hyperseg_vfx.modeling.edges import click_disks
from hyperseg_vfx.segmenter import SegmentError, Segmenter
from hyperseg_vfx.synthetic import synthetic_frame
from hyperseg_vfx.training.band_refiner import RefinerState, cut_patches, fit_refiner


def random_refiner(width: int = 6, seed: int = 0) -> BandRefiner:
    torch.manual_seed(seed)
    return BandRefiner(width).eval()


def rough_mattes(height: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(plate, network matte, edge matte) of a synthetic frame: the truth blurred, and the truth
    eroded by 2 px (an edge stage's result a little off)."""
    frame = synthetic_frame(width, height, seed=seed)
    truth = frame.alpha > 0.5
    network = ndimage.gaussian_filter(truth.astype(np.float32), 3)
    edge = ndimage.binary_erosion(truth, iterations=2).astype(np.float32)
    return frame.rgb, network, edge


def test_refiner_changes_only_its_band_and_never_a_clicks_disk():
    plate, network, edge = rough_mattes(211, 157, seed=3)
    ys, xs = np.nonzero(edge > 0.5)
    clicks = [Click(float(xs.mean()) + 0.5, float(ys.mean()) + 0.5, True), Click(3.5, 4.5, False)]
    contour = np.nonzero((edge > 0.5) ^ ndimage.binary_erosion(edge > 0.5))
    clicks.append(Click(float(contour[1][0]) + 0.5, float(contour[0][0]) + 0.5, False))  # on the edge itself
    result = random_refiner().refine(network, edge, plate, clicks, half_width=5, click_radius=2)
    band = refiner_band(edge, 5)
    positive, negative = click_disks(edge.shape, clicks, 2)
    assert band[negative].any()  # the edge click's disk lies in the band ...
    kept = ~band | positive | negative
    np.testing.assert_array_equal(result[kept], edge[kept])  # ... and is kept, as everything outside
    assert (result[band & ~positive & ~negative] != edge[band & ~positive & ~negative]).mean() > 0.9
    distance = ndimage.distance_transform_cdt((edge > 0.5) ^ ndimage.binary_erosion(edge > 0.5) == 0, "chessboard")
    assert band.sum() < (distance <= 6).sum() and (distance <= 4).sum() < band.sum()


def test_blocks_give_the_alpha_of_the_whole_frame_at_once():
    """Block by block (each with its receptive field around it) equals one pass over the frame."""
    plate, network, edge = rough_mattes(150, 233, seed=4)
    refiner = random_refiner(seed=1)
    result = refiner.refine(network, edge, plate, [], half_width=6, click_radius=1)
    inputs = padded_inputs(plate, network, edge, REACH, REACH)
    with torch.inference_mode():
        whole = torch.sigmoid(refiner(torch.from_numpy(inputs)[None]))[0, 0, REACH:-REACH, REACH:-REACH].numpy()
    band = refiner_band(edge, 6)
    np.testing.assert_allclose(result[band], whole[band], atol=1e-4)  # float sums in another order


def edge_state(rng: np.random.Generator, size: int = 96) -> tuple[RefinerState, float, np.ndarray]:
    """A plate with a slanted sub-pixel colour edge (random colours, grain), the network's matte
    soft and off by up to 3 px, and an edge stage's matte off by 2 to 4 px: (state, the true
    edge's x at row 0, its slope)."""
    rows = np.arange(size, dtype=np.float32)[:, None] + 0.5
    columns = np.arange(size, dtype=np.float32)[None, :]
    x0, slope = rng.uniform(35, 60), rng.uniform(-0.15, 0.15)
    coverage = np.clip(x0 + slope * rows - columns, 0, 1)
    inside, outside = rng.uniform(0.1, 0.9, 3), rng.uniform(0.1, 0.9, 3)
    while np.abs(inside - outside).sum() < 0.45:
        outside = rng.uniform(0.1, 0.9, 3)
    plate = coverage[..., None] * inside + (1 - coverage[..., None]) * outside
    plate = np.clip(plate + rng.normal(0, 0.02, plate.shape), 0, 1).astype(np.float32)
    network = np.clip((x0 + rng.uniform(-3, 3) + slope * rows - columns) / 6 + 0.5, 0, 1)
    off = rng.choice([-1, 1]) * rng.uniform(2, 4)
    edge = np.clip(x0 + off + slope * rows - columns, 0, 1)
    inputs = padded_inputs(plate, network.astype(np.float32), edge.astype(np.float32), 0, 0)
    return RefinerState(inputs, coverage.astype(np.float32), refiner_band(edge, 8)), x0, slope


def test_a_trained_refiner_moves_edges_the_edge_stage_put_off_the_plates_edge():
    """Trained on states whose edge stage missed a colour edge by 2-4 px, the refiner brings the
    edges of new plates closer: the mean distance of each row's crossing from the true edge falls
    to at most 60% of the edge stage's, over six held-out plates."""
    rng = np.random.default_rng(0)
    states = [edge_state(rng)[0] for _ in range(64)]
    refiner, loss = fit_refiner(cut_patches(states, per_state=12, seed=0), width=8, steps=400, seed=0, learning_rate=3e-3)
    assert loss < 0.3
    before, after = [], []
    for _ in range(6):
        state, x0, slope = edge_state(rng)
        plate, network, edge = (state.inputs[:3] + 0.5).transpose(1, 2, 0), state.inputs[3] + 0.5, state.inputs[4] + 0.5
        result = refiner.refine(network, edge, plate, [], half_width=8, click_radius=1)
        rows = np.arange(4, 92)
        truth = x0 + slope * (rows + 0.5)  # the ideal crossing, ceil(x - 0.5), is up to 0.5 px off it
        before.append(np.abs([np.flatnonzero(edge[r] < 0.5)[0] - t for r, t in zip(rows, truth)]).mean())
        after.append(np.abs([np.flatnonzero(result[r] < 0.5)[0] - t for r, t in zip(rows, truth)]).mean())
    assert min(before) >= 1.5
    assert np.mean(after) <= 0.6 * np.mean(before), (before, after)


WORKING = 32  # the working short side of the models below: 96x72 and 120x90 plates are >= 2x it


@pytest.fixture(scope="module")
def working_checkpoint(tiny_checkpoint, tmp_path_factory):
    """The tiny model at a working short side of 32 px (guided upsampling to the plate)."""
    model, metadata = load_checkpoint(tiny_checkpoint)
    model.config.refine = RefineConfig(radius=4, eps=1e-3, reference_short_side=WORKING)
    model.config.working_short_side = WORKING
    return save_checkpoint(model, tmp_path_factory.mktemp("working") / "working.pt", metadata)


@pytest.fixture(scope="module")
def learned_checkpoint(working_checkpoint, tmp_path_factory):
    """The working-size tiny model with a random band refiner of width 4, as edges learned."""
    model, metadata = load_checkpoint(working_checkpoint)
    model.config.edges = dataclasses.replace(model.config.edges, method="learned", refiner_width=4, refiner_band=5)
    model.band_refiner = random_refiner(width=4, seed=2)
    return save_checkpoint(model, tmp_path_factory.mktemp("learned") / "learned.pt", metadata)


def test_learned_checkpoints_round_trip_and_old_ones_have_no_refiner(learned_checkpoint, tiny_model, tmp_path):
    model, _ = load_checkpoint(learned_checkpoint)
    for name, value in random_refiner(width=4, seed=2).state_dict().items():
        torch.testing.assert_close(model.band_refiner.state_dict()[name], value, rtol=0, atol=0)
    plate = synthetic_frame(120, 90, seed=9)
    clicks = [Click(*plate.center, True)]
    learned = Segmenter(model, device="cpu", cache_bytes=0)
    grabcut = learned.segment(plate.rgb, None, clicks, edges="grabcut").alpha
    refined = learned.segment(plate.rgb, None, clicks).alpha
    network = learned.segment(plate.rgb, None, clicks, edges="none").alpha
    click_radius = model.config.edges.click_radius * 90 / WORKING
    expected = model.band_refiner.refine(network, grabcut, plate.rgb, clicks, 5, click_radius)
    np.testing.assert_array_equal(refined, expected)
    assert not np.array_equal(refined, grabcut)
    small = synthetic_frame(56, 42, seed=9)  # under 2x the working size: learned is grabcut there
    small_clicks = [Click(*small.center, True)]
    np.testing.assert_array_equal(learned.segment(small.rgb, None, small_clicks).alpha,
                                  learned.segment(small.rgb, None, small_clicks, edges="grabcut").alpha)
    assert tiny_model[0].band_refiner is None and "band_refiner" not in read_checkpoint(tiny_model[1]["checkpoint"])
    with pytest.raises(SegmentError, match="has no trained band refiner"):
        Segmenter(tiny_model[0], device="cpu", cache_bytes=0).segment(plate.rgb, None, clicks, edges="learned")
    payload = read_checkpoint(learned_checkpoint)
    del payload["band_refiner"]
    torch.save(payload, tmp_path / "stripped.pt")
    with pytest.raises(CheckpointError, match="stripped.pt: the config has a band refiner"):
        load_checkpoint(tmp_path / "stripped.pt")
    payload["band_refiner"] = random_refiner(width=5).state_dict()
    torch.save(payload, tmp_path / "wrong.pt")
    with pytest.raises(CheckpointError, match="wrong.pt: band refiner weights do not match"):
        load_checkpoint(tmp_path / "wrong.pt")


def test_config_checks_the_refiner():
    with pytest.raises(ConfigError, match="needs a trained band refiner"):
        ModelConfig.from_dict({"edges": {"method": "learned"}})
    for bad in ({"refiner_width": -1}, {"refiner_width": 65}, {"refiner_band": 0}, {"refiner_band": 33}):
        with pytest.raises(ConfigError, match="edges.refiner_width"):
            ModelConfig.from_dict({"edges": bad})
    assert ModelConfig.from_dict({"edges": {"method": "learned", "refiner_width": 8}}).edges.refiner_band == 8.0


def test_train_refiner_command_writes_a_learned_copy_and_keeps_the_source(working_checkpoint, tiny_checkpoint, tmp_path):
    clips = tmp_path / "clips"
    run = [sys.executable, "-m", "hyperseg_vfx.cli"]
    subprocess.run([*run, "synth", str(clips), "--clips", "1", "--frames", "2", "--size", "96x72", "--seed", "5"],
                   check=True, capture_output=True)
    source_bytes = working_checkpoint.read_bytes()
    out = tmp_path / "learned.pt"
    command = [*run, "checkpoint", "train-refiner", str(working_checkpoint), str(out), "--data", f"clips:{clips}",
               "--width", "4", "--band", "6", "--steps", "20", "--patches-per-state", "8", "--device", "cpu"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "then a learned refiner (4 channels) within 6 plate px" in done.stdout
    assert working_checkpoint.read_bytes() == source_bytes
    model, metadata = load_checkpoint(out)
    assert model.config.edges.method == "learned" and model.band_refiner is not None
    record = metadata["band_refiner"]
    assert 2 <= record["states"] <= 2 * 3  # after clicks 3, 6 and the last of each of 2 frames, where placed
    assert 0 < record["patches"] <= 8 * record["states"] and record["patches"] % 8 == 0 and record["steps"] == 20
    assert record["data"] == [f"clips:{clips}"]
    source, _ = load_checkpoint(working_checkpoint)
    for name, value in source.network.state_dict().items():
        torch.testing.assert_close(model.network.state_dict()[name], value, rtol=0, atol=0)
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode != 0 and "already exists" in again.stderr
    native = subprocess.run([*command[:5], str(tiny_checkpoint), str(tmp_path / "native.pt"), *command[7:]],
                            capture_output=True, text=True)  # 96x72 is the native model's working size
    assert native.returncode != 0 and "nothing to train the refiner on" in native.stderr
    assert "Traceback" not in native.stderr and not (tmp_path / "native.pt").exists()


def test_shots_render_learned_edges_and_refuse_them_on_a_model_without_a_refiner(
        tmp_path, make_shot, learned_checkpoint, make_segmenter):
    """options.edges learned renders the refined matte into the EXR and records it; on a model
    with no refiner the render stops at once with the model named, and writes no file."""
    from image_files import read_image

    from hyperseg_vfx import render
    from hyperseg_vfx.errors import HypersegError
    from hyperseg_vfx.shot import ShotOptions, load_shot

    shot = load_shot(make_shot(tmp_path, "1001-1002", (96, 64)))
    shot = dataclasses.replace(shot, output=str(tmp_path / "out" / "m.####.exr"), options=ShotOptions(edges="learned"))
    learned = Segmenter.from_checkpoint(learned_checkpoint, device="cpu", cache_bytes=0)
    plate = render.read_plate(shot.input_path(1001))
    expected = learned.segment(plate.rgb, None, shot.clicks_at(1001), all_candidates=False).alpha
    render.render_shot(shot, learned)
    spec, pixels = read_image(shot.output_path(1001))
    assert spec.get_string_attribute("hyperseg/edges") == "learned"
    np.testing.assert_array_equal(pixels[..., 0], expected.astype(np.float16).astype(np.float32))
    other = dataclasses.replace(shot, output=str(tmp_path / "other" / "m.####.exr"))
    with pytest.raises(HypersegError, match="has no trained band refiner"):
        render.render_shot(other, make_segmenter())
    assert not (tmp_path / "other").exists() or not any((tmp_path / "other").iterdir())
