"""Thinkbox Deadline 10: job info and plugin info files for the HyperSeg plugin, submitted with deadlinecommand.

The plugin (farm/deadline/HyperSeg/, copied into the repository's custom/plugins/ by a wrangler)
runs `hyperseg-vfx render SHOT --frames <the task's frames>` with the executable set in its
plugin configuration, fails the task on a non-zero exit and turns the render's progress lines
into task progress. Pool and group come from $HYPERSEG_DEADLINE_POOL / $HYPERSEG_DEADLINE_GROUP
(Deadline's `none` when unset). deadlinecommand is looked for in $DEADLINE_PATH (set by Deadline's
client installer), then on PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from ..sequences import frame_path
from .errors import FarmSubmitError
from .job import FarmJob, check_printable
from .plan import Plan, Submission

PLUGIN = "HyperSeg"
JOB_INFO, PLUGIN_INFO = "job_info.job", "plugin_info.job"
POOL_ENV, GROUP_ENV = "HYPERSEG_DEADLINE_POOL", "HYPERSEG_DEADLINE_GROUP"
_JOB_ID = re.compile(r"^JobID=(\S+)", re.MULTILINE)


def hash_pattern(pattern: str) -> str:
    """`pattern` with its frame token as `#` per digit (Deadline's notation): sh010.%04d.exr ->
    sh010.####.exr. Only frame_path is used: frames 0 and 9 differ in the token's last digit, and
    a 13-digit frame shows how many digits the padding adds."""
    zero, nine = frame_path(pattern, 0), frame_path(pattern, 9)
    if zero == nine:
        return pattern
    end = next(i for i, (a, b) in enumerate(zip(zero, nine)) if a != b) + 1
    width = len(zero) + 13 - len(frame_path(pattern, 10**12))
    return zero[: end - width] + "#" * width + zero[end:]


def _info_file(entries: dict[str, object]) -> str:
    """`key=value` lines. A value with a line break or other control character would add lines
    of its own (PostJobScript=...): refused, naming its key (the job's fields are checked
    earlier, naming the shot's field; this is the last line of defence)."""
    for key, value in entries.items():
        check_printable(str(value), key)
    return "".join(f"{key}={value}\n" for key, value in entries.items())


def _setting(name: str) -> str:
    """$`name` (a pool or group), Deadline's `none` when unset; FarmInputError naming it when it
    holds a control character."""
    return check_printable(os.environ.get(name, "").strip(), name) or "none"


def job_info(job: FarmJob) -> str:
    """The job info file: plugin, name, frames (1001-1100, 1001-1100x2, ...), chunk size,
    priority, pool, group and the matte sequence (for the Monitor's output view)."""
    return _info_file({
        "Plugin": PLUGIN,
        "Name": job.name,
        "Comment": f"HyperSeg mattes of {job.shot_file}",
        "Frames": ",".join(run.spec() for run in job.frame_runs),
        "ChunkSize": job.chunk_size,
        "Priority": job.priority,
        "Pool": _setting(POOL_ENV),
        "Group": _setting(GROUP_ENV),
        "OutputDirectory0": job.matte_dir,
        "OutputFilename0": hash_pattern(os.path.basename(job.shot.output)),
    })


def plugin_info(job: FarmJob) -> str:
    """The plugin info file: the shot file and the GPUs each task gets (0: no restriction)."""
    return _info_file({"ShotFile": job.shot_file, "GPUsPerTask": job.gpus})


def find_deadlinecommand() -> str | None:
    """deadlinecommand in $DEADLINE_PATH, else on PATH, else None."""
    folder = os.environ.get("DEADLINE_PATH")
    return (shutil.which("deadlinecommand", path=folder) if folder else None) or shutil.which("deadlinecommand")


def submit(folder: Path, dry_run: bool) -> Submission:
    """`deadlinecommand job_info.job plugin_info.job` when deadlinecommand is here; else say so."""
    command = ["deadlinecommand", str(folder / JOB_INFO), str(folder / PLUGIN_INFO)]
    wrote = f"Wrote the Deadline 10 job files {folder / JOB_INFO} and {folder / PLUGIN_INFO}"
    if dry_run:
        return Submission(False, f"{wrote} (dry run); submit them with the command below.", command=command)
    executable = find_deadlinecommand()
    if executable is None:
        return Submission(False, f"{wrote}. deadlinecommand is not installed here (install the Deadline client, "
                                 "which sets DEADLINE_PATH); submit them with the command below where it is.",
                          command=command)
    command[0] = executable
    proc = subprocess.run(command, capture_output=True, text=True)
    output = (proc.stdout + proc.stderr).strip()
    found = _JOB_ID.search(proc.stdout)
    if proc.returncode != 0 or found is None:
        raise FarmSubmitError(f"deadlinecommand did not submit {folder / JOB_INFO} (exit status {proc.returncode}): "
                              f"{output[-2000:]}")
    return Submission(True, f"{wrote} and submitted them to Deadline as job {found.group(1)}.",
                      found.group(1), command)


def plan(job: FarmJob, folder: Path, *, dry_run: bool, run_local: bool) -> Plan:
    """The two info files, then deadlinecommand."""
    return Plan({JOB_INFO: job_info(job), PLUGIN_INFO: plugin_info(job)}, lambda out: submit(out, dry_run))
