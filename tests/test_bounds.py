"""Bounded input (issue 24, items 8, 9, 11, 12, 13, 17): numbers too long or too large, clicks keyed
off the frame, shots whose validation used to cost frames x clicks, the bridge's job memory,
SIGINT and bad YAML, against a real bridge on 127.0.0.1 (the session's `bridge` fixture) and the
real CLI. Every refusal is a 4xx in the bridge's error shape or exit 2 with one line naming the
field, never a 500 or a traceback.
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from hyperseg_vfx.cli import main
from hyperseg_vfx.shot import load_shot

SIZE = (96, 64)


def shot_data(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


# -- item 9: a click keyed off the frame where it does not count ----------------------------------


def test_track_carries_a_click_whose_artist_key_lies_off_the_frame_where_it_does_not_count(
        tmp_path, make_shot, tiny_checkpoint):
    """A click counting on 1001 only, keyed inside on 1001 and off the frame (x = 500 on a 96 px
    plate) on 1003: valid for render, and tracking keeps the artist's keys as they are, carries
    the click elsewhere inside the frame, and writes a shot that renders."""
    path = make_shot(tmp_path / "sh", "1001-1005", SIZE)
    data = shot_data(path)
    data["clicks"].append({"label": "positive", "keys": {1001: [40.0, 30.0], 1003: [500.0, 30.0]},
                           "frames": "1001"})
    path.write_text(yaml.safe_dump(data))
    load_shot(path)  # valid for render: the click counts on 1001 only, where it is inside
    out = tmp_path / "sh" / "tracked.yaml"
    result = CliRunner().invoke(main, ["track", str(path), "--out", str(out), "--checkpoint", str(tiny_checkpoint),
                                       "--device", "cpu"])
    assert result.exit_code == 0, result.output
    click = load_shot(out).clicks[2]
    assert click.keys[1001] == (40.0, 30.0) and click.keys[1003] == (500.0, 30.0)  # the artist's, untouched
    assert sorted(click.keys) == [1001, 1002, 1003, 1004, 1005]
    assert 0 <= click.keys[1002][0] < SIZE[0] and 0 <= click.keys[1004][0] < SIZE[0]


# -- item 13: SIGINT ----------------------------------------------------------------------------


def test_sigint_during_track_exits_130_with_one_line_and_writes_nothing(tmp_path, make_shot, tiny_checkpoint):
    """`track` stopped by Ctrl-C exits 130 (as a shell reports SIGINT), not click's 1 "Aborted!"."""
    path = make_shot(tmp_path / "sh", "1001-1040", SIZE)
    out = tmp_path / "sh" / "tracked.yaml"
    command = [sys.executable, "-m", "hyperseg_vfx.cli", "track", str(path), "--out", str(out),
               "--checkpoint", str(tiny_checkpoint), "--device", "cpu"]
    # As from a terminal, whatever started the test suite: a job started in the background by a
    # non-interactive shell inherits SIGINT ignored, and Python then never raises KeyboardInterrupt.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    for line in process.stderr:  # wait until it is tracking
        lines.append(line)
        if "tracked  (2/" in line:
            break
    process.send_signal(signal.SIGINT)
    rest, err = process.communicate(timeout=60)
    assert process.returncode == 130, "".join(lines) + err
    assert "Traceback" not in err and "Aborted" not in err, err
    assert [line for line in err.splitlines() if line.strip() and "tracked  (" not in line] == [
        "Interrupted (SIGINT)"], err
    assert not out.exists()


# -- item 8: numbers range-checked before conversion -------------------------------------------------

LONG_KEY = "1" * 5000  # Python's int() refuses strings of over 4300 digits: a 500 before
LONG_INT = int("9" * 400)  # overflows a float: a 500 before


def post(server, path: str, body) -> tuple[int, dict]:
    """(status, JSON answer) of a POST with `body` (data, or bytes sent as they are)."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=120)
    try:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        connection.request("POST", path, body=data, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def refusal(server, path: str, body) -> tuple[int, str, str]:
    """(status, code, field) of a 4xx in the bridge's error shape."""
    status, answer = post(server, path, body)
    assert 400 <= status < 500, (status, answer)
    assert set(answer["error"]) == {"code", "message", "field"} and len(answer["error"]["message"]) < 1000, answer
    return status, answer["error"]["code"], answer["error"]["field"]


@pytest.fixture
def bridge_shot(bridge, make_shot, request):
    return make_shot(bridge.root / request.node.name[:40], "1001-1003", SIZE)


