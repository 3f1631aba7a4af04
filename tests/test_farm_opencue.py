"""OpenCue: the pyoutline job XML (golden file, valid against Cuebot's cjsl-1.13 DTD), dispatched by
a stand-in Cuebot with each generation's #FRAME_END# semantics and run as RQD runs it (fixed PATH,
/bin/sh command file, CUE_GPU_CORES): every chunk renders exactly its frames. Quoting for RQD's
.bat, Cuebot's name rules, unique job names, the spec version, and the launch to a fake Cuebot that
answers pyoutline's real gRPC call (see tests/fake_cuebot.py for the sources of each rule)."""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.dom import minidom

import numpy as np
import pytest
from fake_cuebot import SEMANTICS, FakeCuebot, SpecRefused, dispatch, rqd_run, rqd_windows_batch, validate_spec
from test_farm_openjd import pixels

from hyperseg_vfx.errors import HypersegError
from hyperseg_vfx.farm import FarmInputError, FarmSubmitError, submit_shot
from hyperseg_vfx.farm.gpus import restrict_gpus_from_env
from hyperseg_vfx.render import render_shot
from hyperseg_vfx.sequences import parse_frame_spec
from hyperseg_vfx.shot import load_shot

HYPERSEG = str(Path(sys.executable).with_name("hyperseg-vfx"))


@pytest.fixture(autouse=True)
def opencue_env(tmp_path, monkeypatch):
    """A home of its own (pyoutline must leave no session there), a fixed show, no Cuebot."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SHOW", "hyperseg")
    for name in ("CUEBOT_HOSTS", "SHOT", "HYPERSEG_VFX_COMMAND", "RENDER_TO", "FACILITY",
                 "HYPERSEG_OPENCUE_SPEC_VERSION"):
        monkeypatch.delenv(name, raising=False)


def submit_xml(shot: Path, out: Path, **kwargs) -> str:
    submit_shot(shot, "opencue", out_dir=out, **kwargs)
    return (out / "job.xml").read_text()


def layers(xml_text: str) -> list[ET.Element]:
    return ET.fromstring(xml_text).findall("./job/layers/layer")


def frames_argument(command: str) -> list[int]:
    argv = shlex.split(command)
    return parse_frame_spec(argv[argv.index("--frames") + 1])


def test_job_xml_golden_and_fields(farm_shot, golden, tmp_path):
    shot = farm_shot("1001-1005")
    result = submit_shot(shot, "opencue", chunk_size=2, gpus=1, priority=70, out_dir=tmp_path / "cue")
    assert not result.submitted and "CUEBOT_HOSTS is not set" in result.message
    text = (tmp_path / "cue" / "job.xml").read_text()
    assert text.startswith('<?xml version="1.0"?>\n<!DOCTYPE spec PUBLIC "SPI Cue  Specification Language" '
                           '"http://localhost:8080/spcue/dtd/cjsl-1.13.dtd">\n<spec>\n  <facility>')
    root = validate_spec(text)
    assert root.findtext("show") == "hyperseg" and root.findtext("shot") == "sh010"
    name = root.find("job").get("name")
    assert re.fullmatch(r"hyperseg_sh010_[0-9a-f]{8}", name) and root.findtext("job/priority") == "70"
    (layer,) = layers(text)
    assert (layer.findtext("range"), layer.findtext("chunk"), layer.findtext("gpus")) == ("1001-1005", "2", "1")
    assert " " in str(shot)
    assert shlex.split(layer.findtext("cmd")) == [HYPERSEG, "render", str(shot), "--frames", "#FRAMESPEC#",
                                                  "--device", "cuda", "--gpu-list-env", "CUE_GPU_CORES"]
    user = root.findtext("user")
    for element, value in ((f"<user>{user}</user>", "<user>USER</user>"),
                           (f"<email>{root.findtext('email')}</email>", "<email>USER@example.com</email>"),
                           (f"<uid>{root.findtext('uid')}</uid>", "<uid>UID</uid>"), (name, "hyperseg_sh010_SUFFIX")):
        text = text.replace(element, value)
    golden("farm/opencue/job.xml", text, shot_dir=shot.parent, command=HYPERSEG)  # the file as written: indented
    assert not (tmp_path / "home" / ".opencue").exists()
    assert "SHOT" not in os.environ


def test_show_shot_and_user_come_from_the_options_or_the_shots_farm_section(farm_shot, tmp_path):
    import yaml
    from click.testing import CliRunner

    from hyperseg_vfx.cli import main

    shot = farm_shot("1001-1002")
    data = yaml.safe_load(shot.read_text())
    shot.write_text(yaml.safe_dump(dict(data, farm={"show": "bigshow", "shot": "sq01_sh010", "user": "jdoe"})))
    root = validate_spec(submit_xml(shot, tmp_path / "a"))
    assert [root.findtext(k) for k in ("show", "shot", "user", "email")] == \
        ["bigshow", "sq01_sh010", "jdoe", "jdoe@example.com"]
    result = CliRunner().invoke(main, ["submit", str(shot), "--farm", "opencue", "--dry-run", "--out", str(tmp_path / "b"),
                                       "--show", "other", "--shot", "sh020", "--user", "wrangler"])
    assert result.exit_code == 0, result.output
    root = validate_spec((tmp_path / "b" / "job.xml").read_text())
    assert [root.findtext(k) for k in ("show", "shot", "user")] == ["other", "sh020", "wrangler"]
    bad = CliRunner().invoke(main, ["submit", str(shot), "--farm", "opencue", "--dry-run", "--out", str(tmp_path / "c"),
                                    "--user", "x\nPostJob"])
    assert bad.exit_code == 2 and "user: holds a control character" in bad.output and not (tmp_path / "c").exists()


@pytest.mark.parametrize("semantics", SEMANTICS)
@pytest.mark.parametrize("frames", ["1001-1005", "1001-1009x2", "1001-1009x2,1020-1022"])
def test_every_cuebot_dispatches_exactly_the_shot_frames(farm_shot, tmp_path, frames, semantics):
    """#FRAME_END# differs between Cuebot generations; #FRAMESPEC# does not."""
    shot = farm_shot(frames)
    rendered = []
    for layer in layers(submit_xml(shot, tmp_path / "cue", chunk_size=2)):
        for task in dispatch(layer, semantics):
            assert frames_argument(task.command) == task.frames
            rendered += task.frames
    assert rendered == parse_frame_spec(frames)


