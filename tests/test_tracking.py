"""Click tracking (hyperseg_vfx.tracking): real plates with known motion, the bundled model for the
mattes the clicks are checked against, DIS flow from OpenCV.

The plates: a disc textured with a photograph (the texture moves with it) translating by a known
whole number of pixels per frame over another, static photograph, written as 8-bit PNGs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from skimage import data as photos

from hyperseg_vfx.cli import main
from hyperseg_vfx.render import DEFAULT_CHECKPOINT, read_plate, render_segmenter, segment_shot_frame
from hyperseg_vfx.shot import ClickTrack, ShotError, TrackMarks, load_shot, save_shot, shot_from_dict
from hyperseg_vfx.tracking import track_shot
from hyperseg_vfx.tracking.check import MARGIN, check_clicks
from hyperseg_vfx.motion import carry_point, dis_flow

from image_files import write_image

pytestmark = pytest.mark.skipif(not DEFAULT_CHECKPOINT.is_file(), reason="no bundled model in this checkout")

WIDTH, HEIGHT, RADIUS = 192, 144, 26
START, STEP = np.array([60.0, 55.0]), np.array([3.0, 2.0])  # disc centre on the first frame; px per frame
FIRST = 1001


def disc_centre(frame: int) -> np.ndarray:
    return START + STEP * (frame - FIRST)


def disc_matte(frame: int) -> np.ndarray:
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH] + 0.5
    cx, cy = disc_centre(frame)
    return np.hypot(xs - cx, ys - cy) <= RADIUS


def disc_plate(frame: int) -> np.ndarray:
    """(H, W, 3) in [0, 1]: the astronaut photograph inside the disc (moving with it) over the
    static camera photograph."""
    background = np.repeat(photos.camera()[::2, ::2][:HEIGHT, :WIDTH, None] / 255.0, 3, axis=2)
    shift = (STEP * (frame - FIRST)).astype(int)
    texture = photos.astronaut()[100:100 + HEIGHT, 150:150 + WIDTH] / 255.0
    texture = np.roll(texture, (shift[1], shift[0]), axis=(0, 1))
    inside = disc_matte(frame)[..., None]
    return np.where(inside, texture, background).astype(np.float32)


@pytest.fixture(scope="module")
def segmenter():
    return render_segmenter(DEFAULT_CHECKPOINT, "cpu")


@pytest.fixture
def disc_shot(tmp_path):
    """disc_shot(keys, frames="1001-1009", negative_keys=None) -> path of a shot file on the disc
    plates: one positive click with `keys` {frame: (x, y)}, optionally a negative one."""

    def make(keys, frames: str = "1001-1009", negative_keys=None) -> Path:
        first, last = (int(v) for v in frames.split("-"))
        (tmp_path / "plates").mkdir(exist_ok=True)
        for frame in range(first, last + 1):
            write_image(tmp_path / "plates" / f"disc.{frame:04d}.png", disc_plate(frame), fmt="uint8")
        clicks = [{"label": "positive", "keys": {f: [float(x), float(y)] for f, (x, y) in keys.items()}}]
        if negative_keys:
            clicks.append({"label": "negative", "keys": {f: [float(x), float(y)] for f, (x, y) in negative_keys.items()}})
        path = tmp_path / "disc.yaml"
        path.write_text(yaml.safe_dump({"input": "plates/disc.####.png", "frames": frames,
                                        "output": "mattes/disc.####.exr", "clicks": clicks}))
        return path

    return make


def test_dis_flow_carries_a_point_of_a_translated_plate_within_1px():
    a, b = disc_plate(FIRST), disc_plate(FIRST + 2)
    flow = dis_flow(a, b)
    for offset in ((0, 0), (-10, 5), (8, -9)):
        start = disc_centre(FIRST) + offset
        moved = np.array(carry_point(flow, *start))
        assert np.hypot(*(moved - (start + 2 * STEP))) < 1.0, (offset, moved)


def test_a_click_tracked_both_ways_from_a_middle_keyframe_follows_the_object_within_1px(disc_shot, segmenter):
    middle = 1005
    shot = load_shot(disc_shot({middle: disc_centre(middle)}))
    result = track_shot(shot, segmenter)
    assert result.keyframes == [middle] and not result.drops
    track = result.shot.clicks[0]
    assert sorted(track.keys) == list(range(1001, 1010))
    assert track.tracked.keys == frozenset(range(1001, 1010)) - {middle}
    assert track.keys[middle] == tuple(disc_centre(middle))  # the artist key, as it was
    for frame in range(1001, 1010):
        error = np.hypot(*(np.array(track.keys[frame]) - disc_centre(frame)))
        assert error < 1.0, (frame, track.keys[frame], disc_centre(frame))
    # the mattes at both ends, from the tracked clicks, cover the disc
    tracked = [segment_shot_frame(result.shot, segmenter, f).alpha > 0.5 for f in (1001, 1009)]
    ious = lambda masks: [np.sum(m & disc_matte(f)) / np.sum(m | disc_matte(f)) for m, f in zip(masks, (1001, 1009))]  # noqa: E731
    assert min(ious(tracked)) > 0.8, ious(tracked)


class GlitchingFlow:
    """DIS flow, except that from the plate `source_rgb` on, the flow around `at` points `by` px further
    in x: a tracking error the check has to catch (the mattes it warps come from the true flow
    backwards)."""

    def __init__(self, source_rgb: np.ndarray, at, by: float):
        self.source_rgb, self.at, self.by = source_rgb, np.asarray(at), by

    def __call__(self, src, dst):
        flow = dis_flow(src, dst)
        if np.array_equal(src, self.source_rgb):
            ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH] + 0.5
            flow[np.hypot(xs - self.at[0], ys - self.at[1]) < 4, 0] += self.by
        return flow


@pytest.mark.parametrize("by, outcome", [(12.0, "moved"), (70.0, "dropped")])
def test_a_positive_that_leaves_the_object_is_moved_back_inside_or_dropped_and_recorded(
        disc_shot, segmenter, tmp_path, by, outcome):
    edge = disc_centre(FIRST) + (RADIUS - 6, 0)  # a second positive 6 px inside the disc's right edge
    path = disc_shot({FIRST: disc_centre(FIRST)}, frames="1001-1004")
    data = yaml.safe_load(path.read_text())
    data["clicks"].append({"label": "positive", "keys": {FIRST: [float(edge[0]), float(edge[1])]}})
    path.write_text(yaml.safe_dump(data))
    shot = load_shot(path)
    glitch = GlitchingFlow(read_plate(shot.input_path(FIRST)).rgb, edge, by)
    result = track_shot(shot, segmenter, flow=glitch)
    track = result.shot.clicks[1]
    if outcome == "moved":
        assert result.moves[0] == (1, 1002) and not result.drops
        x, y = track.keys[1002]
        assert disc_matte(1002)[int(y), int(x)]  # back on the object
        assert 1002 in track.tracked.moved
    else:
        assert result.drops == [(1, 1002, "left_object")]
        assert track.tracked.dropped == {"left_object": frozenset({1002, 1003, 1004})}
        assert len(result.shot.clicks_at(1002)) == 1  # the render leaves it out
        saved = tmp_path / "tracked.yaml"
        save_shot(result.shot, saved)
        assert "left_object: 1002-1004" in saved.read_text()  # the shot file says so
    assert not result.shot.clicks[0].tracked.dropped  # the centre click is fine


def test_check_clicks_against_a_hand_made_object():
    mask = np.zeros((40, 60), dtype=bool)
    mask[10:30, 10:30] = True
    # (x, y, positive, was on the object before being carried)
    verdicts = check_clicks(mask, [(20.5, 20.5, True, True), (33.5, 20.5, True, True), (55.5, 20.5, True, True),
                                   (20.5, 20.5, False, False), (50.5, 5.5, False, False), (70.0, 5.0, True, True),
                                   (11.5, 20.5, False, False)],
                            max_move=8.0)
    assert [v.outcome for v in verdicts] == ["kept", "moved", "left_object", "on_object", "kept", "left_frame", "moved"]
    moved = verdicts[1]
    assert (moved.x, moved.y) == (30 - MARGIN - 0.5, 20.5)  # the nearest pixel MARGIN px inside the edge
    pushed_out = verdicts[6]  # a negative the object came over, 2 px inside its edge: back out
    assert (pushed_out.x, pushed_out.y) == (10 - MARGIN - 0.5, 20.5)  # the nearest pixel MARGIN px outside
    # clicks already on the matte's wrong side are the artist's corrections of it: kept as they are
    corrections = check_clicks(mask, [(55.5, 20.5, True, False), (15.5, 15.5, False, True), (20.5, 20.5, True, True)],
                               max_move=8.0)
    assert [v.outcome for v in corrections] == ["kept", "kept", "kept"]
    # the last positive is never dropped for leaving the object: kept, marked unverified
    assert [v.outcome for v in check_clicks(mask, [(55.5, 20.5, True, True)], max_move=8.0)] == ["unverified"]


def test_a_correction_changes_only_the_frames_between_its_neighbouring_keyframes(disc_shot, segmenter, tmp_path):
    keys = {f: disc_centre(f) for f in (1003, 1009)}
    corner = {1003: (180.5, 130.5), 1009: (180.5, 130.5)}
    shot = load_shot(disc_shot(keys, frames="1001-1012", negative_keys=corner))
    first = track_shot(shot, segmenter).shot
    # the artist moves the positive on 1006 (a key not marked tracked any more) and tracks again
    positive = first.clicks[0]
    moved = dict(positive.keys) | {1006: (float(disc_centre(1006)[0]) + 8.0, float(disc_centre(1006)[1]) - 6.0)}
    marks = dataclasses.replace(positive.tracked, keys=positive.tracked.keys - {1006})
    corrected = dataclasses.replace(first, clicks=[dataclasses.replace(positive, keys=moved, tracked=marks),
                                                   first.clicks[1]])
    second = track_shot(corrected, segmenter).shot
    assert second.clicks[0].keys[1006] == moved[1006]
    changed = {f for f in range(1001, 1013)
               if any(a.keys[f] != b.keys[f] for a, b in zip(first.clicks, second.clicks))}
    assert changed and changed <= set(range(1004, 1009)), changed
    assert {1005, 1007} <= changed  # carried from the new keyframe
    for frame in (1001, 1002, 1003, 1009, 1010, 1011, 1012):
        before, after = (segment_shot_frame(s, segmenter, frame).alpha for s in (first, second))
        assert np.array_equal(before, after), f"the matte of frame {frame} changed"
    assert second.clicks[0].tracked.keys == frozenset(range(1001, 1013)) - {1003, 1006, 1009}


def test_tracking_a_tracked_shot_replaces_only_the_tracked_keys(disc_shot, segmenter, tmp_path):
    shot = load_shot(disc_shot({1005: disc_centre(1005)}, frames="1003-1007"))
    once = track_shot(shot, segmenter).shot
    path = tmp_path / "once.yaml"
    save_shot(once, path)
    twice = track_shot(load_shot(path), segmenter).shot
    assert twice.clicks[0].keys == once.clicks[0].keys and twice.clicks[0].tracked == once.clicks[0].tracked


def test_track_command_exits_2_naming_missing_plates_or_no_artist_keys(disc_shot, tmp_path):
    path = disc_shot({1005: disc_centre(1005)})
    (tmp_path / "plates" / "disc.1007.png").unlink()
    (tmp_path / "plates" / "disc.1008.png").unlink()
    out = tmp_path / "tracked.yaml"
    result = CliRunner().invoke(main, ["track", str(path), "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 2 and "1007-1008" in result.output and "disc.1007.png" in result.output, result.output
    assert not out.exists()

    data = yaml.safe_load(path.read_text())
    data["clicks"][0]["tracked"] = {"keys": "1005"}  # every key tracked: nothing to track from
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(main, ["track", str(path), "--out", str(out), "--frames", "1001-1006"])
    assert result.exit_code == 2 and "clicks[0]" in result.output and "no artist key" in result.output, result.output
    assert not out.exists()


def test_track_command_writes_a_shot_with_a_key_on_every_frame(disc_shot, tmp_path):
    path = disc_shot({1001: disc_centre(1001)}, frames="1001-1004")
    out = tmp_path / "tracked.yaml"
    result = CliRunner().invoke(main, ["track", str(path), "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    tracked = load_shot(out)
    assert sorted(tracked.clicks[0].keys) == [1001, 1002, 1003, 1004]
    assert tracked.clicks[0].tracked.keys == frozenset({1002, 1003, 1004})
    assert tracked.input == load_shot(path).input
    # its own mattes: rendering the tracked shot keeps the untracked ones
    assert tracked.output == str(tmp_path / "mattes" / "disc_tracked.####.exr")
    assert f"(mattes: {tracked.output})" in result.output
    written = yaml.safe_load(out.read_text())["clicks"][0]["keys"]
    assert all(v == round(v, 3) and len(repr(v)) <= 12 for f in (1002, 1003, 1004) for v in written[f]), written
    told = CliRunner().invoke(main, ["track", str(path), "--out", str(tmp_path / "t2.yaml"), "--device", "cpu",
                                     "--output", str(tmp_path / "elsewhere" / "m.####.exr")])
    assert told.exit_code == 0, told.output
    assert load_shot(tmp_path / "t2.yaml").output == str(tmp_path / "elsewhere" / "m.####.exr")
    again = CliRunner().invoke(main, ["track", str(out), "--out", str(tmp_path / "t3.yaml"), "--device", "cpu"])
    assert again.exit_code == 0, again.output  # re-tracking a tracked shot keeps its mattes' names
    assert load_shot(tmp_path / "t3.yaml").output == tracked.output


def test_shot_tracked_marks_are_checked_and_round_trip(tmp_path):
    click = {"label": "positive", "keys": {1: [1.0, 1.0], 2: [2.0, 2.0], 3: [3.0, 3.0]},
             "tracked": {"keys": "2-3", "dropped": {"left_object": 3}, "moved": 2}}
    data = {"input": "p.####.exr", "frames": "1-3", "output": "m.####.exr",
            "clicks": [click, {"label": "positive", "keys": {1: [5.0, 5.0]}}]}
    shot = shot_from_dict(data, tmp_path)
    assert shot.clicks[0].tracked == TrackMarks(frozenset({2, 3}), {"left_object": frozenset({3})}, frozenset({2}))
    assert [len(shot.clicks_at(f)) for f in (1, 2, 3)] == [2, 2, 1]
    assert shot_from_dict(shot.to_dict(), tmp_path) == shot
    for bad, field in (({"keys": "4"}, "clicks[0].tracked.keys"), ({"dropped": {"bored": 2}}, "clicks[0].tracked.dropped.bored"),
                       ({"colour": 1}, "clicks[0].tracked.colour")):
        with pytest.raises(ShotError) as error:
            shot_from_dict({**data, "clicks": [{**click, "tracked": bad}]}, tmp_path)
        assert error.value.field == field
    assert ClickTrack(True, {1: (0.0, 0.0)}).tracked is None


def test_plates_too_small_for_flow_are_a_clear_error():
    from hyperseg_vfx.motion import FlowError

    with pytest.raises(FlowError, match="8x8 plates"):
        dis_flow(np.zeros((8, 8, 3), np.float32), np.zeros((8, 8, 3), np.float32))


def test_track_follows_each_objects_clicks(disc_shot, segmenter, tmp_path):
    """A shot with `objects:`: the disc's click follows the disc, the backdrop's (on the static
    photograph) stays put, and each object's tracked clicks are what tracking it alone gives."""
    path = disc_shot({1001: disc_centre(1001)}, frames="1001-1004")
    data = yaml.safe_load(path.read_text())
    backdrop = [{"label": "positive", "keys": {1001: [170.0, 125.0]}},
                {"label": "negative", "keys": {1001: [float(v) for v in disc_centre(1001)]}}]
    data["objects"] = {"disc": {"clicks": data.pop("clicks")}, "backdrop": {"clicks": backdrop}}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "tracked.yaml"
    result = CliRunner().invoke(main, ["track", str(path), "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "3 clicks over 4 frames" in result.output
    tracked = {obj.name: obj.clicks for obj in load_shot(out).objects}
    assert list(tracked) == ["disc", "backdrop"]
    for frame in range(1001, 1005):
        assert np.hypot(*(np.array(tracked["disc"][0].keys[frame]) - disc_centre(frame))) < 1.0
        assert np.hypot(*(np.array(tracked["backdrop"][0].keys[frame]) - (170.0, 125.0))) < 1.0
    alone = dict(data, clicks=data["objects"]["disc"]["clicks"])
    del alone["objects"]
    (tmp_path / "alone.yaml").write_text(yaml.safe_dump(alone))
    assert track_shot(load_shot(tmp_path / "alone.yaml"), segmenter).shot.clicks == tracked["disc"]


def test_objects_share_the_flows_and_the_features_of_each_frame(disc_shot, tmp_path, monkeypatch):
    """Tracking two objects computes each pair of plates' flows once (as tracking one object
    does) and each frame's features once, even with the renderer's segmenter (no feature cache
    of its own); the tracked clicks are the same as tracking each object alone."""
    path = disc_shot({1001: disc_centre(1001)}, frames="1001-1004")
    data = yaml.safe_load(path.read_text())
    backdrop = [{"label": "positive", "keys": {1001: [170.0, 125.0]}}]
    data["objects"] = {"disc": {"clicks": data.pop("clicks")}, "backdrop": {"clicks": backdrop}}
    (tmp_path / "two.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    shot = load_shot(tmp_path / "two.yaml")
    flows, features = [], []

    def counting_flow(source, destination):
        flows.append(1)
        return dis_flow(source, destination)

    renderer = render_segmenter(DEFAULT_CHECKPOINT, "cpu")
    project_frame = renderer.model.project_frame
    monkeypatch.setattr(renderer.model, "project_frame", lambda *a, **k: features.append(1) or project_frame(*a, **k))
    shared = track_shot(shot, renderer, flow=counting_flow)
    assert len(flows) == 2 * 3  # both directions between the 4 frames' neighbours, once for both objects
    assert len(features) == 4  # one feature pass per frame, served to the second object
    monkeypatch.undo()
    apart = [track_shot(dataclasses.replace(shot, objects=(obj,)), renderer) for obj in shot.objects]
    assert [o.clicks for o in shared.shot.objects] == [a.shot.objects[0].clicks for a in apart]
