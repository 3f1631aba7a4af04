"""A shot with several `objects:` through a real bridge (tests/bridge_server.py) and the Nuke
plugin's client: /v1/segment writes the layered EXR `render` writes and reuses the frame's cached
features for a segment of one object, /v1/jobs renders the layers and the objects' own files,
/v1/track tracks every object, and output_per_object is held to the path guard."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from bridge_server import BridgeError
from test_objects import channels, two_object_shot

from hyperseg_vfx.render import render_shot
from hyperseg_vfx.shot import load_shot


@pytest.fixture(scope="module")
def objects_shot(bridge, make_shot, make_segmenter):
    """A two-object 96x64 shot (1001-1004) inside the bridge's root, rendered in-process."""
    folder = bridge.root / "objects"
    folder.mkdir()
    path, _ = two_object_shot(make_shot, folder, output_per_object="mattes/{object}.####.exr")
    shot = load_shot(path)
    assert render_shot(shot, make_segmenter()).ok
    return shot


def same(a, b) -> None:
    a, b = channels(a), channels(b)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_segment_with_objects_writes_the_rendered_layers_and_reuses_the_frames_features(bridge, objects_shot):
    client, shot = bridge.client, objects_shot
    objects = shot.to_dict()["objects"]
    out = bridge.root / "objects" / "seg" / "m.####.exr"
    first = client.segment(shot.input, 1003, None, str(out), objects=objects,
                           output_per_object=str(out.parent / "{object}.####.exr"))
    same(first["output"], shot.output_path(1003))
    for written, rendered in zip(dataclasses.replace(shot, output=str(out),
                                                     output_per_object=str(out.parent / "{object}.####.exr"))
                                 .output_paths(1003)[1:], shot.output_paths(1003)[1:]):
        same(written, rendered)
    assert set(first["object_coverage"]) == {"star", "backdrop"}
    assert first["coverage"] >= max(first["object_coverage"].values())
    # one object alone on the same frame: its features come from the cache, its layer is the same
    alone = client.segment(shot.input, 1003, None, str(out.parent / "star.####.exr"), objects={"star": objects["star"]})
    assert alone["timings"]["features_cached"] and alone["timings"]["features_s"] is None
    assert np.array_equal(channels(alone["output"])["star.A"], channels(first["output"])["star.A"])


def test_jobs_render_the_layers_and_track_follows_every_object(bridge, objects_shot):
    client, shot = bridge.client, objects_shot
    data = dataclasses.replace(shot, output=str(bridge.root / "objects" / "job" / "m.####.exr"),
                               output_per_object=str(bridge.root / "objects" / "job" / "{object}.####.exr")).to_dict()
    final = client.wait_for_job(client.start_job(shot=data)["id"], timeout=120, interval=0.2)
    assert final["state"] == "done" and final["done"] == 4, final
    job_shot = load_shot(data, "/", check_files=False)
    for frame in shot.frames:
        for written, rendered in zip(job_shot.output_paths(frame), shot.output_paths(frame)):
            same(written, rendered)
    out = bridge.root / "objects" / "tracked.yaml"
    final = client.wait_for_job(client.start_track(str(out), shot_path=shot.path)["id"], timeout=120, interval=0.2)
    assert final["state"] == "done" and final["done"] == final["frames"] == 4, str(final)
    tracked = load_shot(out)
    assert [o.name for o in tracked.objects] == ["star", "backdrop"]
    assert all(sorted(c.keys) == shot.frames for o in tracked.objects for c in o.clicks)


def test_output_per_object_is_held_to_the_path_guard(bridge, objects_shot, tmp_path):
    shot = objects_shot
    with pytest.raises(BridgeError) as error:
        bridge.client.segment(shot.input, 1003, None, str(bridge.root / "objects" / "g.####.exr"),
                              objects=shot.to_dict()["objects"], output_per_object=str(tmp_path / "{object}.####.exr"))
    assert error.value.status == 403 or error.value.status == 422, error.value
    assert not list(tmp_path.iterdir())
    with pytest.raises(BridgeError) as error:  # clicks and objects: one or the other
        bridge.client.segment(shot.input, 1003, [], str(bridge.root / "objects" / "g.####.exr"),
                              objects=shot.to_dict()["objects"])
    assert error.value.status == 422 and "not both" in str(error.value)


def test_editing_one_object_segments_only_that_object(bridge, objects_shot):
    """The artist moves one object's click on a frame: the bridge's matte cache serves the other
    object (its layer bit for bit the same), and a repeated request runs nothing at all."""
    client, shot = bridge.client, objects_shot
    objects = shot.to_dict()["objects"]
    out = bridge.root / "objects" / "edit" / "m.####.exr"
    first = client.segment(shot.input, 1002, None, str(out), objects=objects)
    hits = client.health()["matte_cache"]["hits"]
    edited = {**objects, "backdrop": {**objects["backdrop"], "clicks": objects["backdrop"]["clicks"] + [
        {"label": "positive", "keys": {1002: [10.0, 50.0]}}]}}
    second = client.segment(shot.input, 1002, None, str(out.parent / "m2.####.exr"), objects=edited)
    assert second["timings"]["reused_objects"] == 1 and client.health()["matte_cache"]["hits"] == hits + 1
    a, b = channels(first["output"]), channels(second["output"])
    assert np.array_equal(a["star.A"], b["star.A"]) and not np.array_equal(a["backdrop.A"], b["backdrop.A"])
    again = client.segment(shot.input, 1002, None, str(out.parent / "m3.####.exr"), objects=edited)
    assert again["timings"]["reused_objects"] == 2 and again["timings"]["network_s"] == 0.0
    c = channels(again["output"])
    assert all(np.array_equal(b[k], c[k]) for k in b)
