"""Issue 24, "one door": every file a feature opens goes through hyperseg_vfx.door, checked where it
is opened. Each test is one attack from the issue, against a real `hyperseg-vfx serve --allow-root
ROOT` on 127.0.0.1 (its own, so that a hang on the old code stays in this module) or the real CLI:

    1  temporal smoothing's neighbour frame a link out of the root     -> 403, the same whether it exists
    2  /v1/track's frame before the first tracked frame a link out      -> 403 field previous
    3  /v1/track `out` over a user's file                               -> 409 naming it, file untouched
    4  CLI `track --out` over one of the shot's plates                   -> exit 2 naming it, plate untouched
    5  /v1/submit job folder through a link in the root to outside      -> 403, nothing written outside
    6  /v1/submit checkpoint outside the roots                          -> 403, the same whether it exists
    7  a FIFO as output (bridge and CLI), as plate                      -> 4xx / exit 2 at once, bridge serving
    10 the output folder swapped for a link after the job was accepted  -> no matte outside, frames failed
    14 stale-temporary clean-up                                         -> never a user's file, never a link
    15 `serve --allow-root` of a missing folder                         -> exit 2, the folder not created
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from bridge_server import BridgeProcess, serve_command, free_port
from image_files import write_image

from hyperseg_vfx.door import temporary_name
from hyperseg_vfx.shot import load_shot

SIZE = (48, 32)


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_checkpoint):
    root = tmp_path_factory.mktemp("door_root")
    with BridgeProcess(tiny_checkpoint, [root], tmp_path_factory.mktemp("door_log") / "bridge.log") as process:
        yield process
    assert "Traceback" not in process.output(), process.output()


@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    """A folder out of the bridge's roots: an image, a text file, and nothing else."""
    folder = tmp_path_factory.mktemp("door_outside")
    write_image(folder / "secret.exr", np.full((SIZE[1], SIZE[0], 3), 0.5))
    (folder / "secret.txt").write_text("not an image\n")
    return folder


@pytest.fixture(autouse=True)
def still_serving(server):
    yield
    assert send(server, "GET", "/v1/health", timeout=10)[0] == 200


