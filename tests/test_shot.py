"""Shot files: parsing, every validation error, click interpolation, round trips."""

from __future__ import annotations

import copy
import dataclasses
import json

import numpy as np
import pytest
import yaml
from image_files import write_image

from hyperseg_vfx.clicks import Click
from hyperseg_vfx.shot import ClickTrack, ShotError, ShotOptions, load_shot, save_shot

WIDTH, HEIGHT = 8, 6


@pytest.fixture
def shot_dir(tmp_path):
    """A folder with plates/sh010.1001-1003.exr (8 x 6) and models/hyperseg.pt."""
    (tmp_path / "plates").mkdir()
    for frame in (1001, 1002, 1003):
        write_image(tmp_path / f"plates/sh010.{frame}.exr", np.zeros((HEIGHT, WIDTH, 3)))
    (tmp_path / "models").mkdir()
    (tmp_path / "models/hyperseg.pt").write_bytes(b"")
    return tmp_path


def shot_data(**changes):
    """A valid shot for `shot_dir`, with top-level `changes`."""
    data = {
        "input": "plates/sh010.####.exr",
        "frames": "1001-1003",
        "output": "mattes/sh010_matte.####.exr",
        "clicks": [{"label": "positive", "keys": {1001: [1.0, 2.0], 1003: [3.0, 4.0]}}],
    }
    return data | changes


def test_minimal_shot_defaults(shot_dir):
    shot = load_shot(shot_data(), shot_dir)
    assert shot.input == str(shot_dir / "plates/sh010.####.exr")
    assert shot.output == str(shot_dir / "mattes/sh010_matte.####.exr")
    assert shot.frames == [1001, 1002, 1003]
    assert shot.colorspace is None and shot.checkpoint is None and shot.path is None
    assert shot.options == ShotOptions(scale=1.0, matte="soft", candidates=False)
    assert shot.input_path(1002) == str(shot_dir / "plates/sh010.1002.exr")
    assert shot.output_path(1002) == str(shot_dir / "mattes/sh010_matte.1002.exr")
    assert shot.clicks_at(1002) == [Click(2.0, 3.0, True)]


def test_shot_file_paths_are_relative_to_it(shot_dir, monkeypatch):
    path = shot_dir / "sh010.yaml"
    path.write_text(yaml.safe_dump(shot_data(checkpoint="models/hyperseg.pt")))
    monkeypatch.chdir(shot_dir / "plates")
    shot = load_shot(path)
    assert shot.path == str(path)
    assert shot.checkpoint == str(shot_dir / "models/hyperseg.pt")
    assert shot.input == str(shot_dir / "plates/sh010.####.exr")


def test_json_shot_file(shot_dir):
    path = shot_dir / "sh010.json"
    path.write_text(json.dumps(shot_data(frames=1002)))  # JSON keys are strings: "1001"
    shot = load_shot(path)
    assert shot.frames == [1002] and shot.clicks[0].keys == {1001: (1.0, 2.0), 1003: (3.0, 4.0)}


def test_round_trip_through_dict_and_file(shot_dir):
    data = shot_data(
        colorspace="ACEScg",
        checkpoint="models/hyperseg.pt",
        frames="1001,1003",
        clicks=[
            {"label": "positive", "keys": {1001: [1.0, 2.0]}, "interpolation": "constant", "frames": "1001-1003"},
            {"label": "negative", "keys": {1002: [5.5, 4.5], 1003: [6.0, 5.0]}},
        ],
        options={"scale": 0.5, "matte": "binary", "candidates": True, "edges": "grabcut"},
    )
    # the 8x6 plates are too small for scale 0.5 (a 3 px short side): round trips without the files
    shot = load_shot(data, shot_dir, check_files=False)
    assert shot.options.edges == "grabcut" and load_shot(shot_data(), shot_dir).options.edges == "model"
    assert load_shot(shot.to_dict(), shot_dir / "elsewhere", check_files=False) == shot

    saved = shot_dir / "saved/sh010_v2.yaml"
    save_shot(shot, saved)
    text = yaml.safe_load(saved.read_text())
    assert text["input"] == "../plates/sh010.####.exr" and text["checkpoint"] == "../models/hyperseg.pt"
    assert load_shot(saved, check_files=False) == dataclasses.replace(shot, path=str(saved))
    assert sorted(p.name for p in saved.parent.iterdir()) == ["sh010_v2.yaml"]


