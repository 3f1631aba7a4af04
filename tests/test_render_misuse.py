"""`hyperseg-vfx render` (the real CLI, in a subprocess) misused: outputs over the user's files,
a billion frames, a 60000x60000 EXR, shot files that are not text, a read-only output folder.
Each is exit status 2 with one `Error:` line naming the file or field, before any frame is
computed, and every file is left as it was."""

from __future__ import annotations

import hashlib
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from image_files import write_image

from hyperseg_vfx.io.exr import read_matte_metadata
from hyperseg_vfx.shot import load_shot

SIZE = (96, 64)
DATA_LIMIT = 4 * 1024**3


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_DATA, (DATA_LIMIT, DATA_LIMIT))


def run_cli(*args, timeout: float = 300):
    """(exit status, stdout, stderr, peak RSS bytes) of `hyperseg-vfx ARGS` in a subprocess whose
    data segment is limited (a run that allocates gigabytes fails instead of filling the machine).
    The peak RSS is the child's own (os.wait4's rusage)."""
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([sys.executable, "-m", "hyperseg_vfx.cli", *map(str, args)], stdout=out,
                                   stderr=err, text=True, preexec_fn=_limit_memory)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"hyperseg-vfx {args} still running after {timeout} s")
            time.sleep(0.05)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return process.returncode, out.read(), err.read(), usage.ru_maxrss * 1024


def digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    assert not any(line.startswith("frame ") for line in lines), stderr  # no frame was computed
    return errors[0]


@pytest.fixture
def shot(tmp_path, make_shot, tiny_checkpoint):
    return load_shot(make_shot(tmp_path, "1001-1003", SIZE, checkpoint=tiny_checkpoint))


def with_output(shot, output, **changes) -> Path:
    data = dict(yaml.safe_load(Path(shot.path).read_text()), output=str(output), **changes)
    path = Path(shot.path).with_name("changed.yaml")
    path.write_text(yaml.safe_dump(data))
    return path


def test_render_refuses_to_overwrite_a_plate_a_shot_file_or_a_non_matte_exr(shot, tmp_path):
    notes = write_image(tmp_path / "notes.exr", np.full((8, 8, 3), 0.5))
    other_plates = tmp_path / "other"
    other_plates.mkdir()
    for frame in shot.frames:
        write_image(other_plates / f"o.{frame}.png", np.full((SIZE[1], SIZE[0], 3), 0.5), fmt="uint8")
    for victim, output in ((notes, notes), (other_plates / "o.1002.png", other_plates / "o.####.png"),
                           (shot.path, shot.path)):
        before = digest(victim)
        frames = ["--frames", "1002"] if "####" not in str(output) else []
        status, _out, err, _rss = run_cli("render", with_output(shot, output), *frames)
        line = one_error_line(err)
        assert status == 2 and "is not a matte hyperseg-vfx wrote" in line and "--overwrite" in line, err
        assert digest(victim) == before
    assert sorted(os.listdir(other_plates)) == ["o.1001.png", "o.1002.png", "o.1003.png"]


def test_render_replaces_its_own_mattes_and_anything_with_overwrite(shot, tmp_path):
    status, _out, err, _rss = run_cli("render", shot.path)
    assert status == 0, err
    status, _out, err, _rss = run_cli("render", shot.path)  # the mattes it wrote: replaced
    assert status == 0, err
    notes = write_image(tmp_path / "notes.exr", np.full((8, 8, 3), 0.5))
    status, _out, err, _rss = run_cli("render", with_output(shot, notes), "--frames", "1002", "--overwrite")
    assert status == 0, err
    from hyperseg_vfx.io.exr import read_matte_metadata

    assert read_matte_metadata(notes)["frame"] == "1002"


def test_a_billion_frames_is_exit_2_at_once(shot):
    start = time.monotonic()
    status, _out, err, rss = run_cli("render", shot.path, "--frames", "1-1000000000")
    line = one_error_line(err)
    assert status == 2 and "more than 100000 frames" in line and "frames" in line, err
    padded = with_output(shot, Path(shot.output).with_name("m.%0100000000d.exr"))
    status, _out, err, _rss = run_cli("render", padded)
    assert status == 2 and "wider than 10 digits" in one_error_line(err) and len(err) < 2000, err[:2000]
    print(f"render --frames 1-1000000000: exit 2 after {time.monotonic() - start:.2f} s (two runs, with start-up); "
          f"peak RSS {rss / 2**20:.0f} MiB")


