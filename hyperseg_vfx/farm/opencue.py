"""OpenCue: the job built with opencue-pyoutline, written as its job XML, launched when CUEBOT_HOSTS is set.

One Shell layer per arithmetic run of the shot's frames (one layer for 1001-1100 or 1001-1100x2)
runs `hyperseg-vfx render SHOT --frames #FRAME_START#-#FRAME_END#` over the layer's range in
chunks; Cuebot replaces the tokens with each chunk's first and last frame. pyoutline joins a list
command with spaces, unquoted, so every word is shell-quoted here. The XML is pyoutline's own
serialisation without the pycuerun wrapper (the workers run the command directly), which needs no
Cuebot; only the launch (pyoutline's, through opencue.api) talks to one.

pyoutline sets a job up in a session folder (default ~/.opencue/sessions) that only pycuerun
reads, and exports the job's shot as $SHOT: the session goes to a temporary folder, removed once
the job is set up, and $SHOT is restored.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import tempfile
import threading
from pathlib import Path
from typing import Iterator

from .errors import FarmSubmitError
from .job import FarmJob, FrameRun
from .plan import Plan, Submission

XML_NAME = "job.xml"
LAYER = "render"
HOSTS_ENV = "CUEBOT_HOSTS"

#: pyoutline's configuration and $SHOT are process-wide: one job set-up at a time (the bridge
#: may submit from several threads).
_SETUP_LOCK = threading.Lock()


def cue_name(text: str) -> str:
    """`text` with what OpenCue names cannot hold (anything but letters, digits, _ . -) as `_`."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def render_command(job: FarmJob, run: FrameRun) -> list[str]:
    """The shell-quoted words of a chunk's render command; the frames come from Cuebot's tokens
    (with the run's step: #FRAME_START#-#FRAME_END#x2 for a shot on twos)."""
    frames = "#FRAME_START#-#FRAME_END#" + (f"x{run.step}" if run.step != 1 else "")
    return [shlex.quote(word) for word in (job.command, "render", str(job.shot_file), "--frames", frames)]


@contextlib.contextmanager
def _contained_setup() -> Iterator[None]:
    """pyoutline's session_dir set to a temporary folder (removed afterwards) and $SHOT restored."""
    import outline

    with _SETUP_LOCK, tempfile.TemporaryDirectory(prefix="hyperseg-opencue-") as folder:
        previous_dir = outline.config.get("outline", "session_dir", raw=True)
        previous_shot = os.environ.get("SHOT")
        outline.config.set("outline", "session_dir", folder)
        try:
            yield
        finally:
            outline.config.set("outline", "session_dir", previous_dir)
            if previous_shot is None:
                os.environ.pop("SHOT", None)
            else:
                os.environ["SHOT"] = previous_shot


def build_launcher(job: FarmJob):
    """pyoutline's OutlineLauncher of the job, set up (its XML is final). Show and user are
    pyoutline's defaults ($SHOW, the login name); the OpenCue shot is the shot file's name."""
    import outline
    import outline.cuerun
    from outline.modules.shell import Shell

    ol = outline.Outline(cue_name(job.name), shot=cue_name(job.shot_file.stem))
    runs = job.frame_runs
    for index, run in enumerate(runs):
        layer = LAYER if len(runs) == 1 else f"{LAYER}{index + 1}"
        gpus = {"gpus": job.gpus} if job.gpus else {}
        ol.add_layer(Shell(layer, command=render_command(job, run), range=run.spec(), chunk=job.chunk_size, **gpus))
    launcher = outline.cuerun.OutlineLauncher(ol, priority=job.priority)
    with _contained_setup():
        launcher.setup()
    return launcher


def job_xml(launcher) -> str:
    """The job XML Cuebot is sent, serialised offline (no pycuerun wrapper)."""
    return launcher.serialize(use_pycuerun=False)


def launch(launcher, folder: Path, dry_run: bool) -> Submission:
    """Launch with pyoutline (its cue backend sends the same XML to opencue.api.launchSpecAndWait)
    when CUEBOT_HOSTS is set and this is no dry run; else say so."""
    wrote = f"Wrote the OpenCue job XML {folder / XML_NAME}"
    if dry_run:
        return Submission(False, f"{wrote} (dry run: not launched).")
    if not os.environ.get(HOSTS_ENV):
        return Submission(False, f"{wrote}. {HOSTS_ENV} is not set, so it was not launched: set it to your "
                                 "Cuebot host(s) and submit again to launch it.")
    from opencue.exception import CueException

    try:
        jobs = launcher.launch(use_pycuerun=False)
    except CueException as exc:
        raise FarmSubmitError(f"Cuebot ({os.environ[HOSTS_ENV]}) refused or did not answer the launch of "
                              f"{folder / XML_NAME}: {exc}") from None
    names = ", ".join(j.name() for j in jobs)
    return Submission(True, f"{wrote} and launched it on OpenCue as {names}.", jobs[0].id() if jobs else None)


def plan(job: FarmJob, folder: Path, *, dry_run: bool, run_local: bool) -> Plan:
    """The job XML, then the launch."""
    launcher = build_launcher(job)
    return Plan({XML_NAME: job_xml(launcher) + "\n"}, lambda out: launch(launcher, out, dry_run))