@pytest.mark.parametrize("frames", ["1001-1005", "1001-1009x2"])
def test_pre_1_0_cuebot_and_rqd_render_every_frame(farm_shot, make_segmenter, tmp_path, frames):
    """The Cuebot most farms run (#FRAME_END# = frame + chunk - 1), its RQD's fixed PATH and
    /bin/sh: each task renders the frames Cuebot marks done, and they equal one local render."""
    shot_file = farm_shot(frames)
    (layer,) = layers(submit_xml(shot_file, tmp_path / "cue", chunk_size=2))
    shot = load_shot(shot_file)
    import torch

    threads = {"OMP_NUM_THREADS": str(torch.get_num_threads())}  # the local render's summation order
    for task in dispatch(layer, "pre-1.0"):
        run = rqd_run(task.command, extra_env=threads)
        assert run.returncode == 0, run.stdout + run.stderr
        assert f"{len(task.frames)} written" in run.stderr
    local = dataclasses.replace(shot, output=str(tmp_path / "local" / "m.####.exr"))
    assert render_shot(local, make_segmenter()).ok
    for frame in shot.frames:
        assert np.array_equal(pixels(shot.output_path(frame)), pixels(local.output_path(frame))), frame


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a host without a GPU")
def test_a_gpu_layer_on_a_host_without_a_gpu_fails_instead_of_rendering_on_the_cpu(farm_shot, tmp_path):
    """RQD gives the frame CUE_GPU_CORES=0, but this host has no GPU: the task exits 2 naming
    CUDA (Cuebot retries it) and writes no matte, where it used to render on the CPU and exit 0."""
    shot_file = farm_shot("1001-1002")
    (layer,) = layers(submit_xml(shot_file, tmp_path / "cue", chunk_size=2, gpus=1))
    (task,) = dispatch(layer, "current")
    run = rqd_run(task.command, gpu_list="0")
    assert run.returncode == 2, run.stdout + run.stderr
    assert "GPUs: CUDA_VISIBLE_DEVICES=0 (from $CUE_GPU_CORES)" in run.stderr
    assert "Error: --device cuda: CUDA is not available here" in run.stderr
    assert not any((shot_file.parent / "mattes").glob("*.exr"))


