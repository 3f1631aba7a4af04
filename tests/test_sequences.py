"""Frame specs and frame path patterns."""

from __future__ import annotations

import pytest

from hyperseg_vfx.sequences import format_frame_spec, frame_path, frames_on_disk, has_frame_token, parse_frame_spec


@pytest.mark.parametrize(
    ("spec", "frames"),
    [
        ("1001", [1001]),
        (1001, [1001]),
        (-3, [-3]),
        ("1001-1004", [1001, 1002, 1003, 1004]),
        ("1001-1008x3", [1001, 1004, 1007]),
        ("1001,1005,1010-1012", [1001, 1005, 1010, 1011, 1012]),
        ("1010-1012, 1001, 1011", [1001, 1010, 1011, 1012]),
        ("-5--3", [-5, -4, -3]),
        ("-2-1", [-2, -1, 0, 1]),
        ("7-7", [7]),
    ],
)
def test_parse_frame_spec(spec, frames):
    assert parse_frame_spec(spec) == frames


@pytest.mark.parametrize("spec", ["", "abc", "1001-", "-", "1001--", "1005-1001", "1001-1010x0", "1001x2", "1,,2", "1,", "1.5", "1001-1010x"])
def test_malformed_frame_spec_quotes_it(spec):
    with pytest.raises(ValueError, match=f"'{spec}'"):
        parse_frame_spec(spec)


@pytest.mark.parametrize("spec", [True, 1.0, None, [1001]])
def test_frame_spec_of_wrong_type(spec):
    with pytest.raises(ValueError, match="frame spec"):
        parse_frame_spec(spec)


@pytest.mark.parametrize(
    ("frames", "spec"),
    [([1001], "1001"), ([3, 1, 2, 2], "1-3"), ([1, 2, 4, 6, 7, 8], "1-2,4,6-8"), ([-5, -4, -1, 0, 1], "-5--4,-1-1")],
)
def test_format_frame_spec_is_the_compact_inverse(frames, spec):
    assert format_frame_spec(frames) == spec
    assert parse_frame_spec(spec) == sorted(set(frames))


def test_format_no_frames():
    with pytest.raises(ValueError):
        format_frame_spec([])


@pytest.mark.parametrize(
    ("pattern", "frame", "path"),
    [
        ("a.####.exr", 1001, "a.1001.exr"),
        ("a.####.exr", 7, "a.0007.exr"),
        ("a.####.exr", 123456, "a.123456.exr"),
        ("a.#.exr", 7, "a.7.exr"),
        ("a.######.exr", 7, "a.000007.exr"),
        ("a.@@@.exr", 7, "a.007.exr"),
        ("a.%04d.exr", 7, "a.0007.exr"),
        ("a.%d.exr", 7, "a.7.exr"),
        ("a.####.exr", -5, "a.-005.exr"),
        ("/shots/sh010/a_v2.exr", 1001, "/shots/sh010/a_v2.exr"),
    ],
)
def test_frame_path(pattern, frame, path):
    assert frame_path(pattern, frame) == path


def test_has_frame_token():
    assert all(map(has_frame_token, ["a.#.exr", "a.@@.exr", "a.%03d.exr", "a.%d.exr"]))
    assert not has_frame_token("a.exr") and not has_frame_token("100%.exr")


def test_two_frame_tokens_are_rejected():
    with pytest.raises(ValueError, match="2 frame tokens"):
        frame_path("v###/a.####.exr", 1)


def test_frames_on_disk(tmp_path):
    for name in ["a.1001.exr", "a.1003.exr", "a.-005.exr", "a.12345.exr", "a.101.exr", "a.1002.exr.tmp", "b.1002.exr", "a.x.exr"]:
        (tmp_path / name).touch()
    assert frames_on_disk(str(tmp_path / "a.####.exr")) == [-5, 1001, 1003, 12345]
    assert frames_on_disk(str(tmp_path / "a.%d.exr")) == [101, 1001, 1003, 12345]  # -005 is not %d of -5
    assert frames_on_disk(str(tmp_path / "c.####.exr")) == []
    with pytest.raises(ValueError, match="no frame token"):
        frames_on_disk(str(tmp_path / "a.1001.exr"))
