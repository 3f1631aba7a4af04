"""The bridge end to end, through the Nuke client against a real server: a segment writes the
matte `render` writes, features are cached for the next click, concurrent clients get their own
mattes, jobs render and cancel, submit hands over to the farm (or says it cannot)."""

from __future__ import annotations

import json
import os
import threading
import time

import numpy as np
import pytest
from bridge_server import BridgeError
from click.testing import CliRunner
from image_files import read_image

from hyperseg_vfx.cli import main
from hyperseg_vfx.render import render_shot
from hyperseg_vfx.shot import load_shot

SIZE = (96, 64)


def read_exr(path):
    """(pixels (H, W, C) float32, {hyperseg/* attribute: value}) of an EXR."""
    spec, pixels = read_image(path)
    return pixels, {a.name: a.value for a in spec.extra_attribs if a.name.startswith("hyperseg/")}


def same_exr(a, b) -> None:
    (pixels_a, meta_a), (pixels_b, meta_b) = read_exr(a), read_exr(b)
    np.testing.assert_array_equal(pixels_a, pixels_b)
    assert meta_a == meta_b


@pytest.fixture(scope="module")
def reference(bridge, make_shot, make_segmenter):
    """A 1001-1006 shot inside the bridge's root, rendered in-process by render_shot."""
    folder = bridge.root / "reference"
    shot = load_shot(make_shot(folder, "1001-1006", SIZE))
    report = render_shot(shot, make_segmenter())
    assert report.ok
    return shot


def segment(client, shot, frame, output, **kwargs):
    return client.segment(input=shot.input, frame=frame, clicks=shot.to_dict()["clicks"],
                          output=str(output), **kwargs)


def test_segment_writes_the_rendered_matte_and_caches_features(bridge, reference):
    client, shot = bridge.client, reference
    output = bridge.root / "segment" / "m.####.exr"
    first = segment(client, shot, 1003, output)
    assert first["output"] == str(output).replace("####", "1003")
    assert first["previous"] == shot.input_path(1002)
    same_exr(first["output"], shot.output_path(1003))
    alpha = read_exr(first["output"])[0][..., 0]
    # the model's float32 matte, written as half floats: a few pixels near 0.5 may round across
    assert 0 < first["coverage"] == pytest.approx(float((alpha > 0.5).mean()), abs=0.01)
    assert first["timings"]["features_cached"] is False and first["timings"]["features_s"] > 0

    second = segment(client, shot, 1003, output)  # the same clicks: the matte cache answers, nothing runs
    assert second["timings"]["reused_objects"] == 1 and second["timings"]["network_s"] == 0.0
    same_exr(second["output"], shot.output_path(1003))
    clicks = shot.to_dict()["clicks"] + [{"label": "negative", "keys": {1003: [3.5, 60.5]}}]
    third = client.segment(input=shot.input, frame=1003, clicks=clicks, output=str(output))
    assert third["timings"]["features_cached"] is True and third["timings"]["features_s"] is None
    assert third["timings"]["network_s"] > 0 and third["timings"]["reused_objects"] == 0
    assert client.health()["cache"]["hits"] >= 1


def test_first_frame_and_explicit_previous_follow_render(bridge, reference):
    client, shot = bridge.client, reference
    first = segment(client, shot, 1001, bridge.root / "first.exr")  # no 1000 plate: its own previous
    assert first["previous"] is None
    same_exr(first["output"], shot.output_path(1001))
    # single files instead of a pattern: the previous frame named explicitly
    explicit = client.segment(input=shot.input_path(1005), previous=shot.input_path(1004), frame=1005,
                              clicks=shot.to_dict()["clicks"], output=str(bridge.root / "explicit.exr"))
    assert explicit["previous"] == shot.input_path(1004)
    same_exr(explicit["output"], shot.output_path(1005))


def test_concurrent_clients_get_their_own_mattes(bridge, reference):
    shot, results, errors = reference, {}, []

    def click(frame):
        try:
            results[frame] = segment(bridge.client, shot, frame, bridge.root / "concurrent" / f"m{frame}.exr")
        except BridgeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=click, args=(frame,)) for frame in (1002, 1004, 1006)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    for frame, result in results.items():
        same_exr(result["output"], shot.output_path(frame))
    assert sorted(results) == [1002, 1004, 1006]


def test_job_renders_a_shot_like_render(bridge, reference):
    client, shot = bridge.client, reference
    data = shot.to_dict()
    data["output"] = str(bridge.root / "job" / "m.####.exr")
    job = client.start_job(shot=data, frames="1002-1004")
    assert job["state"] in ("queued", "running") and job["frames"] == 3
    final = client.wait_for_job(job["id"], timeout=120, interval=0.2)
    assert final["state"] == "done", final
    assert (final["done"], final["written"], final["failed"], final["errors"]) == (3, 3, 0, [])
    for frame in (1002, 1003, 1004):
        same_exr(data["output"].replace("####", str(frame)), shot.output_path(frame))
    # a shot file, skipping what exists
    again = client.wait_for_job(client.start_job(shot_path=shot.path, skip_existing=True)["id"], timeout=120)
    assert again["state"] == "done" and again["skipped"] == 6