def test_a_tiny_exr_with_a_huge_display_window_is_exit_2(shot, tmp_path):
    plates = tmp_path / "huge"
    plates.mkdir()
    for frame in shot.frames:
        write_image(plates / f"p.{frame}.exr", np.zeros((2, 2, 3)), display=(0, 0, 60000, 60000))
    data = dict(yaml.safe_load(Path(shot.path).read_text()), input=str(plates / "p.####.exr"))
    path = tmp_path / "huge.yaml"
    path.write_text(yaml.safe_dump(data))
    status, _out, err, _rss = run_cli("render", path)
    line = one_error_line(err)
    assert status == 2 and "p.1001.exr" in line and "display window 60000x60000" in line, err


@pytest.mark.parametrize("content", [bytes(range(256)) * 8, b"[" * 100000, b"{a: " * 5000 + b"1" + b"}" * 5000,
                                     "input: caf\xe9.####.exr\n".encode("latin-1"), b"a: 1\na: 2\n"])
def test_shot_files_that_are_not_text_nest_too_deep_or_repeat_a_key_are_exit_2(tmp_path, content):
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    status, _out, err, _rss = run_cli("render", path)
    assert status == 2 and str(path) in one_error_line(err), err


def test_a_read_only_output_folder_is_found_before_computing(shot):
    status, _out, err, _rss = run_cli("render", with_output(shot, "/sys/hyperseg-test/m.####.exr"))
    line = one_error_line(err)
    assert status == 2 and "/sys" in line and "permission denied" in line, err


def test_an_output_folder_that_is_a_file_or_a_folder_in_the_way_is_exit_2(shot, tmp_path):
    (tmp_path / "folder.exr").mkdir()
    for output in (Path(shot.input_path(1001)) / "m.####.exr", tmp_path / "folder.exr"):
        frames = ["--frames", "1001"] if "####" not in str(output) else []
        status, _out, err, _rss = run_cli("render", with_output(shot, output), *frames)
        assert status == 2 and "output" in one_error_line(err), err


def test_help_lists_every_exit_status():
    status, out, err, _rss = run_cli("render", "--help")
    assert status == 0, err
    for code in ("0 ", "1 ", "2 ", "130", "143"):
        assert f"  {code}" in out, out
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "130" in readme and "143" in readme


def test_a_newline_in_the_output_cannot_reach_a_deadline_job_file(shot, tmp_path):
    injected = with_output(shot, str(Path(shot.output).parent / "m.####.exr\nPostJobScript=/tmp/evil.py"))
    out_dir = tmp_path / "farm"
    status, _out, err, _rss = run_cli("submit", injected, "--farm", "deadline10", "--dry-run", "--out", out_dir)
    line = one_error_line(err)
    assert status == 2 and "output" in line and "control characters" in line, err
    assert not out_dir.exists()


def test_frames_outside_the_shot_are_exit_2(shot):
    status, _out, err, _rss = run_cli("render", shot.path, "--frames", "1002-1005")
    assert status == 2
    assert one_error_line(err) == "Error: frames (frame 1004): 1002-1005 asks for 2 frame(s) outside the shot's " \
                                  "frames 1001-1003"
    assert not Path(shot.output_path(1002)).exists()


def test_a_single_file_input_must_be_said(shot, tmp_path):
    """An input without a frame token is one image for every frame: refused with the fix named,
    rendered (every frame from that one image) with `hold: true`."""
    data = dict(yaml.safe_load(Path(shot.path).read_text()), input=shot.input_path(1001))
    held = Path(shot.path).with_name("held.yaml")
    held.write_text(yaml.safe_dump(data))
    status, _out, err, _rss = run_cli("render", held)
    assert status == 2
    line = one_error_line(err)
    assert line.startswith(f"Error: input: {shot.input_path(1001)} has no frame token (####, %04d) but 3 frames")
    assert "`hold: true`" in line
    held.write_text(yaml.safe_dump(dict(data, hold=True)))
    status, _out, err, _rss = run_cli("render", held)
    assert status == 0, err
    sources = {read_matte_metadata(shot.output_path(f))["source"] for f in shot.frames}
    assert sources == {shot.input_path(1001)}  # every frame's matte made from the one image
    assert load_shot(held).to_dict()["hold"] is True


def test_submit_and_serve_help_list_their_exit_statuses():
    status, out, err, _rss = run_cli("submit", "--help")
    assert status == 0, err
    for line in ("  0  the engine accepted the job", "  2  bad input", "  3  the job files were written but not"):
        assert line in out, out
    status, out, err, _rss = run_cli("serve", "--help")
    assert status == 0 and "the port is in use" in out and "  130" in out and "  143" in out, out
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "| 3 | `submit` only: the job files were written but no engine took the job" in readme
