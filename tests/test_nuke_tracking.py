"""Track clicks in the Nuke plugin: the fake Nuke, a real bridge and the tiny model. The button
keys the XY knobs on every frame with the positions of the tracked shot, remembers the artist's
keys in the hidden artist_keys knob, and a moved key counts as a correction on the next press."""

from __future__ import annotations

import json

from test_nuke_e2e import HEIGHT, POSITIVE, click_comp, finish, nuke_point

from hyperseg_vfx.shot import load_shot


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
    from hyperseg_nuke import tracking

    memory = {"pos1": {"artist": [1], "tracked": {"2": [5.0, 5.0], "3": [6.0, 6.0]}}}
    tracks = [{"label": "positive", "keys": {1: [1.0, 1.0], 2: [5.0, 5.0], 3: [9.0, 6.0], 4: [7.0, 7.0]}}]
    marked = tracking.mark_tracked(tracks, ["pos1"], memory)
    assert marked[0]["tracked"] == {"keys": "2"}  # 3 was moved, 4 is new, 1 is listed
    assert tracking.mark_tracked(tracks, ["pos1"], {})[0].get("tracked") is None  # no memory: all the artist's
    assert tracking.read_memory("not json") == {} and tracking.read_memory("") == {}
    assert tracking._frames("-3--1,5") == [-3, -2, -1, 5]
