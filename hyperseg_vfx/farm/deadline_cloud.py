"""AWS Deadline Cloud: the OpenJD job bundle, submitted with the `deadline` CLI (PyPI `deadline`).

The bundle is submitted only when `deadline` is on PATH and has a default farm and queue
(`deadline config get defaults.farm_id` / `defaults.queue_id`); otherwise the result says where
the bundle is and the command to submit it with.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from . import openjd
from .errors import FarmSubmitError
from .job import FarmJob
from .plan import Plan, Submission

REQUIRED_SETTINGS = ("defaults.farm_id", "defaults.queue_id")
MAX_CHUNK_SIZE = openjd.MAX_CHUNK_SIZE
_JOB_ID = re.compile(r"\bjob-[0-9a-f]{32}\b")


def submit_command(folder: Path, deadline: str = "deadline") -> list[str]:
    """`deadline bundle submit --yes FOLDER` (--yes: no confirmation prompt for the upload)."""
    return [deadline, "bundle", "submit", "--yes", str(folder)]


def _setting(deadline: str, name: str) -> str:
    proc = subprocess.run([deadline, "config", "get", name], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def submit_bundle(folder: Path, dry_run: bool) -> Submission:
    """Submit the bundle in `folder` when the `deadline` CLI can; else say how to."""
    wrote = f"Wrote the Deadline Cloud job bundle {folder}"
    if dry_run:
        return Submission(False, f"{wrote} (dry run); submit it with the command below.", command=submit_command(folder))
    deadline = shutil.which("deadline")
    if deadline is None:
        return Submission(False, f"{wrote}. The `deadline` command is not installed here (pip install deadline); "
                                 "submit the bundle with the command below where it is.", command=submit_command(folder))
    missing = [name for name in REQUIRED_SETTINGS if not _setting(deadline, name)]
    if missing:
        return Submission(False, f"{wrote}. `deadline` has no {' or '.join(missing)} configured (`deadline config gui`, "
                                 "or `deadline config set NAME VALUE`); then submit the bundle with the command below.",
                          command=submit_command(folder))
    command = submit_command(folder, deadline)
    proc = subprocess.run(command, capture_output=True, text=True)
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        raise FarmSubmitError(f"`deadline bundle submit {folder}` failed (exit status {proc.returncode}): "
                              f"{output[-2000:]}")
    found = _JOB_ID.search(output)
    job_id = found.group(0) if found else None
    return Submission(True, f"Submitted the job bundle {folder} to Deadline Cloud as {job_id or 'a new job'}.",
                      job_id, command)


def outside_roots(paths: list[str], references: dict) -> list[str]:
    """The `paths` that lie under none of the asset references' roots (input files, input and
    output directories). Job attachments upload only those and map only their roots into the
    session, so such a path is neither uploaded nor mapped: the task cannot find it, or writes
    where nothing collects it."""
    refs = references["assetReferences"]
    roots = [Path(p) for p in refs["inputs"]["filenames"] + refs["inputs"]["directories"]
             + refs["outputs"]["directories"]]
    return [p for p in paths if not any(Path(p) == root or Path(p).is_relative_to(root) for root in roots)]


def attachment_warnings(job: FarmJob) -> list[str]:
    """What of the shot a Deadline Cloud worker will not see, one line each."""
    touched = [str(job.shot_file)] + ([job.shot.checkpoint] if job.shot.checkpoint else [])
    touched += job.input_files + [p for f in job.shot.frames for p in job.shot.output_paths(f)]
    return [f"warning: {path} is outside the job bundle's asset roots: Deadline Cloud's job attachments will not "
            "upload or map it" for path in outside_roots(touched, openjd.asset_references(job))]


def plan(job: FarmJob, folder: Path, *, dry_run: bool, run_local: bool) -> Plan:
    """The OpenJD bundle, then `deadline bundle submit`; the result's message starts with a
    warning for every shot path job attachments would not carry."""
    files, _tasks = openjd.bundle(job, folder)
    notes = attachment_warnings(job)

    def submit(out: Path) -> Submission:
        outcome = submit_bundle(out, dry_run)
        if notes:
            outcome.message = "\n".join(notes + [outcome.message])
        return outcome

    return Plan(files, submit)
