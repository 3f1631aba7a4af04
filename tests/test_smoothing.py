"""Temporal smoothing: on a plate whose object moves by a known amount, noisy mattes of it flicker
less once smoothed and stay on the object; a neighbour whose matte disagrees (the object gone)
barely counts; the sequence helper is render's rule at the ends; a smoothed shot's frame from the
bridge is the rendered frame; the option is validated like every other."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_bridge import SIZE, read_exr, same_exr, segment

from hyperseg_vfx.evaluation.temporal import flicker
from hyperseg_vfx.render import render_shot
from hyperseg_vfx.shot import ShotError, load_shot, shot_from_dict
from hyperseg_vfx.smoothing import smooth_candidates, smooth_sequence
from hyperseg_vfx.synthetic import synthetic_frame

SHIFT = (2, 1)  # the whole picture moves by (dx, dy) px per frame


def moving_sequence(frames: int = 6, noise: float = 0.08):
    """Plates of a textured picture translated by SHIFT per frame, the true soft matte of a disc in
    it, and that matte with independent noise per frame (what a network's chatter looks like)."""
    base = synthetic_frame(160, 120, seed=4).rgb
    ys, xs = np.mgrid[0:120, 0:160] + 0.5
    rng = np.random.default_rng(0)
    plates, truths, noisy = [], [], []
    for t in range(frames):
        dx, dy = SHIFT[0] * t, SHIFT[1] * t
        plates.append(np.roll(base, (dy, dx), axis=(0, 1)))
        truth = np.clip(20.5 - np.hypot(xs - 70 - dx, ys - 55 - dy), 0, 1).astype(np.float32)
        truths.append(truth)
        noisy.append(np.clip(truth + rng.normal(0, noise, truth.shape), 0, 1).astype(np.float32))
    return plates, truths, noisy


def test_smoothing_removes_chatter_and_keeps_the_moving_edge():
    plates, truths, noisy = moving_sequence()
    smoothed = smooth_sequence(noisy, plates)
    masks = [t > 0.5 for t in truths]
    assert flicker(smoothed, masks) < 0.7 * flicker(noisy, masks)
    inner = (slice(8, -8), slice(8, -8))  # away from np.roll's wrap-around at the borders
    for s, m in zip(smoothed, masks):
        assert ((s > 0.5) == m)[inner].mean() > 0.995
    # the neighbours were moved onto the frame: at the moving edge the smoothed matte is as right as
    # the frame's own, where a plain average of the three frames smears it
    plain = [np.mean(noisy[max(t - 1, 0): t + 2], axis=0) for t in range(len(noisy))]
    edge = [(t > 0.02) & (t < 0.98) for t in truths]
    def edge_error(mattes):
        return np.mean([np.abs(a - t)[e].mean() for a, t, e in zip(mattes, truths, edge)])
    assert edge_error(smoothed) < 1.1 * edge_error(noisy) and edge_error(smoothed) < 0.5 * edge_error(plain)


def test_a_neighbour_that_disagrees_barely_counts():
    plates, truths, _ = moving_sequence(frames=2, noise=0.0)
    gone = np.zeros_like(truths[0])  # the object is not in the neighbour's matte at all
    result = smooth_candidates(truths[1][None], plates[1], [(gone[None], plates[0])])[0]
    inside = truths[1] == 1.0  # full disagreement: the neighbour's weight is exp(-(1 / 0.3)^2)
    assert inside.sum() > 1000 and np.abs(result - truths[1])[inside].max() < 1e-4
    assert np.abs(result - truths[1]).mean() < 2e-3  # only the soft edge's faint values blend


def test_the_sequence_helper_smooths_the_ends_with_their_one_neighbour():
    plates, _, noisy = moving_sequence(frames=3)
    smoothed = smooth_sequence(noisy, plates)
    first = smooth_candidates(noisy[0][None], plates[0], [(noisy[1][None], plates[1])])[0]
    middle = smooth_candidates(noisy[1][None], plates[1], [(noisy[0][None], plates[0]), (noisy[2][None], plates[2])])[0]
    np.testing.assert_array_equal(smoothed[0], first)
    np.testing.assert_array_equal(smoothed[1], middle)
    assert smoothed[2].shape == noisy[2].shape and smoothed[2].dtype == np.float32


def test_the_option_is_validated_and_round_trips(tmp_path):
    data = {"input": "p.####.exr", "frames": "1-2", "output": "m.####.exr",
            "clicks": [{"label": "positive", "keys": {1: [1, 1]}}], "options": {"temporal_smoothing": True}}
    shot = shot_from_dict(data, tmp_path)
    assert shot.options.temporal_smoothing and shot_from_dict(shot.to_dict(), tmp_path) == shot
    with pytest.raises(ShotError, match="options.temporal_smoothing"):
        shot_from_dict(dict(data, options={"temporal_smoothing": "yes"}), tmp_path)


def test_the_bridge_segments_a_smoothed_frame_as_render_does(bridge, make_shot, make_segmenter):
    """/v1/segment with temporal_smoothing reads the neighbours' plates by render's rule and
    writes the matte render writes; it differs from the unsmoothed one."""
    folder = bridge.root / "smoothing"
    plain = load_shot(make_shot(folder, "1001-1004", SIZE))
    shot = dataclasses.replace(plain, options=dataclasses.replace(plain.options, temporal_smoothing=True))
    assert render_shot(shot, make_segmenter()).ok
    output = bridge.root / "smoothing_segment" / "m.####.exr"
    for frame in (1001, 1003, 1004):  # one neighbour, two, one
        answer = segment(bridge.client, shot, frame, output, options={"temporal_smoothing": True})
        same_exr(answer["output"], shot.output_path(frame))
    raw = segment(bridge.client, shot, 1003, bridge.root / "raw.####.exr")
    assert not np.array_equal(read_exr(raw["output"])[0], read_exr(shot.output_path(1003))[0])