def test_frames_override_replaces_frames_before_validation(shot_dir):
    (shot_dir / "plates/sh010.1003.exr").unlink()
    assert load_shot(shot_data(), shot_dir, frames="1001-1002").frames == [1001, 1002]
    with pytest.raises(ShotError) as info:
        load_shot(shot_data(), shot_dir, frames="1001-")
    assert info.value.field == "frames" and "'1001-'" in str(info.value)


def test_check_files_false_skips_disk_checks(tmp_path):
    data = shot_data(checkpoint="models/missing.pt", clicks=[{"label": "positive", "keys": {1001: [1e6, 1.0]}}])
    assert load_shot(data, tmp_path, check_files=False).frames == [1001, 1002, 1003]


def with_track(**changes):
    """A shot whose single click track is changed by `changes` (None removes a key)."""
    track = {"label": "positive", "keys": {1001: [1.0, 2.0]}} | changes
    return shot_data(clicks=[{k: v for k, v in track.items() if v is not None}])


INVALID = [
    # unknown keys, at every level
    (shot_data(bogus=1), "bogus", None),
    (with_track(colour="red"), "clicks[0].colour", None),
    (shot_data(options={"fast": True}), "options.fast", None),
    # missing and wrong types
    ({k: v for k, v in shot_data().items() if k != "input"}, "input", None),
    (with_track(keys=None), "clicks[0].keys", None),
    (with_track(label=None), "clicks[0].label", None),
    (shot_data(input=5), "input", None),
    (shot_data(output=""), "output", None),
    (shot_data(colorspace=3), "colorspace", None),
    (shot_data(checkpoint=["a.pt"]), "checkpoint", None),
    (shot_data(clicks={"label": "positive"}), "clicks", None),
    (shot_data(clicks=["positive"]), "clicks[0]", None),
    (shot_data(options=[1.0]), "options", None),
    (with_track(keys=[[1.0, 2.0]]), "clicks[0].keys", None),
    (with_track(keys={}), "clicks[0].keys", None),
    (with_track(keys={1001: [1.0]}), "clicks[0].keys.1001", None),
    (with_track(keys={1001: ["1", 2.0]}), "clicks[0].keys.1001", None),
    (with_track(keys={1001: [float("nan"), 2.0]}), "clicks[0].keys.1001", None),
    (with_track(keys={"abc": [1.0, 2.0]}), "clicks[0].keys.abc", None),
    (with_track(keys={1001: [1.0, 2.0], "1001": [1.0, 2.0]}), "clicks[0].keys.1001", None),
    (shot_data(options={"scale": "big"}), "options.scale", None),
    (shot_data(options={"scale": 0}), "options.scale", None),
    (shot_data(options={"scale": 1.5}), "options.scale", None),
    (shot_data(options={"candidates": "yes"}), "options.candidates", None),
    # bad values
    (with_track(label="maybe"), "clicks[0].label", None),
    (with_track(interpolation="cubic"), "clicks[0].interpolation", None),
    (shot_data(options={"matte": "hard"}), "options.matte", None),
    (shot_data(options={"edges": "crf"}), "options.edges", None),
    (shot_data(frames="1001-1003x"), "frames", None),
    (shot_data(frames=[1001]), "frames", None),
    (with_track(frames="last"), "clicks[0].frames", None),
    (shot_data(colorspace="no_such_space"), "colorspace", None),
    # output pattern
    (shot_data(output="plates/sh010.####.exr"), "output", 1001),
    (shot_data(output="./mattes/../plates/sh010.%04d.exr"), "output", 1001),
    (shot_data(output="mattes/sh010_matte.exr"), "output", None),
    # clicks per frame
    (with_track(frames="1001-1002"), "clicks", 1003),
    (shot_data(clicks=[{"label": "negative", "keys": {1001: [1.0, 2.0]}}]), "clicks", 1001),
    (shot_data(clicks=[]), "clicks", 1001),
    # files
    (shot_data(frames="1001-1005"), "input", 1004),
    (shot_data(checkpoint="models/missing.pt"), "checkpoint", None),
    (with_track(keys={1001: [1.0, 2.0], 1002: [WIDTH, 2.0]}), "clicks[0].keys.1002", 1002),
    (with_track(keys={1001: [1.0, -0.5]}), "clicks[0].keys.1001", 1001),
    (with_track(keys={1001: [1.0, 2.0], 1003: [1.0, HEIGHT + 4.0]}), "clicks[0].keys", 1002),
]


