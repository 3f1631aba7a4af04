"""The HyperSeg node's option knobs for several objects (issue 27's node left-overs, issue 23's
edges): each object's own `matte` and `temporal_smoothing` (the knobs show the current object's,
kept with its clicks), `exclusive`, `output_per_object` and `edges`. What the node sends to a real
bridge (each POST body, and the shot file a body names, as it was when sent) and what the bridge
renders from it; and a node of one object with the new knobs at their defaults sends exactly what
it sent before them (tests/golden/nuke/one_object_requests.json, recorded from the node before
these knobs existed). Strict fake Nuke, real bridge, real EXRs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from fake_nuke.gizmo_parser import parse_gizmo
from test_nuke_comp import reopen, segment
from test_nuke_e2e import NEGATIVE, POSITIVE, click_comp, finish
from test_nuke_objects import PROP, two_objects
from test_objects import channels

from hyperseg_vfx.render import render_shot
from hyperseg_vfx.shot import ShotOptions, shot_from_dict

#: The new knobs at their defaults.
DEFAULTS = {"exclusive": False, "edges": "model", "output_per_object": ""}


def record_requests(monkeypatch) -> list:
    """Every POST the plugin's client sends: {"path", "body", "shot"} (shot: the shot file the
    body names, read when it was sent), passed on to the bridge unchanged."""
    from hyperseg_nuke.bridge_client import BridgeClient

    sent, send = [], BridgeClient._request

    def recording(self, method, path, body=None, timeout=None):
        if method == "POST":
            shot = body.get("shot_path") if body else None
            sent.append({"path": path, "body": body, "shot": json.loads(Path(shot).read_text()) if shot else None})
        return send(self, method, path, body, timeout)

    monkeypatch.setattr(BridgeClient, "_request", recording)
    return sent


def record_preview(monkeypatch) -> list:
    """The shot files Open preview writes, read when its contact sheet would be made (none is)."""
    from hyperseg_nuke import preview

    shots = []
    monkeypatch.setattr(preview, "write_contact_sheet", lambda shot, sheet: shots.append(
        json.loads(Path(shot).read_text())))
    monkeypatch.setattr(preview, "open_file", lambda path: None)
    return shots


def press_every_button(nuke, node, monkeypatch) -> None:
    """Segment frame, Segment range, Submit to farm (openjd), Open preview and Track clicks."""
    from hyperseg_nuke import callbacks, tracking

    monkeypatch.setenv("HYPERSEG_FARM", "openjd")
    nuke.frame(1003)
    for press in (callbacks.segment_frame, callbacks.segment_range, callbacks.submit_to_farm,
                  callbacks.open_preview, tracking.track_clicks):  # tracking last: no tracked keys sent
        finish(nuke, press(node))
        assert " failed" not in node["status"].value(), (press.__name__, node["status"].value())


def test_one_object_sends_what_it_sent_before_the_new_knobs(nuke, bridge, make_shot, monkeypatch, golden):
    folder = bridge.root / "options_one_object"
    _, node = click_comp(nuke, folder, make_shot)
    node["bridge_url"].setValue(bridge.url)
    for name, value in DEFAULTS.items():
        node[name].setValue(value)
    sent, previews = record_requests(monkeypatch), record_preview(monkeypatch)
    press_every_button(nuke, node, monkeypatch)

    text = json.dumps({"requests": sent, "preview": previews}, indent=1) + "\n"
    text = re.sub(r"_farm_\d{8}-\d{6}", "_farm_<TIME>", text)
    golden("nuke/one_object_requests.json", text, folder=folder, checkpoint=bridge.client.health()["checkpoint"])


def own_options(node) -> dict:
    """The option knobs that are the current object's own."""
    return {"matte": node["matte"].value(), "temporal_smoothing": node["temporal_smoothing"].value()}


def each_objects_options(data: dict, folder) -> dict:
    """name -> (matte, temporal_smoothing) of every object, as the shot-file reader takes them."""
    return {obj.name: (obj.options.matte, obj.options.temporal_smoothing)
            for obj in shot_from_dict(data, folder).objects}


