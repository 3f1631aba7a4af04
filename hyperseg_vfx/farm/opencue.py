"""OpenCue: the job built with opencue-pyoutline, written as its job XML, launched when CUEBOT_HOSTS is set.

One Shell layer per arithmetic run of the shot's frames (one layer for 1001-1100 or 1001-1100x2)
runs `hyperseg-vfx render SHOT --frames #FRAMESPEC#` over the layer's range in chunks. Cuebot
replaces #FRAMESPEC# with the chunk's own frame set (`1001-1004`, `1001-1007x2`, `1005,1010`:
FrameSet.getChunk, since OpenCue PR #367, 2019), which is hyperseg's frame syntax. #FRAME_END#
is not used: it is the chunk's last frame only since Cuebot 1.0 (PR #1467, Aug 2024); before it
was `frame + chunk - 1` (past the layer's end, wrong on stepped layers), between PR #1320 and
#1467 a frame index (cuebot DispatchSupportService.prepareRqdRunFrame).

What the command needs on RQD (rqd/rqd/rqcore.py, rqmachine.py):
- an absolute hyperseg-vfx path: RQD gives frames the fixed PATH
  /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin unless RQD_USE_PATH_ENV_VAR
  (rqmachine.getPathEnv). It is $HYPERSEG_VFX_COMMAND (absolute) or the submitting install's;
- the reserved GPUs: RQD exports them only as CUE_GPU_CORES (rqcore, GPU_LIST), so a GPU layer
  runs `render --gpu-list-env CUE_GPU_CORES`, which sets CUDA_VISIBLE_DEVICES from it;
- quoting that survives both of RQD's command files: on Linux the command is a file run through
  /bin/sh; on Windows a .bat in which RQD doubles `%` and puts `^` before `^&<>|`. Every word is
  in double quotes (a grouping both cmd.exe and sh honour), so a word may not hold `"`, `$`,
  a backquote, `^&<>|` (a `^` would reach the render inside quotes), a trailing backslash or a
  control character: FarmInputError names the field.

Cuebot (cuebot/.../service/JobSpec.java) refuses show, shot and layer names under 3 characters
(NAME_REGEX `^([\\w\\.-]{3,})$`): they are padded with `_`. A pending job's name cannot be reused,
so every job name gets a unique suffix. The spec is written for job spec (cjsl) version 1.13,
which every Cuebot since 2021 validates (pyoutline >= 1.37 writes 1.15, whose DTD ships only from
Cuebot 1.13.8, Oct 2025); $HYPERSEG_OPENCUE_SPEC_VERSION chooses another (1.13 to 1.15).

The XML is pyoutline's own serialisation without the pycuerun wrapper (the workers run the
command directly), which needs no Cuebot; only the launch (opencue.api.launchSpecAndWait, with
exactly the written XML) talks to one. pyoutline sets a job up in a session folder (default ~/.opencue/sessions) that only
pycuerun reads, and exports the job's shot as $SHOT: the session goes to a temporary folder,
removed once the job is set up, and $SHOT is restored.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
import threading
import uuid
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Iterator

from .errors import FarmInputError, FarmSubmitError
from .job import COMMAND_ENV, DEFAULT_COMMAND, FarmJob, FrameRun, configured_command
from .plan import Plan, Submission

XML_NAME = "job.xml"
LAYER = "render"
HOSTS_ENV = "CUEBOT_HOSTS"
SPEC_VERSION_ENV = "HYPERSEG_OPENCUE_SPEC_VERSION"
SPEC_VERSION = "1.13"
#: 1.13 has everything the job uses (priority: 1.11, gpus: 1.12); 1.15 is pyoutline's newest.
SPEC_VERSIONS = ("1.13", "1.14", "1.15")
#: RQD's variable with the GPUs it reserved for the frame (rqd/rqd/rqcore.py).
GPU_LIST_ENV = "CUE_GPU_CORES"
#: Cuebot's shortest show, shot, layer and job name suffix (JobSpec.NAME_REGEX).
MIN_NAME = 3

_UNQUOTABLE = re.compile(r'["$`^&<>|\x00-\x1f\x7f]')

#: pyoutline's configuration and $SHOT are process-wide: one job set-up at a time (the bridge
#: may submit from several threads).
_SETUP_LOCK = threading.Lock()


def cue_name(text: str) -> str:
    """`text` with what OpenCue names cannot hold (anything but letters, digits, _ . -) as `_`,
    padded with `_` to Cuebot's 3 characters."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).ljust(MIN_NAME, "_")


