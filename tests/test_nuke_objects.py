"""Several objects in one HyperSeg node (issue 27, the node): the object menu (add, rename,
remove, pick), each object's clicks kept through save/reopen and copy/paste, the node's buttons
sending every object to a real bridge, and one layer <name>.alpha per object in the node's
output (the alpha their union). Strict fake Nuke (tests/fake_nuke), real bridge, real EXRs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fake_nuke.comp import make_comp, set_click
from test_nuke_comp import reopen, segment
from test_nuke_e2e import HEIGHT, NEGATIVE, POSITIVE, alpha, click_comp, finish, nuke_point

from hyperseg_vfx.objects import check_layer_name
from hyperseg_vfx.render import render_shot
from hyperseg_vfx.shot import load_shot, shot_from_dict

#: The second object's clicks (top-left pixels): positive on the background, negative on the object.
PROP = {"pos1": (80.0, 50.0), "neg1": (44.0, 28.0)}


def add_object(nuke, node, name: str) -> None:
    """The artist presses `add object` and types `name`."""
    from hyperseg_nuke import callbacks

    nuke.inputs.append(name)
    callbacks.add_object(node)


def two_objects(nuke, node) -> None:
    """The node's first object renamed `actor` (its clicks as set), a second one `prop` with PROP."""
    from hyperseg_nuke import callbacks

    nuke.inputs.append("actor")
    callbacks.rename_object(node)
    add_object(nuke, node, "prop")
    for name, point in PROP.items():
        set_click(node, name, {1001: nuke_point(point)})


def clicks_state(node) -> dict:
    """What the click knobs hold, as the script writes them."""
    return {name: node[name].toScript() for name in ("pos1", "pos2", "neg1")} | {
        name + "_on": node[name + "_on"].value() for name in ("pos1", "pos2", "neg1")}


def test_the_object_menu_keeps_each_objects_clicks(nuke, make_shot, tmp_path):
    from hyperseg_nuke import callbacks

    folder = tmp_path / "objects_menu"
    read, node = click_comp(nuke, folder, make_shot)
    actor = clicks_state(node)
    assert node["object"].values() == ["object1"] and node["objects"].value() == ""  # one object: as before
    two_objects(nuke, node)
    prop = clicks_state(node)
    assert node["object"].values() == ["actor", "prop"] and node["object"].value() == "prop"
    assert prop != actor and node["pos1"].getValueAt(1001) == list(nuke_point(PROP["pos1"]))

    nuke.artist_sets(node, "object", "actor")  # the menu: the Viewer's handles show the actor's clicks
    assert clicks_state(node) == actor and node["neg1"].visible() and not node["pos2"].visible()
    callbacks._prepare_shot(node)  # the node's id is claimed on first use (one undo step)
    undo = nuke.Undo.undoSize()
    exported = callbacks._prepare_shot(node).data
    assert "clicks" not in exported and list(exported["objects"]) == ["actor", "prop"]
    assert nuke.Undo.undoSize() == undo and clicks_state(node) == actor  # reading every object: no trace
    assert exported["objects"]["actor"]["clicks"][0]["keys"] == {f: list(p) for f, p in POSITIVE.items()}
    assert exported["objects"]["prop"]["clicks"][0]["keys"] == {1001: list(PROP["pos1"])}
    assert exported["objects"]["prop"]["clicks"][1]["label"] == "negative"

    node = reopen(nuke, folder)
    assert node["object"].values() == ["actor", "prop"] and node["object"].value() == "actor"
    assert clicks_state(node) == actor
    assert callbacks._prepare_shot(node).data["objects"] == exported["objects"]
    nuke.artist_sets(node, "object", "prop")
    assert clicks_state(node) == prop

    node["selected"].setValue(True)
    nuke.nodeCopy("%clipboard%")
    copy = nuke.nodePaste("%clipboard%")
    copy.setInput(0, nuke.toNode(read.name()))
    assert copy["object"].values() == ["actor", "prop"] and clicks_state(copy) == prop
    assert callbacks._prepare_shot(copy).data["objects"] == exported["objects"]

    callbacks.remove_object(copy)  # prop goes; actor is current again
    assert copy["object"].values() == ["actor"] and clicks_state(copy) == actor
    callbacks.remove_object(copy)
    assert "only object" in copy["status"].value()


@pytest.mark.parametrize("name, reason", [("1st", "not a Nuke layer name"), ("hair strand", "not a Nuke layer name"),
                                          ("rgba", "reserves"), ("hyperseg2", "candidate layers"),
                                          ("Actor", "already has")])
