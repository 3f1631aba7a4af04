"""Open Job Description: the job bundle of a shot, and running it on this machine with `openjd run`.

The bundle (the layout Deadline Cloud submits) is a folder with
  template.yaml          farm/openjd/template.yaml, plus GPU host requirements when gpus > 0
  parameter_values.yaml  the shot's values of the template's parameters, and deadline:priority
  asset_references.yaml  inputs: the shot file, checkpoint and plates; output: the matte folder
The template and the values are checked with openjd-model (the job is instantiated and its chunks
counted) before anything is written.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from .errors import FarmInputError, FarmSubmitError
from .job import FarmJob
from .plan import Plan, Submission
from .resources import farm_file

TEMPLATE = ("openjd", "template.yaml")
#: Deadline Cloud caps chunks.defaultTaskCount at 150 (AWS Deadline Cloud developer guide,
#: "CHUNK[INT] task parameter reference"); the bundle is the same for `openjd run`.
MAX_CHUNK_SIZE = 150
EXTENSIONS = ("TASK_CHUNKING",)
GPU_AMOUNT = "amount.worker.gpu"

#: Parameter values for Deadline Cloud itself, not template parameters (`openjd run` skips them).
DEADLINE_PREFIX = "deadline:"


def template_data(job: FarmJob) -> dict:
    """The shipped template, with `amount.worker.gpu >= gpus` host requirements and
    `render --device cuda` (a GPU job renders on a GPU or fails, never quietly on the CPU) when
    gpus > 0, and NONCONTIGUOUS chunks when the shot's frames are not one contiguous range (a shot on
    twos: CONTIGUOUS would make every chunk a single frame)."""
    data = yaml.safe_load(farm_file(*TEMPLATE).read_text())
    contiguous = [(run.step == 1 or run.start == run.end) for run in job.frame_runs] == [True]
    for step in data["steps"]:
        if job.gpus > 0:
            step["hostRequirements"] = {"amounts": [{"name": GPU_AMOUNT, "min": job.gpus}]}
            step["script"]["actions"]["onRun"]["args"] += ["--device", "cuda"]
        if not contiguous:
            for parameter in step["parameterSpace"]["taskParameterDefinitions"]:
                parameter["chunks"]["rangeConstraint"] = "NONCONTIGUOUS"
    return data


def parameter_values(job: FarmJob) -> dict[str, object]:
    """The job's values of the template's parameters, then Deadline Cloud's priority."""
    return {
        "JobName": job.name,
        "ShotFile": str(job.shot_file),
        "MatteDir": job.matte_dir,
        "Frames": ",".join(run.spec(step_mark=":") for run in job.frame_runs),
        "ChunkSize": job.chunk_size,
        "HypersegCommand": job.command,
        f"{DEADLINE_PREFIX}priority": job.priority,
    }


def template_values(values: dict[str, object]) -> dict[str, str]:
    """The values of the template's own parameters, as strings (what `openjd run -p` takes)."""
    return {k: str(v) for k, v in values.items() if not k.startswith(DEADLINE_PREFIX)}


def count_tasks(template: dict, values: dict[str, object], folder: Path) -> int:
    """Instantiate the job with openjd-model (validating template and values) and count its
    chunks. FarmSubmitError when openjd-model rejects them."""
    from openjd.model import (
        DecodeValidationError,
        StepParameterSpaceIterator,
        create_job,
        decode_job_template,
        preprocess_job_parameters,
    )

    try:
        decoded = decode_job_template(template=template, supported_extensions=EXTENSIONS)
        resolved = preprocess_job_parameters(job_template=decoded, job_parameter_values=template_values(values),
                                             job_template_dir=folder, current_working_dir=folder)
        job = create_job(job_template=decoded, job_parameter_values=resolved)
    except (DecodeValidationError, ValueError) as exc:
        raise FarmSubmitError(f"the OpenJD job does not validate: {exc}") from None
    return len(StepParameterSpaceIterator(space=job.steps[0].parameterSpace))


def asset_references(job: FarmJob) -> dict:
    """Deadline Cloud's asset references: what the render reads and the folder it writes. The
    OCIO config's whole folder goes too: a config finds its LUTs relative to itself (search_path)."""
    return {"assetReferences": {
        "inputs": {"filenames": job.input_files,
                   "directories": [os.path.dirname(job.config_file)] if job.config_file else []},
        "outputs": {"directories": job.output_dirs},
        "referencedPaths": [],
    }}


def _yaml(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=1000)


def bundle(job: FarmJob, folder: Path) -> tuple[dict[str, str], int]:
    """({file name: text} of the job bundle, number of tasks), validated with openjd-model."""
    template, values = template_data(job), parameter_values(job)
    tasks = count_tasks(template, values, folder)
    files = {
        "template.yaml": _yaml(template),
        "parameter_values.yaml": _yaml({"parameterValues": [{"name": k, "value": v} for k, v in values.items()]}),
        "asset_references.yaml": _yaml(asset_references(job)),
    }
    return files, tasks


def _local_executable(name: str) -> str | None:
    """`name` next to this Python (its virtual environment), else on PATH."""
    sibling = Path(sys.executable).with_name(name)
    return str(sibling) if sibling.is_file() else shutil.which(name)


def local_run_command(job: FarmJob, folder: Path) -> list[str] | None:
    """`openjd run` of the bundle in `folder` on this machine, with this machine's hyperseg-vfx;
    None when openjd-cli is not installed here."""
    openjd = _local_executable("openjd")
    if openjd is None:
        return None
    values = template_values(parameter_values(job))
    values["HypersegCommand"] = _local_executable("hyperseg-vfx") or job.command
    return [openjd, "run", str(folder / "template.yaml"), "--job-param", json.dumps(values)]


def run_bundle(command: list[str], folder: Path) -> Submission:
    """Run the bundle with `command` (local_run_command); its log goes to this process's output.
    FarmSubmitError when a task fails."""
    status = subprocess.run(command).returncode
    if status != 0:
        raise FarmSubmitError(f"`openjd run` of {folder} failed (exit status {status}); see its log above")
    return Submission(True, f"Ran the OpenJD job bundle {folder} on this machine with `openjd run`.",
                      command=command)


def plan(job: FarmJob, folder: Path, *, dry_run: bool, run_local: bool) -> Plan:
    """The bundle, and with run_local running it here (an OpenJD job has no other submission)."""
    files, tasks = bundle(job, folder)
    command = local_run_command(job, folder)
    if run_local:
        if command is None:
            raise FarmInputError("run_local", "the `openjd` command is not installed (pip install openjd-cli)")
        return Plan(files, lambda out: run_bundle(command, out))

    def written(out: Path) -> Submission:
        run_here = " Run it on this machine with the command below, or submit" if command else " Submit"
        return Submission(False, f"Wrote the OpenJD job bundle {out} ({tasks} tasks of up to {job.chunk_size} "
                                 f"frames).{run_here} it to Deadline Cloud with `deadline bundle submit {out}`.",
                          command=command)

    return Plan(files, written)
