"""POST /v1/track on a real bridge: the tracked shot file of `hyperseg-vfx track`, as a job with
progress and cancel, and the same path guard as /v1/jobs."""

from __future__ import annotations

import dataclasses
import time

import pytest
from bridge_server import BridgeError

from hyperseg_vfx.segmenter import Segmenter
from hyperseg_vfx.shot import load_shot
from hyperseg_vfx.tracking import track_shot

SIZE = (96, 64)


def test_track_job_writes_the_tracked_shot_of_track(bridge, make_shot, tiny_model):
    shot = load_shot(make_shot(bridge.root / "track", "1001-1005", SIZE))
    out = bridge.root / "track" / "tracked.yaml"
    job = bridge.client.start_track(str(out), shot_path=shot.path)
    assert job["state"] in ("queued", "running") and job["frames"] == 5 and job["output"] == str(out)
    final = bridge.client.wait_for_job(job["id"], timeout=120, interval=0.2)
    assert final["state"] == "done" and final["done"] == 5, final
    model, metadata = tiny_model
    expected = track_shot(shot, Segmenter(model, device="cpu", cache_bytes=0, metadata=metadata)).shot
    tracked = load_shot(out)
    assert [c.keys for c in tracked.clicks] == [c.keys for c in expected.clicks]
    assert [c.tracked for c in tracked.clicks] == [c.tracked for c in expected.clicks]
    # inline shot data, a subset of frames: keys elsewhere stay as they were
    inline = bridge.client.start_track(str(out.with_name("part.yaml")), shot=shot.to_dict(), frames="1001-1002")
    assert bridge.client.wait_for_job(inline["id"], timeout=120)["state"] == "done"
    part = load_shot(out.with_name("part.yaml"))
    assert sorted(part.clicks[0].keys) == [1001, 1002, 1005] and part.clicks[0].tracked.keys == frozenset({1002})


def test_track_refuses_paths_outside_the_allowed_folders(bridge, make_shot, tmp_path):
    inside = load_shot(make_shot(bridge.root / "guard", "1001-1002", SIZE))
    outside = load_shot(make_shot(tmp_path / "elsewhere", "1001-1002", SIZE))  # pytest's tmp: not allowed
    attempts = [
        ({"shot_path": outside.path, "out": str(bridge.root / "guard" / "t.yaml")}, "shot_path"),
        ({"shot_path": inside.path, "out": str(tmp_path / "t.yaml")}, "out"),
        ({"shot_path": inside.path, "out": str(bridge.root / ".." / "escape.yaml")}, "out"),
        ({"shot": dataclasses.replace(outside, output=inside.output).to_dict(), "out": str(bridge.root / "t.yaml")},
         "input"),
    ]
    for body, field in attempts:
        with pytest.raises(BridgeError) as error:
            bridge.client.start_track(**body)
        assert (error.value.status, error.value.field) == (403, field), body
    assert not (tmp_path / "t.yaml").exists() and not (bridge.root.parent / "escape.yaml").exists()
    with pytest.raises(BridgeError) as error:
        bridge.client.start_track(inside.path, shot_path=inside.path)  # the shot file itself
    assert (error.value.status, error.value.field) == (422, "out")


def test_track_without_artist_keys_or_plates_is_refused_before_it_starts(bridge, make_shot):
    shot = load_shot(make_shot(bridge.root / "untrackable", "1001-1003", SIZE))
    data = shot.to_dict()
    for click in data["clicks"]:
        click["tracked"] = {"keys": ",".join(str(f) for f in click["keys"])}
    with pytest.raises(BridgeError) as error:
        bridge.client.start_track(str(bridge.root / "u.yaml"), shot=data)
    assert error.value.status == 422 and "no artist key" in str(error.value)


def test_track_job_can_be_cancelled_and_writes_nothing(bridge, make_shot):
    shot = load_shot(make_shot(bridge.root / "long_track", "1001-1030", SIZE))
    out = bridge.root / "long_track" / "tracked.yaml"
    job = bridge.client.start_track(str(out), shot_path=shot.path)
    while bridge.client.job(job["id"])["done"] < 1:
        time.sleep(0.05)
    bridge.client.cancel_job(job["id"])
    final = bridge.client.wait_for_job(job["id"], timeout=60, interval=0.2)
    assert final["state"] == "cancelled" and final["done"] < 30
    assert not out.exists()