def spec_version() -> str:
    """The job spec version to write: $HYPERSEG_OPENCUE_SPEC_VERSION, default 1.13."""
    version = os.environ.get(SPEC_VERSION_ENV, "").strip() or SPEC_VERSION
    if version not in SPEC_VERSIONS:
        raise FarmInputError(SPEC_VERSION_ENV, f"must be one of {', '.join(SPEC_VERSIONS)}, got {version!r}")
    return version


def _is_absolute(path: str) -> bool:
    return PurePosixPath(path).is_absolute() or PureWindowsPath(path).is_absolute()


def worker_command(job: FarmJob) -> str:
    """The absolute hyperseg-vfx path the frames run: $HYPERSEG_VFX_COMMAND when set (it must be
    absolute), else this installation's (next to this Python, else on PATH)."""
    configured = configured_command()
    if configured:
        if not _is_absolute(configured):
            raise FarmInputError(COMMAND_ENV, f"must be an absolute path on OpenCue (RQD runs frames with a "
                                              f"fixed PATH), got {configured!r}")
        return configured
    sibling = Path(sys.executable).with_name(DEFAULT_COMMAND)
    found = str(sibling) if sibling.is_file() else shutil.which(DEFAULT_COMMAND)
    if not found:
        raise FarmInputError(COMMAND_ENV, f"is not set and {DEFAULT_COMMAND} is not installed here: set it to the "
                                          "absolute path of hyperseg-vfx on the render nodes")
    return os.path.abspath(found)


def quote_word(word: str, field: str) -> str:
    """`word` in double quotes, read back unchanged by RQD's /bin/sh and its .bat (see the
    module); FarmInputError naming `field` for a word that cannot be."""
    bad = _UNQUOTABLE.search(word)
    if bad or word.endswith("\\"):
        what = repr(bad.group(0)) if bad else "a trailing backslash"
        raise FarmInputError(field, f"{word!r} holds {what}, which RQD's command files (sh and .bat) cannot pass")
    return f'"{word}"'


def render_command(job: FarmJob, run: FrameRun) -> list[str]:
    """The quoted words of a chunk's render command; Cuebot puts the chunk's frames in #FRAMESPEC#."""
    words = [(worker_command(job), COMMAND_ENV), ("render", ""), (str(job.shot_file), "shot"),
             ("--frames", ""), ("#FRAMESPEC#", "")]
    if job.gpus:  # a GPU job renders on a GPU or fails (exit 2), never quietly on the CPU
        words += [("--device", ""), ("cuda", ""), ("--gpu-list-env", ""), (GPU_LIST_ENV, "")]
    return [quote_word(word, field) for word, field in words]


@contextlib.contextmanager
def _contained_setup(version: str) -> Iterator[None]:
    """pyoutline's session_dir set to a temporary folder (removed afterwards), its spec_version
    to `version`, and $SHOT restored."""
    import outline

    with _SETUP_LOCK, tempfile.TemporaryDirectory(prefix="hyperseg-opencue-") as folder:
        previous_dir = outline.config.get("outline", "session_dir", raw=True)
        previous_version = outline.config.get("outline", "spec_version", raw=True)
        previous_shot = os.environ.get("SHOT")
        outline.config.set("outline", "session_dir", folder)
        outline.config.set("outline", "spec_version", version)
        try:
            yield
        finally:
            outline.config.set("outline", "session_dir", previous_dir)
            outline.config.set("outline", "spec_version", previous_version)
            if previous_shot is None:
                os.environ.pop("SHOT", None)
            else:
                os.environ["SHOT"] = previous_shot


