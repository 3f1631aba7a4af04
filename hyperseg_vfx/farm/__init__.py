"""Whole shots on a render farm, through each engine's own tools, `hyperseg-vfx render` the unit of work.

    result = submit_shot(Path("sh010.yaml"), "opencue", chunk_size=10, gpus=1)
    result.files, result.submitted, result.job_id, result.message

Farms: `openjd` (a job bundle; run_local runs it here with `openjd run`), `deadline-cloud` (the
same bundle, submitted with `deadline bundle submit` when that CLI is installed and configured),
`opencue` (the job XML built with pyoutline, launched when CUEBOT_HOSTS is set) and `deadline10`
(job and plugin info files for the HyperSeg plugin in farm/deadline/, submitted with
deadlinecommand when it is installed).

Every argument and the shot (its plates included) is checked before anything is written: bad
input raises a HypersegError subclass naming the field (FarmInputError, ShotError). The job files
go to `out_dir`, default `<shot folder>/farm/<shot stem>_<farm>/`, which must be new, empty or a
previous job folder of the same shot and farm (see outdir). The engines do not know that frame
t reads plate t-1; the render command does, so any chunking gives the mattes of one local render.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import FarmInputError, FarmSubmitError

#: Farm name -> the module that builds and submits its jobs.
FARMS = {
    "openjd": "openjd",
    "deadline-cloud": "deadline_cloud",
    "opencue": "opencue",
    "deadline10": "deadline10",
}

__all__ = ["FARMS", "FarmInputError", "FarmSubmitError", "SubmitResult", "submit_shot"]


@dataclass
class SubmitResult:
    """What submit_shot did. files: the job files written (absolute paths); submitted: the engine
    accepted the job (or ran it, for run_local); job_id: the engine's id of the job, when it gave
    one; command: the command that was run, or the one to run by hand (None when there is none)."""

    farm: str
    out_dir: Path
    files: list[str]
    submitted: bool
    job_id: str | None
    message: str
    command: list[str] | None


def submit_shot(
    shot_path: Path,
    farm: str,
    *,
    out_dir: Path | None = None,
    chunk_size: int = 10,
    gpus: int = 0,
    priority: int = 50,
    name: str | None = None,
    dry_run: bool = False,
    run_local: bool = False,
    overwrite: bool = False,
    frames: str | None = None,
    show: str | None = None,
    farm_shot: str | None = None,
    user: str | None = None,
    door=None,
) -> SubmitResult:
    """Write the job files of the shot at `shot_path` for `farm` and submit them (see the module).

    chunk_size: frames per task; gpus: GPUs a task needs (0: no GPU requirement); priority:
    0-100; name: the job's name (default `hyperseg_<shot stem>`); dry_run: write, do not submit;
    run_local: (openjd only) run the bundle on this machine with `openjd run`; overwrite:
    replace files in `out_dir` that hyperseg-vfx did not write or that were changed since;
    frames: render only these of the shot's frames (a frame spec; ShotError for others);
    show, farm_shot, user: what the job is filed under (OpenCue), over the shot's `farm` section.
    door: what every file is read and written through (hyperseg_vfx.door; default ANYWHERE, the
    bridge passes its own): the shot file, its checkpoint and plates, the job folder.
    """
    from ..door import ANYWHERE
    from .job import prepare_job
    from .outdir import check_out_dir, default_out_dir, write_job_files

    if farm not in FARMS:
        raise FarmInputError("farm", f"unknown farm {farm!r} (choose from {', '.join(FARMS)})")
    if run_local and (farm != "openjd" or dry_run):
        raise FarmInputError("run_local", "runs an OpenJD bundle here: only with farm openjd and without dry_run")
    engine = importlib.import_module(f"{__name__}.{FARMS[farm]}")
    cap = getattr(engine, "MAX_CHUNK_SIZE", None)
    if cap is not None and isinstance(chunk_size, int) and chunk_size > cap:
        raise FarmInputError("chunk_size", f"{farm} runs at most {cap} frames per task, got {chunk_size}")
    door = ANYWHERE if door is None else door
    job = prepare_job(shot_path, chunk_size=chunk_size, gpus=gpus, priority=priority, name=name, frames=frames,
                      filed_under={"show": show, "shot": farm_shot, "user": user}, door=door)
    folder = Path(os.path.abspath(out_dir)) if out_dir is not None else default_out_dir(job.shot_file, farm)
    plan = engine.plan(job, folder, dry_run=dry_run, run_local=run_local)  # writes nothing
    check_out_dir(folder, farm, job.shot_file, plan.files, overwrite, door)
    files = write_job_files(folder, farm, job.shot_file, plan.files, door)
    outcome = plan.submit(folder)
    return SubmitResult(farm, folder, files, outcome.submitted, outcome.job_id, outcome.message, outcome.command)