def with_click(data: dict, keys: dict, path: Path | None = None) -> dict:
    """Shot-file data with a positive click keyed `keys` first, paths absolute (for a request)."""
    data = dict(data, clicks=[{"label": "positive", "keys": keys}] + data["clicks"])
    if path is not None:
        for name in ("input", "output"):
            data[name] = str(path.parent / data[name])
    return data


def test_a_key_frame_or_frame_of_too_many_digits_is_a_422_on_every_route(bridge, bridge_shot):
    data = shot_data(bridge_shot)
    out = bridge_shot.parent / "m.####.exr"
    long_key = with_click(data, {LONG_KEY: [40.0, 30.0]}, bridge_shot)
    segment = {"input": long_key["input"], "frame": 1002, "output": str(out), "clicks": long_key["clicks"]}
    assert refusal(bridge, "/v1/segment", segment) == (422, "invalid_shot", "clicks[0].keys." + "1" * 40 + "...")
    assert refusal(bridge, "/v1/segment", dict(segment, frame=10**12, clicks=data["clicks"]))[:2] == (422, "invalid_shot")
    assert refusal(bridge, "/v1/jobs", {"shot": long_key})[:2] == (422, "invalid_shot")
    assert refusal(bridge, "/v1/track", {"shot": long_key, "out": str(bridge_shot.parent / "t.yaml")})[:2] == (
        422, "invalid_shot")
    assert refusal(bridge, "/v1/jobs", {"shot": dict(long_key, clicks=data["clicks"]), "frames": 10**12})[:2] == (
        422, "invalid_shot")
    on_disk = bridge_shot.parent / "long_key.yaml"
    on_disk.write_text(yaml.safe_dump(with_click(data, {LONG_KEY: [40.0, 30.0]})))
    for route, body in (("/v1/jobs", {"shot_path": str(on_disk)}),
                        ("/v1/submit", {"shot_path": str(on_disk), "farm": "openjd", "dry_run": True}),
                        ("/v1/track", {"shot_path": str(on_disk), "out": str(bridge_shot.parent / "t.yaml")})):
        assert refusal(bridge, route, body)[:2] == (422, "invalid_shot"), route
    assert not (bridge_shot.parent / "mattes").exists() and not (bridge_shot.parent / "t.yaml").exists()


def test_a_coordinate_too_large_for_a_float_is_a_422_on_every_route(bridge, bridge_shot):
    data = shot_data(bridge_shot)
    for coordinate in (LONG_INT, 1e300):
        huge = with_click(data, {"1002": [coordinate, 30.0]}, bridge_shot)
        segment = {"input": huge["input"], "frame": 1002, "output": str(bridge_shot.parent / "m.exr"),
                   "clicks": huge["clicks"]}
        for route, body in (("/v1/segment", segment), ("/v1/jobs", {"shot": huge}),
                            ("/v1/track", {"shot": huge, "out": str(bridge_shot.parent / "t.yaml")})):
            status, code, field = refusal(bridge, route, body)
            assert status == 422 and field.startswith(("clicks[0].keys.1002", "shot.clicks[0].keys.1002")), (
                route, code, field)
        on_disk = bridge_shot.parent / "huge.yaml"
        on_disk.write_text(yaml.safe_dump(with_click(data, {1002: [coordinate, 30.0]})))
        assert refusal(bridge, "/v1/submit", {"shot_path": str(on_disk), "farm": "openjd", "dry_run": True})[:2] == (
            422, "invalid_shot")