def send(server, method, path, body=None, timeout=60):
    """(status, JSON answer) of a request; raises on a timeout (a frozen bridge)."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def error(answer) -> tuple[str, str]:
    return answer["error"]["code"], answer["error"]["field"]


def wait_job(server, job_id, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        status, job = send(server, "GET", f"/v1/jobs/{job_id}")
        assert status == 200, job
        if job["state"] in ("done", "failed", "cancelled") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def segment_body(shot, frame, **changes):
    return {"input": shot.input, "frame": frame, "clicks": shot.to_dict()["clicks"],
            "options": shot.to_dict()["options"], "output": shot.output, **changes}


def run_cli(*args, timeout=120):
    """(exit status, stderr) of `hyperseg-vfx ARGS`; a run still going after `timeout` is killed
    and fails the test (a hang)."""
    try:
        done = subprocess.run([sys.executable, "-m", "hyperseg_vfx.cli", *map(str, args)], capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"hyperseg-vfx {args} still running after {timeout} s") from None
    return done.returncode, done.stderr


# -- 1: temporal smoothing's neighbours ----------------------------------------------------------


def test_1_a_smoothing_neighbour_linked_out_of_the_root_is_403_whether_its_target_exists(server, outside, make_shot):
    shot = load_shot(make_shot(server.root / "sm", "1001-1003", SIZE, options={"temporal_smoothing": True}))
    link = Path(shot.input_path(1004))  # t+1 of frame 1003: read by smoothing, outside the shot's frames
    answers = []
    for target in (outside / "missing.exr", outside / "secret.txt", outside / "secret.exr"):
        link.unlink(missing_ok=True)
        link.symlink_to(target)
        status, answer = send(server, "POST", "/v1/segment", segment_body(shot, 1003))
        answers.append((status, answer))
        status, job = send(server, "POST", "/v1/jobs", {"shot_path": shot.path})
        assert (status, error(job)) == (403, ("forbidden_path", "next")), job
    assert answers[0][0] == 403 and error(answers[0][1]) == ("forbidden_path", "next"), answers[0]
    assert all(answer == answers[0] for answer in answers), answers  # no oracle: one answer for all three
    assert str(outside) not in answers[0][1]["error"]["message"]
    assert not Path(shot.output_path(1003)).exists()


# -- 2: /v1/track's frame before the first tracked frame ----------------------------------------


def test_2_the_plate_before_the_first_tracked_frame_linked_out_is_403(server, outside, make_shot):
    shot = load_shot(make_shot(server.root / "tr", "1001-1003", SIZE))
    data = shot.to_dict()
    data["frames"] = "1002-1003"  # the shot's frames; tracking asks for 1001 too, whose previous is 1000
    Path(shot.input_path(1000)).symlink_to(outside / "secret.exr")
    out = server.root / "tr" / "tracked.yaml"
    status, answer = send(server, "POST", "/v1/track", {"shot": data, "frames": "1001-1003", "out": str(out)})
    assert (status, error(answer)) == (403, ("forbidden_path", "previous")), answer
    assert not out.exists()


# -- 3 and 4: the tracked shot file replaces nothing unasked ------------------------------------


def test_3_track_out_over_a_users_file_is_409_naming_it(server, make_shot):
    shot_path = make_shot(server.root / "tro", "1001-1002", SIZE)
    notes = server.root / "tro" / "notes.txt"
    notes.write_text("the artist's notes\n")
    status, answer = send(server, "POST", "/v1/track", {"shot_path": str(shot_path), "out": str(notes)})
    assert (status, error(answer)) == (409, ("output_exists", "out")), answer
    assert str(notes) in answer["error"]["message"] and "overwrite" in answer["error"]["message"]
    assert notes.read_text() == "the artist's notes\n"
    # asked for: replaced with the tracked shot
    status, job = send(server, "POST", "/v1/track", {"shot_path": str(shot_path), "out": str(notes), "overwrite": True})
    assert status == 202 and wait_job(server, job["id"])["state"] == "done"
    assert load_shot(notes).frames == [1001, 1002]


def test_4_cli_track_out_over_a_plate_is_exit_2_naming_it(tmp_path, make_shot, tiny_checkpoint):
    shot = load_shot(make_shot(tmp_path / "cli", "1001-1002", SIZE))
    plate = shot.input_path(1002)
    before = digest(plate)
    status, err = run_cli("track", shot.path, "--out", plate, "--checkpoint", tiny_checkpoint, "--device", "cpu")
    assert status == 2 and plate in err and "--overwrite" in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert digest(plate) == before


# -- 5 and 6: /v1/submit ------------------------------------------------------------------------


def test_5_submit_never_writes_job_files_through_a_linked_folder(server, outside, make_shot):
    shot_path = make_shot(server.root / "sub", "1001-1002", SIZE)
    target = outside / "farm_target"
    target.mkdir()
    (server.root / "sub" / "farm").symlink_to(target, target_is_directory=True)
    body = {"shot_path": str(shot_path), "farm": "openjd", "dry_run": True}
    status, answer = send(server, "POST", "/v1/submit", body)
    assert (status, error(answer)) == (403, ("forbidden_path", "out_dir")), answer
    assert list(target.iterdir()) == []


def test_6_submit_refuses_a_checkpoint_outside_the_roots_the_same_whether_it_exists(server, outside, make_shot):
    answers = []
    for checkpoint in (outside / "model.pt", outside / "missing.pt"):
        if checkpoint.name == "model.pt":
            checkpoint.write_bytes(b"weights")
        shot_path = make_shot(server.root / f"ck_{checkpoint.stem}", "1001-1002", SIZE, checkpoint=checkpoint)
        status, answer = send(server, "POST", "/v1/submit",
                              {"shot_path": str(shot_path), "farm": "openjd", "dry_run": True})
        answers.append((status, *error(answer), answer["error"]["message"].replace(str(checkpoint), "CKPT")))
        assert not (server.root / f"ck_{checkpoint.stem}" / "farm").exists()
    assert answers[0] == answers[1] and answers[0][:3] == (403, "forbidden_path", "checkpoint"), answers


# -- 7: FIFOs -----------------------------------------------------------------------------------


def test_7_a_fifo_as_output_or_plate_is_refused_at_once_and_the_bridge_keeps_serving(server, make_shot):
    shot = load_shot(make_shot(server.root / "fifo", "1001-1002", SIZE))
    fifo = server.root / "fifo" / "m.1002.exr"
    os.mkfifo(fifo)
    status, answer = send(server, "POST", "/v1/segment", segment_body(shot, 1002, output=str(fifo)), timeout=20)
    assert 400 <= status < 500 and answer["error"]["field"] == "output" and "FIFO" in answer["error"]["message"]
    status, answer = send(server, "POST", "/v1/segment", segment_body(shot, 1002, output=str(fifo), overwrite=True),
                          timeout=20)
    assert 400 <= status < 500 and "FIFO" in answer["error"]["message"], answer
    plate = Path(shot.input_path(1002))
    plate.unlink()
    os.mkfifo(plate)
    status, answer = send(server, "POST", "/v1/segment", segment_body(shot, 1002), timeout=20)
    assert status == 422 and answer["error"]["field"] == "input" and "FIFO" in answer["error"]["message"], answer


def test_7_cli_render_to_a_fifo_is_exit_2_at_once(tmp_path, make_shot, tiny_checkpoint):
    shot = load_shot(make_shot(tmp_path / "cf", "1001-1002", SIZE))
    os.makedirs(os.path.dirname(shot.output_path(1001)))
    os.mkfifo(shot.output_path(1001))
    for extra in ((), ("--overwrite",), ("--skip-existing",)):
        status, err = run_cli("render", shot.path, "--checkpoint", tiny_checkpoint, "--device", "cpu", *extra,
                              timeout=60)
        assert status == 2 and shot.output_path(1001) in err and "FIFO" in err, (extra, err)


# -- 10: a folder swapped for a link while a job waits ------------------------------------------


def swap_for_link(folder: Path, target: Path) -> None:
    """Replace `folder` by a link to `target` (the folder moved aside)."""
    if folder.exists():
        folder.rename(folder.with_name(folder.name + "_before"))
    folder.symlink_to(target, target_is_directory=True)


def test_10_an_output_folder_swapped_for_a_link_mid_job_gets_no_matte_outside(server, outside, make_shot):
    shot = load_shot(make_shot(server.root / "swap", "1001-1030", (480, 270)))  # ~0.1 s a frame
    target = outside / "swapped_mid_job"
    target.mkdir()
    status, job = send(server, "POST", "/v1/jobs", {"shot_path": shot.path})
    assert status == 202, job
    while (current := send(server, "GET", f"/v1/jobs/{job['id']}")[1])["written"] < 1:
        time.sleep(0.01)
    assert current["state"] == "running" and current["done"] < 30, current
    swap_for_link(Path(shot.output_path(1001)).parent, target)
    final = wait_job(server, job["id"])
    assert list(target.iterdir()) == [], "mattes written outside the roots"
    assert final["state"] == "failed" and 1 <= final["written"] < 30, final
    assert "outside the bridge's allowed folders" in final["errors"][0]["message"], final


def test_10_an_output_folder_swapped_for_a_link_while_the_job_waits_gets_no_matte_outside(server, outside, make_shot):
    blocker = make_shot(server.root / "busy", "1001-1020", SIZE)  # keeps the job runner busy meanwhile
    shot = load_shot(make_shot(server.root / "swap_queued", "1001-1004", SIZE))
    target = outside / "swapped_queued"
    target.mkdir()
    status, busy = send(server, "POST", "/v1/jobs", {"shot_path": str(blocker)})
    assert status == 202, busy
    status, job = send(server, "POST", "/v1/jobs", {"shot_path": shot.path})
    assert status == 202 and job["state"] == "queued", job  # checked and accepted: its folder was inside
    swap_for_link(Path(shot.output_path(1001)).parent, target)
    assert wait_job(server, busy["id"])["state"] == "done"
    final = wait_job(server, job["id"])
    assert list(target.iterdir()) == [], "mattes written outside the roots"
    assert final["state"] == "failed" and final["written"] == 0, final
    assert "outside the bridge's allowed folders" in (final["error"] or ""), final


# -- 14: stale temporaries ----------------------------------------------------------------------


def test_14_stale_temporary_clean_up_removes_only_its_own_files_never_a_users_or_a_link(tmp_path, make_shot,
                                                                                         tiny_checkpoint):
    shot = load_shot(make_shot(tmp_path / "st", "1001-1002", SIZE))
    folder = Path(shot.output_path(1001)).parent
    folder.mkdir()
    name = os.path.basename(shot.output_path(1001))
    users = folder / f".{name[:-len('.exr')]}.v2_final.partial.exr"  # matched the old pattern
    users.write_bytes(b"the artist's file")
    kept = tmp_path / "kept.txt"
    kept.write_text("keep me")
    link = folder / temporary_name(name)
    link.symlink_to(kept)
    stale = folder / temporary_name(name)
    stale.write_bytes(b"left by a killed write")
    status, err = run_cli("render", shot.path, "--checkpoint", tiny_checkpoint, "--device", "cpu")
    assert status == 0, err
    assert users.read_bytes() == b"the artist's file"
    assert link.is_symlink() and kept.read_text() == "keep me"
    assert not stale.exists()


# -- 15: serve's roots ---------------------------------------------------------------------------


def test_15_serve_with_a_missing_root_is_exit_2_and_creates_nothing(tmp_path, tiny_checkpoint):
    missing = tmp_path / "no" / "such" / "root"
    command = serve_command(tiny_checkpoint, free_port("127.0.0.1"), [missing])
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise AssertionError("serve started with a root that does not exist") from None
    assert done.returncode == 2 and str(missing) in done.stderr and "no such folder" in done.stderr, done.stderr
    assert not (tmp_path / "no").exists()
    assert sorted(os.listdir(tmp_path)) == []


# -- every output of every command: the contact sheet too ---------------------------------------


def test_a_contact_sheet_replaces_only_a_contact_sheet_hyperseg_wrote(tmp_path, make_shot):
    shot = load_shot(make_shot(tmp_path / "pv", "1001-1002", SIZE))
    users = tmp_path / "pv" / "board.png"
    write_image(users, np.zeros((8, 8, 3)))
    before = digest(users)
    status, err = run_cli("preview", shot.path, "--out", users)
    assert status == 2 and str(users) in err and "not a contact sheet hyperseg-vfx wrote" in err, err
    assert digest(users) == before
    sheet = tmp_path / "pv" / "sheet.png"
    for _ in range(2):  # its own sheet is replaced
        status, err = run_cli("preview", shot.path, "--out", sheet)
        assert status == 0, err
