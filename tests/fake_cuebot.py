"""A stand-in for OpenCue's Cuebot and RQD, as strict as the real ones where hyperseg's jobs meet them.

Cuebot (AcademySoftwareFoundation/OpenCue, cuebot/src/main/java/com/imageworks/spcue/):
- service/JobSpec.java: the spec is parsed with a validating parser against the DTD its DOCTYPE
  names, resolved from the DTDs that Cuebot ships (DTDRedirector, public/dtd/cjsl-<v>.dtd); a
  version it does not ship fails the launch. Cuebots before 1.13.8 (Oct 2025) ship no 1.15.
  Show, shot and layer names go through conformName (at least 3 characters, NAME_REGEX
  `^([\\w\\.-]{3,})$` after `-` -> `_` and lower case); the job name through conformJobName
  (`<show>-<shot>-<user>_<suffix>`, lower case). A job whose name is already pending is refused.
- util/CueUtil.normalizeFrameRange: a layer's dispatched frames are every chunk-th frame of its
  range; util/FrameSet.getChunk: a chunk is the next `chunk` frames from there, written as a
  compact frame set (framesToFrameRanges, ported below).
- dispatcher/DispatchSupportService.prepareRqdRunFrame replaces the command's tokens:
  #FRAME_START# the dispatched frame, #FRAMESPEC# the chunk (PR #367, 2019) and #FRAME_END#
    "pre-1.0":  frame + chunk - 1 (before PR #1320, Jun 2024; the Cuebot most farms run),
    "pr1320":   the index of the chunk's last frame in the layer (PR #1320 until #1467),
    "current":  the chunk's last frame (PR #1467, Aug 2024; Cuebot >= 1.0).
RQD (rqd/rqd/rqcore.py, rqmachine.py): the frame's environment has a fixed PATH
(/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin, getPathEnv, unless
RQD_USE_PATH_ENV_VAR), CUE_GPU_CORES = the reserved GPUs (GPU_LIST) and no CUDA_VISIBLE_DEVICES;
on Linux the command is written to a file that is run through /bin/sh (no shebang: execvp falls
back to sh); on Windows to a .bat in which `%` is doubled and `^&<>|` get a `^` (_createCommandFile).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import uuid
import xml.etree.ElementTree as ET
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import FileSequence
import grpc

DTD_DIR = Path(__file__).parent / "opencue"
NAME_PATTERN = re.compile(r"^([\w.-]{3,})$")
RQD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SEMANTICS = ("pre-1.0", "pr1320", "current")


class SpecRefused(Exception):
    """Cuebot's SpecBuilderException: the launch fails with this message."""


def validate_spec(xml_text: str, shipped=("1.13",)) -> ET.Element:
    """Parse `xml_text` as JobSpec does: against the DTD of its DOCTYPE, among those `shipped`."""
    from lxml import etree

    found = re.search(r'"http://localhost:8080/spcue/dtd/cjsl-([0-9.]+)\.dtd"', xml_text)
    if found is None:
        raise SpecRefused("Failed to parse job spec XML, no cjsl DOCTYPE")
    if found.group(1) not in shipped:
        raise SpecRefused(f"Failed to parse job spec XML, no DTD cjsl-{found.group(1)}.dtd in this Cuebot")
    dtd = etree.DTD(str(DTD_DIR / f"cjsl-{found.group(1)}.dtd"))
    root = etree.fromstring(xml_text.encode(), etree.XMLParser(dtd_validation=False, resolve_entities=False,
                                                                no_network=True))
    if not dtd.validate(root):
        raise SpecRefused(f"Failed to parse job spec XML, {dtd.error_log.filter_from_errors()}")
    return ET.fromstring(xml_text)


def conform_name(kind: str, name: str) -> str:
    if len(name) < 3:
        raise SpecRefused(f"The {kind.lower()} name must be at least 3 characters.")
    name = name.replace("-", "_").lower()
    if not NAME_PATTERN.match(name):
        raise SpecRefused(f"The {kind.lower()} name: {name} is not in the proper format.")
    return name


def conform_job_name(show: str, shot: str, user: str, name: str) -> str:
    prefix = f"{show}-{shot}-{user}_"
    suffix = name[len(prefix) - 1:] if name.startswith(prefix) else name
    suffix = re.sub("_{2,}", "_", suffix.lower()).replace("-", "_")
    if not NAME_PATTERN.match(suffix):
        raise SpecRefused(f"The job name suffix: {suffix} must be at least 3 characters long")
    return f"{prefix.rstrip('_')}_{suffix.lstrip('_')}".lower()


def frames_to_frame_ranges(frames: list[int]) -> str:
    """FrameSet.framesToFrameRanges, line for line."""
    def part(start, end, step):
        return str(start) if start == end else (f"{start}-{end}" if step == 1 else f"{start}-{end}x{step}")

    if not frames:
        return ""
    if len(frames) == 1:
        return str(frames[0])
    out, count, step, start, last = [], 1, 0, frames[0], frames[0]
    curr = frames[0]
    for curr in frames[1:]:
        if step == 0:
            step = curr - start
        if step == curr - last:
            last, count = curr, count + 1
        elif count == 2 and step != 1:
            out.append(str(start))
            step, start, last = 0, last, curr
        else:
            out.append(part(start, last, step))
            step, start, last, count = 0, curr, curr, 1
    if count == 2 and step != 1:
        out += [str(start), str(curr)]
    else:
        out.append(part(start, curr, step))
    return ",".join(out)


