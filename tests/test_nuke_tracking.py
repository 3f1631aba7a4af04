"""Track clicks in the Nuke plugin: the fake Nuke, a real bridge and the tiny model. The button
keys the XY knobs on every frame with the positions of the tracked shot, remembers the artist's
keys in the hidden artist_keys knob, and a moved key counts as a correction on the next press."""

from __future__ import annotations

import json

import numpy as np
from test_nuke_e2e import HEIGHT, NEGATIVE, POSITIVE, alpha, click_comp, finish, matte_file, nuke_point

from hyperseg_vfx.render import render_shot
from hyperseg_vfx.shot import load_shot, shot_from_dict


def test_track_clicks_keys_every_frame_and_keeps_the_artist_keys_known(nuke, bridge, make_shot):
    from hyperseg_nuke import tracking

    folder = bridge.root / "nuke_track"
    _, node = click_comp(nuke, folder, make_shot)
    node["bridge_url"].setValue(bridge.url)
    finish(nuke, tracking.track_clicks(node))
    assert "tracked 2 clicks over frames 1001-1006" in node["status"].value(), node["status"].value()
    tracked_file = folder / "comp_HyperSeg1_tracked.json"
    tracked = load_shot(tracked_file)
    for name, track in zip(("pos1", "neg1"), tracked.clicks):
        assert node[name].getKeyList() == [float(f) for f in range(1001, 1007)]
        for frame in range(1001, 1007):
            x, y = track.keys[frame]
            assert node[name].getValueAt(frame) == [x, HEIGHT - y]
    memory = json.loads(node["artist_keys"].value())
    assert memory["pos1"]["artist"] == [1001, 1005] and memory["neg1"]["artist"] == [1001]
    assert node["pos1"].getValueAt(1005) == list(nuke_point(POSITIVE[1005]))  # artist keys win

    # the artist moves pos1 on 1003: a correction, kept, the artist's on the next press
    moved = [30.0, 40.0]
    node["pos1"].setValueAt(moved[0], 1003, 0)
    node["pos1"].setValueAt(moved[1], 1003, 1)
    finish(nuke, tracking.track_clicks(node))
    memory = json.loads(node["artist_keys"].value())
    assert memory["pos1"]["artist"] == [1001, 1003, 1005]
    assert node["pos1"].getValueAt(1003) == moved
    again = load_shot(tracked_file).clicks[0]
    assert again.tracked.keys == frozenset({1002, 1004, 1006})


def test_marking_tracked_keys_from_the_memory():
    from hyperseg_nuke import track_memory

    memory = {"pos1": {"artist": [1], "tracked": {"2": [5.0, 5.0], "3": [6.0, 6.0], "5": [8.0, 8.0], "6": [9.0, 9.0]},
                       "dropped": {"3": "on_object", "5": "left_object", "6": "left_object"}}}
    tracks = [{"label": "positive", "keys": {1: [1.0, 1.0], 2: [5.0, 5.0], 3: [9.0, 6.0], 4: [7.0, 7.0],
                                             5: [8.0, 8.0], 6: [9.0, 9.0]}}]
    marked = track_memory.mark_tracked(tracks, ["pos1"], memory)
    # 3 was moved (a correction: no longer dropped), 4 is new, 1 is listed
    assert marked[0]["tracked"] == {"keys": "2,5-6", "dropped": {"left_object": "5-6"}}
    assert track_memory.mark_tracked(tracks, ["pos1"], {})[0].get("tracked") is None  # no memory: all the artist's
    assert track_memory.read_memory("not json") == {} and track_memory.read_memory("") == {}
    assert track_memory.spec_frames("-3--1,5") == [-3, -2, -1, 5]
    assert track_memory.frame_spec([5, 1, 2, 3, 7]) == "1-3,5,7"


def _tracked_shot_with_a_drop():
    """A tracked shot as /v1/track writes it: pos1 keyed by the artist on 1001 and 1005, tracked
    (here: held) elsewhere; neg1 keyed on 1001, tracked on 1002-1006 and dropped on 1004-1006
    (the object came over it)."""
    pos = {f: list(POSITIVE[1001] if f < 1005 else POSITIVE[1005]) for f in range(1001, 1007)}
    pos.update({f: list(p) for f, p in POSITIVE.items()})
    neg = {f: list(NEGATIVE) for f in range(1001, 1007)}
    return {"clicks": [
        {"label": "positive", "keys": {str(f): p for f, p in pos.items()}, "tracked": {"keys": "1002-1004,1006"}},
        {"label": "negative", "keys": {str(f): p for f, p in neg.items()},
         "tracked": {"keys": "1002-1006", "dropped": {"on_object": "1004-1006"}}},
    ]}


def test_a_dropped_click_stays_dropped_in_live_clicks_and_segment_range(nuke, bridge, make_shot, make_segmenter):
    """After Track clicks dropped neg1 on 1004-1006, the knob keeps a position there, but live
    clicks (Segment frame) and Segment range leave it out as the tracked shot file does; moving it
    on a frame is a correction that brings it back there."""
    from hyperseg_nuke import callbacks, tracking

    folder = bridge.root / "nuke_drop"
    _, node = click_comp(nuke, folder, make_shot)
    node["bridge_url"].setValue(bridge.url)
    tracking._show(node, tracking._prepare(node), _tracked_shot_with_a_drop())
    assert "dropped where they left the object or frame: neg1 on 1004-1006" in node["status"].value()
    assert node["neg1"].getKeyList() == [float(f) for f in range(1001, 1007)]  # the knob still has a key there

    nuke.frame(1005)
    nuke.artist_sets(node, "live", True)
    nuke.artist_sets(node, "pos1", list(nuke_point(POSITIVE[1005])))  # a live click change on a dropped frame
    nuke.pump(lambda: node["status"].value().startswith("frame 1005: "), timeout=120)
    expected = _alpha_with_clicks(folder, make_segmenter, 1005, [("positive", POSITIVE[1005])])
    np.testing.assert_array_equal(alpha(matte_file(folder, 1005)), expected)
    node["live"].setValue(False)

    finish(nuke, callbacks.segment_range(node))
    shot = load_shot(folder / "comp_HyperSeg1.json")
    assert shot.clicks[1].tracked.dropped == {"on_object": frozenset({1004, 1005, 1006})}
    assert [len(shot.clicks_at(f)) for f in range(1001, 1007)] == [2, 2, 2, 1, 1, 1]
    np.testing.assert_array_equal(alpha(matte_file(folder, 1005)), expected)

    node["neg1"].setValueAt(NEGATIVE[0] + 2, 1005, 0)  # the artist moves neg1 on 1005: a correction
    plan = callbacks._prepare_shot(node)
    assert plan.data["clicks"][1]["tracked"] == {"keys": "1002-1004,1006", "dropped": {"on_object": "1004,1006"}}


def _alpha_with_clicks(folder, make_segmenter, frame: int, clicks) -> np.ndarray:
    """`render` of the comp's plates at `frame` with these (label, top-left point) clicks."""
    data = {"input": str(folder / "plates" / "plate.####.exr"), "frames": frame,
            "output": str(folder / "reference" / "ref.####.exr"),
            "clicks": [{"label": label, "keys": {frame: list(point)}} for label, point in clicks]}
    assert render_shot(shot_from_dict(data, folder), make_segmenter()).ok
    return alpha(folder / "reference" / f"ref.{frame}.exr")