@pytest.mark.parametrize(("data", "field", "frame"), INVALID, ids=[f"{f}@{n}" for _, f, n in INVALID])
def test_invalid_shot_names_field_and_frame(shot_dir, data, field, frame):
    with pytest.raises(ShotError) as info:
        load_shot(copy.deepcopy(data), shot_dir)
    error = info.value
    assert (error.field, error.frame) == (field, frame)
    assert str(error).startswith(field)
    assert (f"frame {frame}" in str(error)) == (frame is not None)


def test_missing_input_names_the_file_and_count(shot_dir):
    with pytest.raises(ShotError, match=r"sh010\.1004\.exr \(2 of 5 frames missing\)"):
        load_shot(shot_data(frames="1001-1005"), shot_dir)


def test_unreadable_input_frame(shot_dir):
    (shot_dir / "plates/sh010.1002.exr").write_bytes(b"garbage")
    with pytest.raises(ShotError, match="sh010.1002.exr") as info:
        load_shot(shot_data(), shot_dir)
    assert (info.value.field, info.value.frame) == ("input", 1002)


def test_a_plate_of_another_size_is_refused_up_front_naming_it(shot_dir):
    # frame t is segmented with plate t-1 as context: every plate of a shot has the first one's size
    write_image(shot_dir / "plates/sh010.1003.exr", np.zeros((HEIGHT, 2, 3)), data_origin=(0, 0), display=(0, 0, 4, HEIGHT))
    with pytest.raises(ShotError, match=r"sh010\.1003\.exr is 4x6 but .*sh010\.1001\.exr is 8x6") as info:
        load_shot(with_track(keys={1001: [5.0, 2.0]}), shot_dir)
    assert (info.value.field, info.value.frame) == ("input", 1003)


def test_single_file_input_and_output(shot_dir):
    data = shot_data(input="plates/sh010.1001.exr", output="mattes/still.exr", frames=1001)
    shot = load_shot(data, shot_dir)
    assert shot.input_path(1001) == str(shot_dir / "plates/sh010.1001.exr")
    assert shot.output_path(1001) == str(shot_dir / "mattes/still.exr")


def test_shot_file_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [unclosed\n")
    with pytest.raises(ShotError, match="not valid YAML") as info:
        load_shot(bad)
    assert info.value.field == "" and str(bad) in str(info.value)
    bad.write_text("- just a list\n")
    with pytest.raises(ShotError, match="must be a mapping"):
        load_shot(bad)


def track(interpolation="linear", frames=None):
    return ClickTrack(True, {10: (0.0, 0.0), 20: (10.0, 20.0), 30: (10.0, 0.0)}, interpolation, frames)


@pytest.mark.parametrize(
    ("frame", "linear", "constant"),
    [
        (5, (0.0, 0.0), (0.0, 0.0)),  # before the first key: held
        (10, (0.0, 0.0), (0.0, 0.0)),
        (15, (5.0, 10.0), (0.0, 0.0)),
        (20, (10.0, 20.0), (10.0, 20.0)),
        (29, (10.0, 2.0), (10.0, 20.0)),
        (30, (10.0, 0.0), (10.0, 0.0)),
        (99, (10.0, 0.0), (10.0, 0.0)),  # after the last key: held
    ],
)
def test_click_interpolation(frame, linear, constant):
    assert track("linear").position_at(frame) == pytest.approx(linear)
    assert track("constant").position_at(frame) == pytest.approx(constant)


def test_click_frames_limit_where_a_track_counts(shot_dir):
    limited = track(frames=frozenset({10, 11}))
    assert limited.click_at(11) == Click(1.0, 2.0, True)
    assert limited.click_at(12) is None
    clicks = [
        {"label": "positive", "keys": {1001: [1.0, 1.0]}},
        {"label": "negative", "keys": {1001: [2.0, 2.0], 1003: [4.0, 4.0]}, "frames": "1002"},
    ]
    shot = load_shot(shot_data(clicks=clicks), shot_dir)
    assert shot.clicks_at(1001) == [Click(1.0, 1.0, True)]
    assert shot.clicks_at(1002) == [Click(1.0, 1.0, True), Click(3.0, 3.0, False)]
