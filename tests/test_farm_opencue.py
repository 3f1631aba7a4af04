"""OpenCue: the pyoutline job XML (golden file; range, chunk and command parsed), chunks that cover
exactly the shot's frames, and the launch: only with CUEBOT_HOSTS set, to a fake Cuebot that
answers pyoutline's real gRPC call like the real one."""

from __future__ import annotations

import os
import shlex
import uuid
import xml.etree.ElementTree as ET
from concurrent import futures
from xml.dom import minidom

import FileSequence
import grpc
import pytest

from hyperseg_vfx.farm import FarmSubmitError, submit_shot
from hyperseg_vfx.sequences import parse_frame_spec


@pytest.fixture(autouse=True)
def opencue_env(tmp_path, monkeypatch):
    """A home of its own (pyoutline must leave no session there), a fixed show, no Cuebot."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SHOW", "hyperseg")
    for name in ("CUEBOT_HOSTS", "SHOT", "HYPERSEG_VFX_COMMAND", "RENDER_TO", "FACILITY"):
        monkeypatch.delenv(name, raising=False)


def layers(xml_text: str) -> list[ET.Element]:
    return ET.fromstring(xml_text).findall("./job/layers/layer")


def cuebot_chunks(layer: ET.Element) -> list[tuple[list[int], list[str]]]:
    """(frames, argv) of each chunk of `layer` as Cuebot dispatches it: the range in chunks of
    `chunk` frames, #FRAME_START#/#FRAME_END# replaced by a chunk's first and last frame."""
    frames = list(FileSequence.FrameSet(layer.findtext("range")))
    size = int(layer.findtext("chunk"))
    chunks = []
    for i in range(0, len(frames), size):
        chunk = frames[i:i + size]
        cmd = layer.findtext("cmd").replace("#FRAME_START#", str(chunk[0])).replace("#FRAME_END#", str(chunk[-1]))
        chunks.append((chunk, shlex.split(cmd)))
    return chunks


def test_job_xml_golden_and_fields(farm_shot, golden, tmp_path):
    shot = farm_shot("1001-1005")
    result = submit_shot(shot, "opencue", chunk_size=2, gpus=1, priority=70, out_dir=tmp_path / "cue")
    assert not result.submitted and "CUEBOT_HOSTS is not set" in result.message
    text = (tmp_path / "cue" / "job.xml").read_text()
    root = ET.fromstring(text)
    assert root.findtext("show") == "hyperseg" and root.findtext("shot") == "sh010"
    assert root.find("job").get("name") == "hyperseg_sh010" and root.findtext("job/priority") == "70"
    (layer,) = layers(text)
    assert (layer.findtext("range"), layer.findtext("chunk"), layer.findtext("gpus")) == ("1001-1005", "2", "1")
    shot_path = str(shot)
    assert " " in shot_path
    assert cuebot_chunks(layer) == [
        ([1001, 1002], ["hyperseg-vfx", "render", shot_path, "--frames", "1001-1002"]),
        ([1003, 1004], ["hyperseg-vfx", "render", shot_path, "--frames", "1003-1004"]),
        ([1005], ["hyperseg-vfx", "render", shot_path, "--frames", "1005-1005"]),
    ]
    assert text.startswith('<?xml version="1.0"?><!DOCTYPE spec PUBLIC "SPI Cue  Specification Language"')
    for element, value in (("user", "USER"), ("email", "USER@example.com"), ("uid", "UID")):
        root.find(element).text = value
    pretty = minidom.parseString(ET.tostring(root)).toprettyxml(indent="  ")
    golden("farm/opencue/job.xml", pretty, shot_dir=shot.parent)
    assert not (tmp_path / "home" / ".opencue").exists()
    assert "SHOT" not in os.environ


def test_chunks_cover_exactly_the_shot_frames(farm_shot, tmp_path):
    shot = farm_shot("1001-1009x2,1020-1022")
    submit_shot(shot, "opencue", chunk_size=2, out_dir=tmp_path / "cue")
    found = layers((tmp_path / "cue" / "job.xml").read_text())
    assert [(la.get("name"), la.findtext("range")) for la in found] == [("render1", "1001-1009x2"),
                                                                        ("render2", "1020-1022")]
    rendered = []
    for layer in found:
        for frames, argv in cuebot_chunks(layer):
            assert parse_frame_spec(argv[argv.index("--frames") + 1]) == frames
            rendered += frames
    assert rendered == parse_frame_spec("1001-1009x2,1020-1022")


class FakeCuebot:
    """Cuebot on a local port: the system stats the client checks the connection with, and the
    job service, whose LaunchSpecAndWait parses the spec and answers with
    the jobs it describes, named show-shot-user_name as Cuebot names them, or, when `refusal` is
    set, fails the call with it as Cuebot does for a spec it rejects."""

    def __init__(self):
        from opencue_proto import cue_pb2, cue_pb2_grpc, job_pb2, job_pb2_grpc

        self.specs: list[str] = []
        self.refusal: str | None = None
        outer = self

        class JobService(job_pb2_grpc.JobInterfaceServicer):
            def LaunchSpecAndWait(self, request, context):
                if outer.refusal:
                    context.abort(grpc.StatusCode.INTERNAL, outer.refusal)
                outer.specs.append(request.spec)
                root = ET.fromstring(request.spec)
                show, shot, user = (root.findtext(k) for k in ("show", "shot", "user"))
                jobs = [job_pb2.Job(id=str(uuid.uuid4()), name=f"{show}-{shot}-{user}_{j.get('name')}",
                                    show=show, shot=shot, user=user, priority=int(j.findtext("priority")))
                        for j in root.findall("job")]
                return job_pb2.JobLaunchSpecAndWaitResponse(jobs=job_pb2.JobSeq(jobs=jobs))

        class CueService(cue_pb2_grpc.CueInterfaceServicer):
            def GetSystemStats(self, request, context):
                return cue_pb2.CueGetSystemStatsResponse()

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
        cue_pb2_grpc.add_CueInterfaceServicer_to_server(CueService(), self.server)
        job_pb2_grpc.add_JobInterfaceServicer_to_server(JobService(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()


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
    assert "as hyperseg-sh010-" in result.message and "_hyperseg_sh010" in result.message


def test_dry_run_does_not_launch(farm_shot, cuebot, tmp_path):
    result = submit_shot(farm_shot(), "opencue", dry_run=True, out_dir=tmp_path / "cue")
    assert not result.submitted and cuebot.specs == [] and (tmp_path / "cue" / "job.xml").is_file()


def test_cuebot_refusal_is_an_error(farm_shot, cuebot, tmp_path):
    cuebot.refusal = "failed to launch job: show hyperseg does not exist"
    with pytest.raises(FarmSubmitError, match="show hyperseg does not exist"):
        submit_shot(farm_shot(), "opencue", out_dir=tmp_path / "cue")
