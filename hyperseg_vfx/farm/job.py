"""A farm job, engine-neutral: the validated shot and the settings every engine's job is built from.

    job = prepare_job(Path("sh010.yaml"), chunk_size=10, gpus=1, priority=50, name=None)
    job.frame_runs      # [FrameRun(1001, 1100, 1)]: the frames as arithmetic runs
    job.input_files     # shot file, checkpoint, plates (with the plate before the first frame)

Every check happens here, before any engine writes or submits anything.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..door import ANYWHERE, Door
from ..io.images import BUILTIN_CONFIG_PREFIX
from ..render import previous_input
from ..sequences import has_frame_token
from ..shot import Shot, check_shot_files, load_shot
from .errors import FarmInputError

#: The environment variable naming the hyperseg-vfx executable on the farm's workers.
COMMAND_ENV = "HYPERSEG_VFX_COMMAND"
DEFAULT_COMMAND = "hyperseg-vfx"

#: Priorities are 0..100 on Deadline 10 and Deadline Cloud; OpenCue takes the number as is.
PRIORITY_RANGE = (0, 100)

_NAME_MAX = 128
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class FrameRun:
    """Frames start, start+step, ..., end: the unit an engine's frame range can express."""

    start: int
    end: int
    step: int = 1

    def spec(self, step_mark: str = "x") -> str:
        """`start-end`, `start-endxstep` (hyperseg-vfx, OpenCue, Deadline) or with another
        step mark (OpenJD writes `start-end:step`)."""
        if self.start == self.end:
            return str(self.start)
        return f"{self.start}-{self.end}" + (f"{step_mark}{self.step}" if self.step != 1 else "")


def frame_runs(frames: list[int]) -> list[FrameRun]:
    """`frames` (sorted, distinct) as the fewest greedy arithmetic runs: 1001-1100 is one run,
    1001-1099x2 too, 1001-1010,1020-1030 two."""
    runs: list[FrameRun] = []
    i = 0
    while i < len(frames):
        j = i + 1
        if j < len(frames):
            step = frames[j] - frames[i]
            while j + 1 < len(frames) and frames[j + 1] - frames[j] == step:
                j += 1
            runs.append(FrameRun(frames[i], frames[j], step))
        else:
            runs.append(FrameRun(frames[i], frames[i]))
        i = j + 1
    return runs


def configured_command() -> str:
    """The executable $HYPERSEG_VFX_COMMAND names ("" when unset): a path (spaces allowed), or a
    JSON list of that one path, the form the Nuke plugin also takes (where longer lists work:
    hyperseg_nuke.bridge_client.split_command). FarmInputError for another list: a farm task
    runs one executable."""
    command = os.environ.get(COMMAND_ENV, "").strip()
    if not command.startswith("["):
        return command
    try:
        words = json.loads(command)
    except ValueError as exc:
        raise FarmInputError(COMMAND_ENV, f"is not a valid JSON list ({exc}): {command[:200]!r}") from None
    if not (isinstance(words, list) and len(words) == 1 and isinstance(words[0], str) and words[0].strip()):
        raise FarmInputError(COMMAND_ENV, "must name one executable for the farm (its path, or a JSON list of that "
                                          f"one path), got {command[:200]!r}")
    return words[0].strip()


def farm_command() -> str:
    """The hyperseg-vfx executable the farm's workers run: $HYPERSEG_VFX_COMMAND (a name on
    their PATH or an absolute path; see configured_command), default `hyperseg-vfx`. OpenCue
    needs an absolute path (opencue.worker_command)."""
    return configured_command() or DEFAULT_COMMAND