def windows_argv(command_line: str) -> list[str]:
    """The argv a Windows C runtime program (python.exe, a pip launcher) parses from its command
    line (Microsoft, "Parsing C command-line arguments"): quotes group, 2n backslashes before a
    quote are n backslashes, other backslashes are literal."""
    argv, word, quoted, i, in_word = [], "", False, 0, False
    while i < len(command_line):
        c = command_line[i]
        if c == "\\":
            n = len(command_line[i:]) - len(command_line[i:].lstrip("\\"))
            if i + n < len(command_line) and command_line[i + n] == '"':
                word += "\\" * (n // 2)
                if n % 2:
                    word += '"'
                    i += 1
                i += n
            else:
                word += "\\" * n
                i += n
            in_word = True
            continue
        if c == '"':
            quoted, in_word = not quoted, True
        elif c in " \t" and not quoted:
            if in_word:
                argv.append(word)
            word, in_word = "", False
        else:
            word, in_word = word + c, True
        i += 1
    if in_word:
        argv.append(word)
    return argv


def cmd_batch_line(text: str) -> str:
    """What cmd.exe makes of a .bat line before starting the program: `%%` is `%`, and outside
    quotes `^x` is `x` (no variables are referenced: RQD's escaping leaves none)."""
    out, quoted, i = "", False, 0
    while i < len(text):
        c = text[i]
        if text.startswith("%%", i):
            out, i = out + "%", i + 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == "^" and not quoted and i + 1 < len(text):
            out, i = out + text[i + 1], i + 2
            continue
        out, i = out + c, i + 1
    return out


def test_the_command_survives_rqds_windows_batch_file(tmp_path, make_shot, tiny_checkpoint, monkeypatch):
    monkeypatch.setenv("HYPERSEG_VFX_COMMAND", "C:\\Program Files\\hyperseg-vfx\\Scripts\\hyperseg-vfx.exe")
    shot = make_shot(tmp_path / "100% sh dir", frames="1001-1003", name="sh010", checkpoint=tiny_checkpoint)
    (layer,) = layers(submit_xml(shot, tmp_path / "cue", chunk_size=2))
    for task in dispatch(layer, "current"):
        argv = windows_argv(cmd_batch_line(rqd_windows_batch(task.command)))
        assert argv == ["C:\\Program Files\\hyperseg-vfx\\Scripts\\hyperseg-vfx.exe", "render", str(shot),
                        "--frames", argv[4]]
        assert parse_frame_spec(argv[4]) == task.frames
        assert shlex.split(task.command) == argv  # and the same words through RQD's /bin/sh


@pytest.mark.parametrize("folder, bad", [('say "hi"', '\'"\''), ("cost$HOME", "'$'"), ("R&D", "'&'"),
                                         ("a|b", "'|'")])
def test_words_rqd_cannot_pass_are_refused(tmp_path, make_shot, tiny_checkpoint, folder, bad):
    shot = make_shot(tmp_path / folder, frames="1001-1002", name="sh010", checkpoint=tiny_checkpoint)
    with pytest.raises(FarmInputError, match=rf"^shot: .* holds {re.escape(bad)}"):
        submit_shot(shot, "opencue", out_dir=tmp_path / "cue")
    assert not (tmp_path / "cue").exists()


def test_the_executable_is_absolute_or_refused(farm_shot, tmp_path, monkeypatch):
    shot = farm_shot()
    monkeypatch.setenv("HYPERSEG_VFX_COMMAND", "hyperseg-vfx")
    with pytest.raises(FarmInputError, match="HYPERSEG_VFX_COMMAND: must be an absolute path on OpenCue"):
        submit_shot(shot, "opencue", out_dir=tmp_path / "cue")
    monkeypatch.setenv("HYPERSEG_VFX_COMMAND", "/opt/hyperseg/bin/hyperseg-vfx")
    (layer,) = layers(submit_xml(shot, tmp_path / "cue"))
    assert shlex.split(layer.findtext("cmd"))[0] == "/opt/hyperseg/bin/hyperseg-vfx"
    monkeypatch.delenv("HYPERSEG_VFX_COMMAND")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "nowhere" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(FarmInputError, match="HYPERSEG_VFX_COMMAND: is not set and hyperseg-vfx is not installed"):
        submit_shot(shot, "opencue", out_dir=tmp_path / "cue2")


def test_spec_version_is_configurable_and_checked(farm_shot, tmp_path, monkeypatch):
    shot = farm_shot()
    monkeypatch.setenv("HYPERSEG_OPENCUE_SPEC_VERSION", "1.15")
    text = submit_xml(shot, tmp_path / "cue15")
    assert "cjsl-1.15.dtd" in text and "<outputs" in text
    with pytest.raises(SpecRefused, match="no DTD cjsl-1.15.dtd"):
        validate_spec(text, shipped=("1.13", "1.14"))  # a Cuebot before 1.13.8
    monkeypatch.setenv("HYPERSEG_OPENCUE_SPEC_VERSION", "2.0")
    with pytest.raises(FarmInputError, match="HYPERSEG_OPENCUE_SPEC_VERSION: must be one of 1.13, 1.14, 1.15"):
        submit_shot(shot, "opencue", out_dir=tmp_path / "cue20")


def test_gpu_list_env_sets_cuda_visible_devices():
    environ = {"CUE_GPU_CORES": "2,3"}
    assert restrict_gpus_from_env("CUE_GPU_CORES", environ) == "2,3"
    assert environ == {"CUE_GPU_CORES": "2,3", "CUDA_VISIBLE_DEVICES": "2,3", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    assert restrict_gpus_from_env("CUE_GPU_CORES", {}) is None
    with pytest.raises(HypersegError, match=r"\$CUE_GPU_CORES must be a comma list"):
        restrict_gpus_from_env("CUE_GPU_CORES", {"CUE_GPU_CORES": "0;rm -rf /"})


@pytest.fixture
def cuebot(monkeypatch):
    """A FakeCuebot named by CUEBOT_HOSTS, with opencue's client state reset around the test."""
    from opencue.cuebot import Cuebot

    fake = FakeCuebot()
    monkeypatch.setenv("CUEBOT_HOSTS", f"127.0.0.1:{fake.port}")
    monkeypatch.setattr(Cuebot, "RpcChannel", None)
    monkeypatch.setattr(Cuebot, "Hosts", [])
    monkeypatch.setattr(Cuebot, "Stubs", {})
    yield fake
    fake.server.stop(None)


def test_launch_with_cuebot_hosts_sends_the_written_xml(farm_shot, cuebot, tmp_path):
    result = submit_shot(farm_shot(), "opencue", chunk_size=2, out_dir=tmp_path / "cue")
    assert result.submitted and result.job_id
    assert cuebot.specs == [(tmp_path / "cue" / "job.xml").read_text().rstrip("\n")]
    assert re.search(r"as hyperseg-sh010-\S+_hyperseg_sh010_[0-9a-f]{8}\.", result.message)


def test_a_resubmission_is_accepted_while_the_first_job_is_pending(farm_shot, cuebot, tmp_path):
    shot = farm_shot()
    first = submit_shot(shot, "opencue", out_dir=tmp_path / "cue")
    second = submit_shot(shot, "opencue", out_dir=tmp_path / "cue")
    assert first.submitted and second.submitted and len(cuebot.pending) == 2


def test_short_names_are_padded_to_cuebots_minimum(tmp_path, make_shot, tiny_checkpoint, cuebot, monkeypatch):
    monkeypatch.setenv("SHOW", "x")
    shot = make_shot(tmp_path / "shots", frames="1-2", name="a", checkpoint=tiny_checkpoint)
    result = submit_shot(shot, "opencue", out_dir=tmp_path / "cue")
    root = ET.fromstring((tmp_path / "cue" / "job.xml").read_text())
    assert (root.findtext("show"), root.findtext("shot")) == ("x__", "a__")
    assert result.submitted and re.search(r"as x__-a__-", result.message)


def test_dry_run_does_not_launch(farm_shot, cuebot, tmp_path):
    result = submit_shot(farm_shot(), "opencue", dry_run=True, out_dir=tmp_path / "cue")
    assert not result.submitted and cuebot.specs == [] and (tmp_path / "cue" / "job.xml").is_file()


def test_cuebot_refusal_is_an_error(farm_shot, cuebot, tmp_path):
    cuebot.refusal = "show hyperseg does not exist"
    with pytest.raises(FarmSubmitError, match="show hyperseg does not exist"):
        submit_shot(farm_shot(), "opencue", out_dir=tmp_path / "cue")