def test_each_object_keeps_its_own_options_through_the_menu_save_and_paste(nuke, make_shot, tmp_path):
    from hyperseg_nuke import callbacks

    folder = tmp_path / "own_options"
    read, node = click_comp(nuke, folder, make_shot)
    nuke.artist_sets(node, "temporal_smoothing", True)  # the first object's, later named actor
    two_objects(nuke, node)
    actor, prop = {"matte": "soft", "temporal_smoothing": True}, {"matte": "binary", "temporal_smoothing": False}
    assert own_options(node) == actor  # a new object starts with the current one's options
    nuke.artist_sets(node, "matte", "binary")
    nuke.artist_sets(node, "temporal_smoothing", False)
    undo = nuke.Undo.undoSize()
    nuke.artist_sets(node, "object", "actor")
    assert own_options(node) == actor and nuke.Undo.undoSize() == undo + 2  # the menu, then the swap: one step
    pattern = str(folder / "own" / "{object}" / "m.####.exr")
    for name, value in {"exclusive": True, "edges": "graphcut", "output_per_object": pattern}.items():
        nuke.artist_sets(node, name, value)

    callbacks._prepare_shot(node)  # the node's id is claimed on first use
    shot = callbacks._prepare_shot(node).data
    assert shot["options"] == {"scale": 1.0, "matte": "soft", "candidates": True, "temporal_smoothing": True,
                               "exclusive": True, "edges": "graphcut"}  # the current object's and the node's
    assert "options" not in shot["objects"]["actor"]
    assert shot["objects"]["prop"]["options"] == {"matte": "binary", "temporal_smoothing": False}
    assert shot["output_per_object"] == pattern
    assert each_objects_options(shot, folder) == {"actor": ("soft", True), "prop": ("binary", False)}
    frame = callbacks._prepare_frame(node)  # Segment frame: no object is smoothed on one frame
    assert frame.values.frame_options()["temporal_smoothing"] is False
    assert frame.objects["prop"]["options"] == {"matte": "binary"} and "options" not in frame.objects["actor"]
    assert frame.output_per_object == pattern

    node = reopen(nuke, folder)
    assert own_options(node) == actor and node["object"].value() == "actor"
    assert (node["exclusive"].value(), node["edges"].value(), node["output_per_object"].value()) == (
        True, "graphcut", pattern)
    assert callbacks._prepare_shot(node).data == shot
    nuke.artist_sets(node, "object", "prop")
    assert own_options(node) == prop
    swapped = callbacks._prepare_shot(node).data  # prop current: the request's options are prop's
    assert swapped["options"]["matte"] == "binary" and swapped["objects"]["actor"]["options"] == {
        "matte": "soft", "temporal_smoothing": True} and "options" not in swapped["objects"]["prop"]
    assert each_objects_options(swapped, folder) == each_objects_options(shot, folder)
    assert callbacks._prepare_frame(node).objects["actor"]["options"] == {"matte": "soft"}  # not smoothed either

    node["selected"].setValue(True)
    nuke.nodeCopy("%clipboard%")
    copy = nuke.nodePaste("%clipboard%")
    copy.setInput(0, nuke.toNode(read.name()))
    assert own_options(copy) == prop
    nuke.artist_sets(copy, "object", "actor")
    assert own_options(copy) == actor


def test_a_node_without_several_objects_refuses_output_per_object(nuke, make_shot, tmp_path):
    from hyperseg_nuke import callbacks

    _, node = click_comp(nuke, tmp_path / "one", make_shot)
    node["output_per_object"].setValue(str(tmp_path / "one" / "{object}.####.exr"))
    assert callbacks.segment_range(node) is None
    assert "output per object needs several objects" in node["status"].value()
    two_objects(nuke, node)
    for bad, reason in (("own/{object}.####.exr", "absolute"), (str(tmp_path / "m.####.exr"), "{object}"),
                        (str(tmp_path / "{object}.exr"), "frame number")):
        node["output_per_object"].setValue(bad)
        assert callbacks.segment_frame(node) is None and reason in node["status"].value(), node["status"].value()


def reference_layers(folder, make_segmenter, edges: str) -> dict:
    """`render` of the two objects at frame 1003 (the actor soft, the prop binary, exclusive) with
    `edges`: channel name -> plane of the layered EXR."""
    actor = [{"label": "positive", "keys": {f: list(p) for f, p in POSITIVE.items()}},
             {"label": "negative", "keys": {1001: list(NEGATIVE)}}]
    prop = [{"label": "positive", "keys": {1001: list(PROP["pos1"])}},
            {"label": "negative", "keys": {1001: list(PROP["neg1"])}}]
    data = {"input": str(folder / "plates" / "plate.####.exr"), "frames": 1003,
            "output": str(folder / f"ref_{edges}" / "m.####.exr"),
            "objects": {"actor": {"clicks": actor}, "prop": {"clicks": prop, "options": {"matte": "binary"}}},
            "options": {"exclusive": True, "edges": edges}}
    assert render_shot(shot_from_dict(data, folder), make_segmenter()).ok
    return channels(folder / f"ref_{edges}" / "m.1003.exr")