def test_object_names_are_nuke_layer_names(nuke, make_shot, tmp_path, name, reason):
    _, node = make_comp(nuke, tmp_path / "names", make_shot)
    nuke.inputs.append("actor")
    __import__("hyperseg_nuke.callbacks").callbacks.rename_object(node)
    add_object(nuke, node, name)
    assert reason in node["status"].value() and repr(name) in node["status"].value()
    assert node["object"].values() == ["actor"]


def test_the_plugins_name_check_is_the_shot_files(nuke):
    from hyperseg_nuke import objects

    names = ["actor", "_x1", "A" * 64, "A" * 65, "1st", "é", "a-b", "a.b", "", "rgba", "main", "mask", "Rgba",
             "hyperseg", "hyperseg12", "hair_candidates", "hair_candidates2", "candidates", "alpha", "other"]
    assert [objects.check_layer_name(n) is None for n in names] == [check_layer_name(n) is None for n in names]


def one_object_alpha(folder, make_segmenter, clicks: list, frame: int, name: str) -> np.ndarray:
    """`render` of one object with `clicks` (top-left pixels) at `frame`."""
    data = {"input": str(folder / "plates" / "plate.####.exr"), "frames": frame,
            "output": str(folder / name / "ref.####.exr"), "clicks": clicks}
    assert render_shot(shot_from_dict(data, folder), make_segmenter()).ok
    return alpha(folder / name / f"ref.{frame}.exr")


def test_two_objects_segment_into_a_layer_each(nuke, bridge, make_shot, make_segmenter, monkeypatch):
    from hyperseg_nuke import callbacks, tracking

    folder = bridge.root / "objects_node"
    _, node = click_comp(nuke, folder, make_shot)
    node["bridge_url"].setValue(bridge.url)
    two_objects(nuke, node)
    nuke.artist_sets(node, "object", "actor")
    segment(nuke, node)

    actor = one_object_alpha(folder, make_segmenter, [
        {"label": "positive", "keys": {f: list(p) for f, p in POSITIVE.items()}},
        {"label": "negative", "keys": {1001: list(NEGATIVE)}}], 1003, "ref_actor")
    prop = one_object_alpha(folder, make_segmenter, [
        {"label": "positive", "keys": {1001: list(PROP["pos1"])}},
        {"label": "negative", "keys": {1001: list(PROP["neg1"])}}], 1003, "ref_prop")
    assert np.abs(actor - prop).max() > 1e-2  # two different mattes (the tiny random model: near 0.5)
    stream = node.channels_at(1003)
    np.testing.assert_allclose(stream["actor.alpha"], actor, atol=1e-3)
    np.testing.assert_allclose(stream["prop.alpha"], prop, atol=1e-3)
    np.testing.assert_allclose(stream["rgba.alpha"], np.maximum(actor, prop), atol=1e-3)

    # Segment range: a job of both objects, one EXR per frame with both layers
    finish(nuke, callbacks.segment_range(node))
    assert node["status"].value().startswith("frames 1001-1006"), node["status"].value()
    (shot_file,) = folder.glob("*HyperSeg1*.json")
    assert list(json.loads(shot_file.read_text())["objects"]) == ["actor", "prop"]
    for frame in (1001, 1006):
        assert {"actor.alpha", "prop.alpha"} <= set(node.channels_at(frame))

    # Submit to farm: the farm's shot file holds both objects; the node shows their layers
    monkeypatch.setenv("HYPERSEG_FARM", "openjd")
    finish(nuke, callbacks.submit_to_farm(node))
    assert node["status"].value().startswith("Submit to farm (openjd)"), node["status"].value()
    (farm_file,) = folder.glob("*HyperSeg1_farm_*.json")
    assert [obj.name for obj in load_shot(farm_file).objects] == ["actor", "prop"]
    assert node["object_layers"].value()

    # Track clicks: each object's clicks keyed on every frame, the actor still current
    finish(nuke, tracking.track_clicks(node))
    assert node["status"].value().startswith("tracked 4 clicks"), node["status"].value()
    assert node["object"].value() == "actor"
    assert len(node["pos1"].animation(0).keys()) == 6
    nuke.artist_sets(node, "object", "prop")
    assert len(node["pos1"].animation(0).keys()) == 6 and len(node["neg1"].animation(1).keys()) == 6


def test_one_object_shows_no_object_layers(nuke, bridge, make_shot):
    folder = bridge.root / "objects_single"
    _, node = click_comp(nuke, folder, make_shot)
    node["bridge_url"].setValue(bridge.url)
    segment(nuke, node)
    assert not node["object_layers"].value()
    assert not any(name.endswith(".alpha") and not name.startswith("rgba") for name in node.channels_at(1003))
    assert HEIGHT == node.channels_at(1003)["rgba.alpha"].shape[0]