def test_job_reports_frame_errors(bridge, make_shot):
    shot = load_shot(make_shot(bridge.root / "broken", "1001-1003", SIZE))
    os.truncate(shot.input_path(1002), os.path.getsize(shot.input_path(1002)) // 2)  # header only
    job = bridge.client.start_job(shot_path=shot.path, continue_on_error=True)
    final = bridge.client.wait_for_job(job["id"], timeout=120, interval=0.2)
    assert final["state"] == "failed" and final["written"] == 1 and final["failed"] == 2
    assert {e["frame"] for e in final["errors"]} == {1002, 1003}  # 1003 reads 1002 as its previous
    assert all(e["message"] for e in final["errors"])
    assert not os.path.exists(shot.output_path(1002))


def test_job_can_be_cancelled(bridge, make_shot):
    client = bridge.client
    shot = load_shot(make_shot(bridge.root / "long", "1001-1040", SIZE))
    job = client.start_job(shot_path=shot.path)
    while client.job(job["id"])["done"] < 1:
        time.sleep(0.05)
    cancelled = client.cancel_job(job["id"])
    assert cancelled["state"] in ("cancelling", "cancelled")
    final = client.wait_for_job(job["id"], timeout=60, interval=0.2)
    assert final["state"] == "cancelled" and 1 <= final["done"] < 40
    written = sorted(os.listdir(os.path.dirname(shot.output_path(1001))))
    assert len(written) == final["done"] and not [n for n in written if "partial" in n]
    assert client.cancel_job(job["id"])["state"] == "cancelled"  # again: no change
    with pytest.raises(BridgeError) as error:
        client.job("no-such-job")
    assert (error.value.status, error.value.code, error.value.field) == (404, "job_not_found", "job_id")


def test_health(bridge):
    health = bridge.client.health()
    assert health["status"] == "ok" and health["device"] == "cpu" and health["model"] == "tiny-test"
    assert health["queue"] == {"length": 0, "interactive": 0, "jobs": 0}
    assert health["cache"]["max_bytes"] == 4 * 1024**3


def test_submit_hands_the_shot_to_the_farm(bridge, reference):
    result = bridge.client.submit(reference.path, "openjd", out_dir=str(bridge.root / "bundle"), dry_run=True)
    assert result["farm"] == "openjd" and result["submitted"] is False and result["message"]


def test_bench_bridge_times_click_updates_through_a_real_server(tiny_checkpoint):
    result = CliRunner().invoke(main, ["bench-bridge", "--width", "96", "--height", "64", "--clicks", "3",
                                       "--checkpoint", str(tiny_checkpoint), "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])
    assert (data["width"], data["height"], data["device"], data["clicks"]) == (96, 64, "cpu", 3)
    for name in ("round_trip_s", "network_s", "refine_s", "overhead_s", "write_s", "server_other_s", "http_s"):
        stats = data[name]
        assert stats["min"] <= stats["median"] <= stats["p90"] <= stats["max"], name
    assert data["network_s"]["min"] > 0 and data["write_s"]["min"] > 0 and data["http_s"]["min"] > 0
    assert data["overhead_s"]["max"] <= data["round_trip_s"]["max"]
    assert data["overhead_s"]["min"] >= data["write_s"]["min"]  # the write is part of the overhead


def test_bench_bridge_reports_a_bridge_that_does_not_start(tmp_path):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    result = CliRunner().invoke(main, ["bench-bridge", "--width", "96", "--height", "64", "--clicks", "1",
                                       "--checkpoint", str(broken), "--device", "cpu"])
    assert result.exit_code == 2, result.output
    assert "the bridge did not start" in result.output and "broken.pt" in result.output


def test_docs_page_works_offline(bridge):
    """/docs describes every endpoint without loading anything from outside the bridge (FastAPI's
    Swagger UI page pulls its scripts from cdn.jsdelivr.net: blank on an offline workstation)."""
    import re
    import urllib.request

    with urllib.request.urlopen(f"{bridge.url}/docs", timeout=30) as answer:
        assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/html")
        page = answer.read().decode()
    assert not re.search(r"(src|href)=\"(https?:)?//", page), "the page loads something from elsewhere"
    assert "<script" not in page
    for endpoint in ("POST /v1/segment", "GET /v1/health", "POST /v1/jobs", "POST /v1/submit", "DELETE /v1/jobs/{job_id}"):
        assert endpoint in page, endpoint
    assert "SegmentRequest" in page and "precision" in page
    with pytest.raises(urllib.error.HTTPError) as redoc:
        urllib.request.urlopen(f"{bridge.url}/redoc", timeout=30)
    assert redoc.value.code == 404


def assert_refused(bridge, shot, output, options: dict, field: str, message: str) -> None:
    """A segment request for frame 1003 with `options` is a 422 naming `field`, its message holds
    `message`, and no matte is written."""
    clicks = [track for track in shot.to_dict()["clicks"]]
    with pytest.raises(BridgeError) as refused:
        bridge.client.segment(shot.input, 1003, clicks, str(output), options=options)
    assert (refused.value.status, refused.value.field) == (422, field)
    assert message in str(refused.value)
    assert not os.path.exists(str(output).replace("####", "1003"))


def test_a_float16_request_on_a_cpu_bridge_is_refused_and_mattes_record_their_precision(bridge, reference):
    from hyperseg_vfx.io.exr import read_matte_metadata

    output = bridge.root / "precision" / "m.####.exr"
    written = segment(bridge.client, reference, 1002, output)
    metadata = read_matte_metadata(written["output"])
    assert (metadata["device"], metadata["precision"]) == ("cpu", "float32")
    assert_refused(bridge, reference, output, {"precision": "float16"}, "options.precision", "float16 is computed on CUDA only")


def test_learned_edges_on_a_model_without_a_refiner_are_refused_with_the_field(bridge, reference):
    """options.edges learned on the tiny model (no band refiner): 422 naming options.edges and the
    model, no matte written; the bridge goes on serving."""
    output = bridge.root / "learned" / "m.####.exr"
    assert_refused(bridge, reference, output, {"edges": "learned"}, "options.edges", "has no trained band refiner")
    assert segment(bridge.client, reference, 1003, output)["output"]