def cli_error(args) -> str:
    """The one line a CLI command that must refuse prints (exit 2, no traceback)."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


@pytest.mark.parametrize("click, culprit", [
    ({"label": "positive", "keys": {LONG_KEY: [40.0, 30.0]}}, "clicks[0].keys.1111"),
    ({"label": "positive", "keys": {1002: [LONG_INT, 30.0]}}, "line 4, column 7: not valid YAML: an integer of 400"),
    ({"label": "positive", "keys": {1002: [1e300, 30.0]}}, "clicks[0].keys.1002"),
    ({"label": "positive", "keys": {10**12: [40.0, 30.0]}}, "clicks[0].keys.1000000000000"),
    ({"label": "positive", "keys": {1002: [40.0, 30.0]}, "frames": 10**12}, "clicks[0].frames"),
])
def test_render_refuses_numbers_out_of_range_with_exit_2_and_one_line(tmp_path, make_shot, click, culprit):
    path = make_shot(tmp_path / "sh", "1001-1003", SIZE)
    data = shot_data(path)
    data["clicks"].insert(0, click)
    path.write_text(yaml.safe_dump(data, width=10**6))
    line = cli_error(["render", path, "--device", "cpu"])
    assert culprit in line and (f"{path}, line" in line or "line" not in culprit), line
    assert not (tmp_path / "sh" / "mattes").exists()


# -- item 17: YAML errors in one line ------------------------------------------------------------


@pytest.mark.parametrize("text, line_column, problem", [
    ("input: !!python/object/apply:os.system [echo hi]\n", "line 1, column 8", "python/object/apply"),
    ("clicks: &c []\nframes: *c\n", "line 2, column 9", "aliases"),
    ("options: {<<: {scale: 0.5}}\n", "line 1, column 11", "merge keys"),
    ("input: [plates/a.####.exr\nframes: 1001\n", "line 2, column 7", "expected ',' or ']'"),
    ("input: a.exr\nframes: 1001\x07\n", "line 2, column 13", "U+0007"),
])
def test_bad_yaml_is_exit_2_with_one_line_naming_file_line_and_column(tmp_path, text, line_column, problem):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    line = cli_error(["render", path])
    assert f"{path}, {line_column}: not valid YAML: " in line and problem in line, line


# -- item 11: validation costs the shot's size, not frames x clicks --------------------------------


def big_shot(tmp_path: Path, clicks: int, frames: int, make_shot) -> dict:
    """Shot-file data over `frames` frames of one real plate (a pattern without a frame token):
    `clicks` clicks (every other one positive), each keyed every 5000 frames and counting on
    `frames: 1-<frames>`."""
    plate_shot = load_shot(make_shot(tmp_path / "plate", "1001", SIZE))
    tracks = [{"label": "positive" if i % 2 == 0 else "negative",
               "keys": {f: [10.0 + i % 70, 5.0 + (f // 5000) % 50] for f in range(1, 100001, 5000)},
               "frames": f"1-{frames}"} for i in range(clicks)]
    return {"input": plate_shot.input_path(1001), "frames": f"1-{frames}",
            "output": str(tmp_path / "out" / "m.######.exr"), "clicks": tracks, "hold": True}


def test_validation_evaluates_click_positions_independently_of_the_frame_count(tmp_path, make_shot, monkeypatch):
    """Validation (every frame has a positive click; every click inside its frame) used to
    evaluate every click on every frame: 300 clicks x 100,000 frames took minutes. It now walks
    each click's keys and runs: the same shot over 100 or 100,000 frames evaluates the same
    number of positions."""
    from hyperseg_vfx.shot import ClickTrack, check_shot_files, shot_from_dict

    calls = []
    position_at = ClickTrack.position_at
    monkeypatch.setattr(ClickTrack, "position_at", lambda self, frame: calls.append(frame) or position_at(self, frame))
    counts = {}
    for frames in (100, 100000):
        calls.clear()
        check_shot_files(shot_from_dict(big_shot(tmp_path, 40, frames, make_shot), "/"))
        counts[frames] = len(calls)
    assert counts[100000] <= 2 * 40 * 21 + 40 and counts[100] <= counts[100000], counts


def test_validation_finds_the_first_frame_and_click_that_checking_every_frame_finds():
    """Against the definition (every frame, every click) on random shots: keys anywhere in and
    out of a 50x40 frame, `frames` runs, drops, both interpolations."""
    import random

    import hyperseg_vfx.shot as shot_module
    from hyperseg_vfx.sequences import FrameSet
    from hyperseg_vfx.shot import ClickTrack, Shot, TrackMarks

    rng = random.Random(24)
    width, height = 50, 40
    for _ in range(400):
        frames = sorted(rng.sample(range(60), rng.randint(1, 30)))
        tracks = []
        for _ in range(rng.randint(1, 5)):
            keys = {f: (rng.uniform(-20, 70), rng.uniform(-20, 60)) for f in rng.sample(range(-5, 65), rng.randint(1, 5))}
            counts = FrameSet((a, a + rng.randint(0, 10)) for a in rng.sample(range(60), rng.randint(1, 4))) \
                if rng.random() < 0.5 else None
            marks = TrackMarks(frozenset(), {"left_object": frozenset(rng.sample(sorted(keys), rng.randint(0, len(keys))))}) \
                if rng.random() < 0.3 else None
            tracks.append(ClickTrack(rng.random() < 0.6, keys, rng.choice(["linear", "constant"]), counts, marks))
        shot = Shot("/plate.exr", frames, "/m.####.exr", tracks)
        expected = next((f for f in frames if not any(c.positive for c in shot.clicks_at(f))), None)
        assert shot_module._first_frame_without_positive(shot.clicks, shot.frames) == expected
        expected = next(((f, i) for f in frames for i, t in enumerate(tracks)
                         if t.click_at(f) is not None and not (0 <= t.click_at(f).x < width and 0 <= t.click_at(f).y < height)),
                        None)
        assert shot_module._first_click_outside(shot.clicks, shot.frames, width, height) == expected


def test_clicks_and_stepped_click_frames_are_capped_with_a_422(bridge, bridge_shot):
    """At most MAX_CLICKS clicks; the clicks' `frames` together at most max_frames() runs (a
    stepped range is a run per frame): each a 422 naming the field, nothing rendered."""
    from hyperseg_vfx.shot import MAX_CLICKS

    data = with_click(shot_data(bridge_shot), {"1002": [40.0, 30.0]}, bridge_shot)
    many = dict(data, clicks=data["clicks"][:1] * (MAX_CLICKS + 1))
    assert refusal(bridge, "/v1/jobs", {"shot": many}) == (422, "invalid_shot", "shot.clicks")
    stepped = dict(data, clicks=[dict(data["clicks"][0], frames="1-200000x2")] * 3)
    assert refusal(bridge, "/v1/jobs", {"shot": stepped}) == (422, "invalid_shot", "shot.clicks[1].frames")
    assert not (bridge_shot.parent / "mattes").exists()


# -- item 12: the bridge's jobs are bounded --------------------------------------------------------


def test_queued_jobs_are_capped_and_finished_jobs_are_forgotten_by_count_and_age(
        tmp_path, make_shot, tiny_checkpoint, monkeypatch):
    """A bridge queueing 2 jobs and remembering 3 finished ones for 4 s: a third waiting job is a
    429 too_many_jobs; a finished job answers a summary (counts, output), then 404 once 3 newer
    jobs have ended, or once 4 s have passed."""
    from bridge_server import BridgeProcess
    from hyperseg_nuke.bridge_client import BridgeError

    monkeypatch.setenv("HYPERSEG_MAX_QUEUED_JOBS", "2")
    monkeypatch.setenv("HYPERSEG_KEEP_FINISHED_JOBS", "3")
    monkeypatch.setenv("HYPERSEG_KEEP_FINISHED_S", "4")
    root = tmp_path / "root"
    shot = load_shot(make_shot(root / "sh", "1001-1030", SIZE))
    data = shot.to_dict()
    with BridgeProcess(tiny_checkpoint, [root], tmp_path / "bridge.log") as server:
        client = server.client
        long_job = client.start_job(shot=data)
        waiting = [client.start_job(shot=dict(data, output=str(root / f"q{i}" / "m.####.exr"))) for i in range(2)]
        assert [job["state"] for job in waiting] == ["queued", "queued"]
        with pytest.raises(BridgeError) as refused:
            client.start_job(shot=dict(data, output=str(root / "q3" / "m.####.exr")))
        assert (refused.value.status, refused.value.code) == (429, "too_many_jobs"), refused.value
        assert not (root / "q3").exists()
        for job in (long_job, *waiting):
            client.cancel_job(job["id"])
        client.wait_for_job(long_job["id"], timeout=120)
        quick = [client.start_job(shot=dict(data, output=str(root / f"f{i}" / "m.####.exr")), frames="1001")
                 for i in range(3)]
        ended = [client.wait_for_job(job["id"], timeout=120) for job in quick]
        assert [(job["state"], job["frames"], job["written"]) for job in ended] == [("done", 1, 1)] * 3
        assert client.job(quick[-1]["id"])["output"] == str(root / "f2" / "m.####.exr")
        for job in (long_job, *waiting):  # 6 ended, 3 remembered: the oldest are forgotten
            with pytest.raises(BridgeError) as forgotten:
                client.job(job["id"])
            assert (forgotten.value.status, forgotten.value.code) == (404, "job_not_found")
        time.sleep(4.5)
        with pytest.raises(BridgeError) as aged:
            client.job(quick[-1]["id"])
        assert aged.value.status == 404
    assert "Traceback" not in server.output(), server.output()


def test_track_names_the_shot_field_of_a_number_out_of_range_not_frames(tmp_path, make_shot):
    path = make_shot(tmp_path / "sh", "1001-1003", SIZE)
    data = shot_data(path)
    data["clicks"][0]["keys"] = {LONG_KEY: [40.0, 30.0]}
    path.write_text(yaml.safe_dump(data, width=10**6))
    line = cli_error(["track", path, "--out", tmp_path / "t.yaml", "--device", "cpu"])
    assert line.startswith("Error: clicks[0].keys.1111") and "--frames" not in line, line