@dataclass
class DispatchedFrame:
    """One RQD task: the chunk's frames (what Cuebot marks done when it succeeds) and its command."""

    frames: list[int]
    command: str


def dispatch(layer: ET.Element, semantics: str) -> list[DispatchedFrame]:
    """The tasks Cuebot dispatches for `layer`, its tokens replaced as `semantics` does."""
    assert semantics in SEMANTICS
    frames = list(dict.fromkeys(FileSequence.FrameSet(layer.findtext("range"))))
    chunk = int(layer.findtext("chunk"))
    tasks = []
    for index in range(0, len(frames), chunk):
        chunk_frames = frames[index:index + chunk]
        end = {"pre-1.0": frames[index] + chunk - 1,
               "pr1320": min(index + chunk - 1, len(frames) - 1),
               "current": chunk_frames[-1]}[semantics]
        command = (layer.findtext("cmd").replace("#ZFRAME#", "%04d" % frames[index])
                   .replace("#IFRAME#", str(frames[index])).replace("#FRAME_START#", str(frames[index]))
                   .replace("#FRAME_END#", str(end)).replace("#FRAME_CHUNK#", str(chunk))
                   .replace("#LAYER#", layer.get("name")).replace("#FRAMESPEC#", frames_to_frame_ranges(chunk_frames)))
        tasks.append(DispatchedFrame(chunk_frames, command))
    return tasks


def rqd_run(command: str, gpu_list: str | None = None, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `command` as RQD on Linux does: from a command file through /bin/sh, with RQD's fixed
    PATH and CUE_GPU_CORES (no CUDA_VISIBLE_DEVICES)."""
    env = {"PATH": RQD_PATH, "HOME": os.environ.get("HOME", "/tmp"), "CUE3": "1", **(extra_env or {})}
    if gpu_list is not None:
        env["CUE_GPU_CORES"] = gpu_list
    with tempfile.NamedTemporaryFile("w", prefix="rqd-cmd-", delete=False) as handle:
        handle.write(command)
    try:
        return subprocess.run(["/bin/sh", handle.name], env=env, capture_output=True, text=True)
    finally:
        os.unlink(handle.name)


def rqd_windows_batch(command: str) -> str:
    """The .bat text RQD on Windows writes for `command` (_createCommandFile's escaping)."""
    command = command.replace("%", "%%")
    for char in "^&<>|":
        command = command.replace(char, "^" + char)
    return command


class FakeCuebot:
    """Cuebot on a local port: the system stats the client checks the connection with, and the job
    service, whose LaunchSpecAndWait validates the spec as Cuebot does (above; `shipped`: the
    DTD versions this Cuebot has) and answers with the jobs it describes under their conformed
    names, or fails the call as Cuebot does for a spec it rejects (`refusal` forces one)."""

    def __init__(self, shipped=("1.13",)):
        from opencue_proto import cue_pb2, cue_pb2_grpc, job_pb2, job_pb2_grpc

        self.specs: list[str] = []
        self.pending: set[str] = set()
        self.refusal: str | None = None
        self.shipped = shipped
        outer = self

        class JobService(job_pb2_grpc.JobInterfaceServicer):
            def LaunchSpecAndWait(self, request, context):
                try:
                    jobs = outer.launch(request.spec)
                except SpecRefused as exc:
                    context.abort(grpc.StatusCode.INTERNAL, f"failed to launch job: {exc}")
                return job_pb2.JobLaunchSpecAndWaitResponse(jobs=job_pb2.JobSeq(jobs=[
                    job_pb2.Job(id=str(uuid.uuid4()), name=name, show=show, shot=shot, user=user,
                                priority=priority) for name, show, shot, user, priority in jobs]))

        class CueService(cue_pb2_grpc.CueInterfaceServicer):
            def GetSystemStats(self, request, context):
                return cue_pb2.CueGetSystemStatsResponse()

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
        cue_pb2_grpc.add_CueInterfaceServicer_to_server(CueService(), self.server)
        job_pb2_grpc.add_JobInterfaceServicer_to_server(JobService(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def launch(self, spec: str) -> list[tuple]:
        if self.refusal:
            raise SpecRefused(self.refusal)
        root = validate_spec(spec, self.shipped)
        show, shot = conform_name("Show", root.findtext("show")), conform_name("Shot", root.findtext("shot"))
        user = root.findtext("user")
        jobs = []
        for job in root.findall("job"):
            name = conform_job_name(show, shot, user, job.get("name"))
            if name in self.pending:
                raise SpecRefused(f"The job {name} is already pending")
            for layer in job.findall("layers/layer"):
                conform_name("Layer", layer.get("name"))
            jobs.append((name, show, shot, user, int(job.findtext("priority"))))
        self.pending.update(name for name, *_ in jobs)
        self.specs.append(spec)
        return jobs