def job_name(job: FarmJob) -> str:
    """The job's name with a unique suffix (Cuebot refuses the name of a pending job)."""
    return cue_name(f"{job.name}_{uuid.uuid4().hex[:8]}")


def job_xml(job: FarmJob) -> str:
    """The job XML Cuebot is sent: pyoutline's OutlineLauncher of the job, set up and serialised
    offline (no pycuerun wrapper), indented (indent_spec). Show, shot and user are the job's
    (submit --show/--shot/--user, the shot's `farm` section), else pyoutline's ($SHOW, else its
    configured default show; the login name) and the shot file's name; the mail address is
    pyoutline's `user@<[outline] domain>`."""
    import outline
    import outline.cuerun
    from outline.modules.shell import Shell

    version = spec_version()
    given = job.filed_under
    ol = outline.Outline(job_name(job), shot=cue_name(given.get("shot", job.shot_file.stem)),
                         show=cue_name(given.get("show", outline.util.get_show())))
    runs = job.frame_runs
    for index, run in enumerate(runs):
        layer = LAYER if len(runs) == 1 else f"{LAYER}{index + 1}"
        gpus = {"gpus": job.gpus} if job.gpus else {}
        ol.add_layer(Shell(layer, command=render_command(job, run), range=run.spec(), chunk=job.chunk_size, **gpus))
    user = {"user": given["user"]} if "user" in given else {}
    launcher = outline.cuerun.OutlineLauncher(ol, priority=job.priority, **user)
    with _contained_setup(version):
        launcher.setup()
        return indent_spec(launcher.serialize(use_pycuerun=False))


def indent_spec(xml: str) -> str:
    """pyoutline's one-line job XML with one element per line, indented by two spaces: the XML
    declaration and DOCTYPE as they were, each on a line, then the `spec` element indented with
    ElementTree.indent (only whitespace between elements changes; element text such as the
    command is kept byte for byte)."""
    import xml.etree.ElementTree as ET

    start = xml.index("<spec")
    root = ET.fromstring(xml[start:])
    ET.indent(root, "  ")
    head = xml[:start].replace("?><!DOCTYPE", "?>\n<!DOCTYPE")
    return f"{head}\n{ET.tostring(root, encoding='unicode')}"


def launch(xml: str, folder: Path, dry_run: bool) -> Submission:
    """Send the written XML to Cuebot (opencue.api.launchSpecAndWait, what pyoutline's cue
    backend calls; not pyoutline's launch, which would serialise it again with its own spec
    version) when CUEBOT_HOSTS is set and this is no dry run; else say so."""
    wrote = f"Wrote the OpenCue job XML {folder / XML_NAME}"
    if dry_run:
        return Submission(False, f"{wrote} (dry run: not launched).")
    if not os.environ.get(HOSTS_ENV):
        return Submission(False, f"{wrote}. {HOSTS_ENV} is not set, so it was not launched: set it to your "
                                 "Cuebot host(s) and submit again to launch it.")
    import opencue.api
    from opencue.exception import CueException

    try:
        jobs = opencue.api.launchSpecAndWait(xml)
    except CueException as exc:
        raise FarmSubmitError(f"Cuebot ({os.environ[HOSTS_ENV]}) refused or did not answer the launch of "
                              f"{folder / XML_NAME}: {exc}") from None
    names = ", ".join(j.name() for j in jobs)
    return Submission(True, f"{wrote} and launched it on OpenCue as {names}.", jobs[0].id() if jobs else None)


def plan(job: FarmJob, folder: Path, *, dry_run: bool, run_local: bool) -> Plan:
    """The job XML, then the launch."""
    xml = job_xml(job)
    return Plan({XML_NAME: xml + "\n"}, lambda out: launch(xml, out, dry_run))
