"""A tracked shot is an ordinary shot: it renders bit-identically in one run, in chunks, through a
real `openjd run` (also with temporal smoothing, whose neighbours cross the chunks' ends), and its
mattes are the ones tracking checked the clicks against."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from click.testing import CliRunner

from hyperseg_vfx.cli import main
from hyperseg_vfx.farm import submit_shot
from hyperseg_vfx.render import render_shot, segment_shot_frame
from hyperseg_vfx.shot import load_shot, save_shot
from hyperseg_vfx.tracking import track_shot

from test_farm_openjd import pixels


@pytest.mark.parametrize("smoothing", [False, True])
def test_a_tracked_shot_renders_the_same_in_one_run_in_chunks_and_through_openjd(farm_shot, make_segmenter, tmp_path,
                                                                                capfd, smoothing):
    shot_file = farm_shot("1001-1005")
    tracked_file = shot_file.with_name("sh010_tracked.yaml")
    result = CliRunner().invoke(main, ["track", str(shot_file), "--out", str(tracked_file), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    tracked = load_shot(tracked_file)
    assert all(sorted(c.keys) == list(range(1001, 1006)) for c in tracked.clicks)
    if smoothing:
        options = dataclasses.replace(tracked.options, temporal_smoothing=True)
        save_shot(dataclasses.replace(tracked, options=options), tracked_file, overwrite=True)
        tracked = load_shot(tracked_file)
        assert tracked.options.temporal_smoothing

    submitted = submit_shot(tracked_file, "openjd", chunk_size=2, run_local=True)
    assert submitted.submitted
    capfd.readouterr()
    segmenter = make_segmenter()
    whole = dataclasses.replace(tracked, output=str(tmp_path / "whole" / "m.####.exr"))
    assert render_shot(whole, segmenter).ok
    chunks = dataclasses.replace(tracked, output=str(tmp_path / "chunks" / "m.####.exr"))
    for frames in ([1001, 1002], [1003], [1004, 1005]):
        assert render_shot(dataclasses.replace(chunks, frames=frames), segmenter).ok
    for frame in tracked.frames:
        farm = pixels(tracked.output_path(frame))
        assert np.array_equal(farm, pixels(whole.output_path(frame))), f"frame {frame}: openjd differs from one run"
        assert np.array_equal(farm, pixels(chunks.output_path(frame))), f"frame {frame}: chunks differ from one run"
    if smoothing:  # and the smoothing did something
        raw = dataclasses.replace(whole, options=dataclasses.replace(whole.options, temporal_smoothing=False),
                                  output=str(tmp_path / "raw" / "m.####.exr"))
        assert render_shot(raw, segmenter).ok
        assert not np.array_equal(pixels(raw.output_path(1003)), pixels(whole.output_path(1003)))


def test_the_mattes_tracking_checks_against_are_the_rendered_mattes(farm_shot, make_segmenter):
    shot = load_shot(farm_shot("1001-1004"))
    segmenter = make_segmenter()
    seen = {}
    tracked = track_shot(shot, segmenter, on_matte=lambda frame, matte: seen.setdefault(frame, matte.alpha)).shot
    assert sorted(seen) == [1001, 1002, 1003, 1004]
    for frame, alpha in seen.items():
        assert np.array_equal(alpha, segment_shot_frame(tracked, segmenter, frame).alpha), frame