def test_the_bridge_renders_each_objects_options_exclusive_edges_and_their_files(
        nuke, bridge, make_shot, make_segmenter, monkeypatch):
    from hyperseg_nuke import callbacks, tracking

    folder = bridge.root / "options_objects"
    _, node = click_comp(nuke, folder, make_shot)
    node["bridge_url"].setValue(bridge.url)
    two_objects(nuke, node)
    nuke.artist_sets(node, "matte", "binary")  # the prop's own
    nuke.artist_sets(node, "object", "actor")
    pattern = str(folder / "own" / "{object}" / "m.####.exr")
    for name, value in {"exclusive": True, "edges": "graphcut", "output_per_object": pattern}.items():
        nuke.artist_sets(node, name, value)
    sent = record_requests(monkeypatch)
    graphcut, plain = reference_layers(folder, make_segmenter, "graphcut"), reference_layers(folder, make_segmenter, "none")
    assert np.abs(graphcut["actor.A"] - plain["actor.A"]).max() > 0.1  # the edge stage changes the tiny model's matte

    segment(nuke, node)  # Segment frame 1003
    body = sent[-1]["body"]
    assert (body["options"]["exclusive"], body["options"]["edges"], body["output_per_object"]) == (
        True, "graphcut", pattern)
    assert body["objects"]["prop"]["options"] == {"matte": "binary"} and "options" not in body["objects"]["actor"]
    stream = node.channels_at(1003)
    actor, prop = stream["actor.alpha"].astype(np.float64), stream["prop.alpha"].astype(np.float64)
    assert set(np.unique(prop)) == {0.0, 1.0} and (actor + prop).max() <= 1.0  # binary; never overlapping
    for name in ("actor", "prop"):
        np.testing.assert_allclose(stream[f"{name}.alpha"], graphcut[f"{name}.A"], atol=1e-3)
        np.testing.assert_allclose(channels(folder / "own" / name / "m.1003.exr")["A"], graphcut[f"{name}.A"],
                                   atol=1e-3)  # each object's own file: its layer
    nuke.artist_sets(node, "edges", "none")
    segment(nuke, node)
    assert sent[-1]["body"]["options"]["edges"] == "none"
    np.testing.assert_allclose(node.channels_at(1003)["actor.alpha"], plain["actor.A"], atol=1e-3)
    nuke.artist_sets(node, "edges", "graphcut")

    # Segment range, Submit to farm and Track clicks: their shot files carry every option
    monkeypatch.setenv("HYPERSEG_FARM", "openjd")
    for press in (callbacks.segment_range, callbacks.submit_to_farm, tracking.track_clicks):
        finish(nuke, press(node))
        assert " failed" not in node["status"].value(), node["status"].value()
    assert [request["path"] for request in sent[-3:]] == ["/v1/jobs", "/v1/submit", "/v1/track"]
    for request in sent[-3:]:
        assert each_objects_options(request["shot"], folder) == {"actor": ("soft", False), "prop": ("binary", False)}
        shot = shot_from_dict(request["shot"], folder)
        assert (shot.options.exclusive, shot.options.edges, shot.output_per_object) == (True, "graphcut", pattern)
    for frame in range(1001, 1007):
        layers = node.channels_at(frame)
        assert (layers["actor.alpha"].astype(np.float64) + layers["prop.alpha"]).max() <= 1.0
        assert all((folder / "own" / name / f"m.{frame}.exr").is_file() for name in ("actor", "prop"))
    assert node["object"].value() == "actor" and own_options(node)["matte"] == "soft"
    nuke.artist_sets(node, "object", "prop")  # tracking kept the prop's option with its keys
    assert own_options(node)["matte"] == "binary" and len(node["pos1"].animation(0).keys()) == 6


def test_the_plugins_object_options_are_the_shot_files(nuke):
    from hyperseg_nuke import knobs

    from hyperseg_vfx.objects import OBJECT_OPTION_KEYS
    from hyperseg_vfx.shot import EDGES

    assert knobs.OBJECT_OPTION_KEYS == OBJECT_OPTION_KEYS and set(knobs.OBJECT_OPTION_KNOBS) <= set(OBJECT_OPTION_KEYS)
    assert knobs.DEFAULT_EDGES == ShotOptions().edges
    gizmo = parse_gizmo((Path(__file__).resolve().parents[1] / "gizmos" / "HyperSeg.gizmo").read_text())
    assert gizmo.top.user_knob("edges").items == list(EDGES)
