"""OpenJD: every template passes `openjd check`, and a real `openjd run` of a generated bundle, in
chunks, writes the mattes of one local render of the whole range, bit for bit."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest
import yaml

from hyperseg_vfx.farm import FarmInputError, FarmSubmitError, submit_shot
from hyperseg_vfx.farm.resources import FARM_DIR
from hyperseg_vfx.render import render_shot
from hyperseg_vfx.shot import load_shot

OPENJD = str(Path(sys.executable).with_name("openjd"))


def openjd_check(template: Path) -> subprocess.CompletedProcess:
    return subprocess.run([OPENJD, "check", str(template)], capture_output=True, text=True)


def pixels(path) -> np.ndarray:
    image = oiio.ImageInput.open(str(path))
    assert image is not None, oiio.geterror()
    try:
        return image.read_image(0, 0, 0, image.spec().nchannels, oiio.FLOAT)
    finally:
        image.close()


def test_shipped_template_passes_openjd_check():
    result = openjd_check(FARM_DIR / "openjd" / "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("frames, gpus", [("1001-1005", 0), ("1001-1009x2,1020-1022", 2)])
def test_generated_templates_pass_openjd_check(farm_shot, tmp_path, frames, gpus):
    result = submit_shot(farm_shot(frames), "openjd", gpus=gpus, out_dir=tmp_path / "bundle")
    check = openjd_check(result.out_dir / "template.yaml")
    assert check.returncode == 0, check.stdout + check.stderr
    template = yaml.safe_load((result.out_dir / "template.yaml").read_text())
    (step,) = template["steps"]
    assert ("hostRequirements" in step) == (gpus > 0)
    args = step["script"]["actions"]["onRun"]["args"]
    assert (args[-2:] == ["--device", "cuda"]) == (gpus > 0)  # a GPU job never renders on a CPU


def test_openjd_run_in_chunks_equals_one_local_render(farm_shot, make_segmenter, tmp_path, capfd):
    shot_file = farm_shot("1001-1005")
    result = submit_shot(shot_file, "openjd", chunk_size=2, run_local=True)
    assert result.submitted
    log = capfd.readouterr().out
    assert re.findall(r"Frame\(CHUNK\[INT\]\) = (\S+)", log) == ["1001-1002", "1003-1004", "1005-1005"]
    assert "openjd_progress: 100.0" in log

    shot = load_shot(shot_file)
    local = dataclasses.replace(shot, output=str(tmp_path / "local" / "m.####.exr"))
    assert render_shot(local, make_segmenter()).ok
    for frame in shot.frames:
        farm, whole = pixels(shot.output_path(frame)), pixels(local.output_path(frame))
        assert farm.shape == (64, 96, 1) and np.array_equal(farm, whole), f"frame {frame} differs"


def test_a_failing_task_fails_the_local_run(farm_shot, tmp_path, capfd):
    shot_file = farm_shot("1001-1002")
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    shot_file.write_text(shot_file.read_text().replace(str(load_shot(shot_file).checkpoint), str(broken)))
    with pytest.raises(FarmSubmitError, match="`openjd run` of .* failed"):
        submit_shot(shot_file, "openjd", run_local=True)
    assert "broken.pt" in capfd.readouterr().out  # the render's own error, in the task's log


def test_openjd_run_of_a_shot_on_twos_chunks_several_frames_per_task(farm_shot, make_segmenter, tmp_path, capfd):
    """CONTIGUOUS chunks of 1001-1009:2 would be single frames; NONCONTIGUOUS ones hold two, passed
    to the render as OpenJD range expressions, and the mattes still equal one local render."""
    shot_file = farm_shot("1001-1009x2")
    result = submit_shot(shot_file, "openjd", chunk_size=2, run_local=True)
    assert "NONCONTIGUOUS" in (result.out_dir / "template.yaml").read_text()
    log = capfd.readouterr().out
    assert re.findall(r"Frame\(CHUNK\[INT\]\) = (\S+)", log) == ["1001,1003", "1005,1007", "1009"]
    shot = load_shot(shot_file)
    local = dataclasses.replace(shot, output=str(tmp_path / "local" / "m.####.exr"))
    assert render_shot(local, make_segmenter()).ok
    for frame in shot.frames:
        assert np.array_equal(pixels(shot.output_path(frame)), pixels(local.output_path(frame))), frame


def test_frame_specs_take_openjd_steps():
    from hyperseg_vfx.sequences import parse_frame_spec

    assert parse_frame_spec("1001-1009:2") == parse_frame_spec("1001-1009x2") == [1001, 1003, 1005, 1007, 1009]
    assert parse_frame_spec("1-3,7-20:5") == [1, 2, 3, 7, 12, 17]


@pytest.mark.parametrize("farm", ["openjd", "deadline-cloud"])
def test_chunk_size_is_capped_at_deadline_clouds_maximum(farm_shot, tmp_path, farm):
    shot = farm_shot()
    with pytest.raises(FarmInputError, match=r"chunk_size: .* at most 150 frames per task, got 151"):
        submit_shot(shot, farm, chunk_size=151, dry_run=True, out_dir=tmp_path / "bundle")
    assert not (tmp_path / "bundle").exists()
    assert submit_shot(shot, farm, chunk_size=150, dry_run=True, out_dir=tmp_path / "bundle").files


def test_render_stops_on_ctrl_break_as_on_sigterm(monkeypatch):
    """On Windows OpenJD's cancel sends CTRL_BREAK_EVENT, which Python raises as SIGBREAK (a
    Windows-only name): simulated here by SIGUSR1 under that name."""
    import os
    import signal
    import threading

    from hyperseg_vfx.cli.progress import stop_on_signals

    monkeypatch.setattr(signal, "SIGBREAK", signal.SIGUSR1, raising=False)
    cancel, received = threading.Event(), []
    previous = stop_on_signals(cancel, received)
    try:
        assert signal.SIGUSR1 in previous
        os.kill(os.getpid(), signal.SIGUSR1)
        assert cancel.wait(5) and received == [signal.SIGUSR1]
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