@dataclass(frozen=True)
class FarmJob:
    """What every engine's job is made of. shot_file: absolute; name: the job's name;
    command: the hyperseg-vfx executable on the workers; filed_under: `show`, `shot`, `user`
    given for the job (submit's options over the shot's `farm` section; absent: the engine's
    defaults)."""

    shot: Shot
    shot_file: Path
    name: str
    chunk_size: int
    gpus: int
    priority: int
    command: str
    filed_under: dict[str, str] = field(default_factory=dict)

    @property
    def frame_runs(self) -> list[FrameRun]:
        return frame_runs(self.shot.frames)

    @property
    def matte_dir(self) -> str:
        """The folder every matte is written under: the output pattern's deepest folder without a
        frame token (`mattes/####/m.exr` writes under `mattes`, not a folder named `####`)."""
        return _fixed_folder(self.shot.output)

    @property
    def output_dirs(self) -> list[str]:
        """The folders every output is written under: matte_dir, then that of the objects' own
        files (output_per_object, its {object} and frame tokens left out) when it is another."""
        folders = [self.matte_dir]
        if self.shot.output_per_object is not None:
            own = _fixed_folder(self.shot.output_per_object)
            if own not in folders:
                folders.append(own)
        return folders

    @property
    def input_files(self) -> list[str]:
        """Every file the render reads: the shot file, the checkpoint and the OCIO config file
        the shot names, and each frame's plate and previous plate (frame t reads plate t-1 when
        it exists)."""
        plates = {self.shot.input_path(f) for f in self.shot.frames}
        plates.update(p for f in self.shot.frames if (p := previous_input(self.shot, f)))
        head = [str(self.shot_file)] + [p for p in (self.shot.checkpoint, self.config_file) if p]
        return head + sorted(plates)

    @property
    def config_file(self) -> str | None:
        """The shot's OCIO config when it is a file (not an `ocio://` name), else None."""
        config = self.shot.ocio_config
        return None if config is None or config.startswith(BUILTIN_CONFIG_PREFIX) else config


def _check_int(value: object, field: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"an integer >= {low}"
        raise FarmInputError(field, f"must be {bounds}, got {value!r}")
    return value


def _check_name(name: str | None, shot_file: Path) -> str:
    if name is None:
        return f"hyperseg_{shot_file.stem}"
    if not isinstance(name, str) or not name.strip() or len(name) > _NAME_MAX or _CONTROL.search(name):
        raise FarmInputError("name", f"must be 1 to {_NAME_MAX} printable characters on one line, got {name!r}")
    return name.strip()


def prepare_job(shot_path: str | os.PathLike, *, chunk_size: int, gpus: int, priority: int,
                name: str | None, frames: str | None = None, filed_under: dict[str, str | None] | None = None,
                door: Door = ANYWHERE) -> FarmJob:
    """Validate the settings and the shot (its files included, through `door`: every plate of
    its frames must exist) and return the job. frames: render only these of the shot's frames
    (a frame spec). filed_under: show / shot / user for the job (None values: the shot's `farm`
    section's). FarmInputError or ShotError (naming the field) otherwise, the door's PathRefused
    for a file it refuses."""
    chunk_size = _check_int(chunk_size, "chunk_size", 1)
    gpus = _check_int(gpus, "gpus", 0)
    priority = _check_int(priority, "priority", *PRIORITY_RANGE)
    shot_file = Path(shot_path).absolute()
    check_printable(str(shot_file), "shot")
    try:
        shot = load_shot(shot_file, check_files=False, frames=frames, door=door)
    except FileNotFoundError:
        raise FarmInputError("shot", f"{shot_file}: no such file") from None
    except OSError as exc:
        raise FarmInputError("shot", f"cannot read {shot_file}: {exc.strerror or exc}") from None
    for field in ("input", "output", "checkpoint", "ocio_config"):
        check_printable(getattr(shot, field), f"shot.{field}")
    check_shot_files(shot)
    command = check_printable(farm_command(), COMMAND_ENV)
    given = {key: value for key, value in (filed_under or {}).items() if value is not None}
    for key, value in given.items():
        if not isinstance(value, str) or not value.strip():
            raise FarmInputError(key, f"must be a non-empty name, got {value!r}")
        check_printable(value, key)
    for key, value in shot.farm.items():
        check_printable(value, f"shot.farm.{key}")
    return FarmJob(shot, shot_file, _check_name(name, shot_file), chunk_size, gpus, priority, command,
                   {**shot.farm, **given})


def check_printable(value: str | None, field: str) -> str | None:
    """`value`, or FarmInputError naming `field` when it holds a control character: every field
    reaches a job file (a Deadline job info line, OpenCue XML, an OpenJD value), where a newline
    could add lines of its own (`PostJobScript=...`)."""
    if value is not None:
        found = _CONTROL.search(value)
        if found:
            raise FarmInputError(field, f"holds a control character ({found.group(0)!r}), which no farm job file "
                                        f"may carry: {value[:200]!r}")
    return value


def _fixed_folder(pattern: str) -> str:
    """The deepest folder of an output pattern without a frame or {object} token."""
    folder = os.path.dirname(pattern)
    while has_frame_token(folder) or "{object}" in folder:
        folder = os.path.dirname(folder)
    return folder
