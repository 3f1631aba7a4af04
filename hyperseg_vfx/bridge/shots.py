"""Requests -> Shots, the input of the render code.

Every request is turned into a Shot by shot.py (shot_from_dict / load_shot), so values are
checked exactly as in a shot file, with the bridge's door (hyperseg_vfx.door: its allowed
folders) as the shot's door. Then every file the render will read or write is checked through
that door (check_shot_paths: inputs and the previous frames render's rule reads, outputs), then
the files themselves (check_shot_files: inputs exist, clicks inside the frame), then the outputs
(render.check_outputs: nothing of the user's is replaced, the folders take a file). Only then
does the model run, and the render opens each file through the same door again, frame by frame.
/v1/segment builds a one-frame Shot like any other; a `previous` it names is handed to the
renderer's segment_shot_frame. /v1/submit checks a shot's paths with the same check_shot_paths.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..door import Door
from ..io.images import BUILTIN_CONFIG_PREFIX
from ..render import check_outputs, output_is_complete, previous_input
from ..shot import Shot, ShotError, check_shot_files, load_shot, shot_from_dict
from .errors import ApiError
from .schemas import JobRequest, SegmentRequest, TrackRequest
from .security import require_absolute


def segment_shot(request: SegmentRequest, door: Door) -> Shot:
    """The one-frame Shot of a /v1/segment request, checked (request.previous too)."""
    for name in ("input", "output", "previous", "output_per_object"):
        value = getattr(request, name)
        if value is not None:
            require_absolute(value, name)
    data = {
        "input": request.input,
        "frames": request.frame,
        "output": request.output,
        "options": request.options.model_dump(),
        "overwrite": request.overwrite,
    }
    data.update(request.model_dump(include={"clicks", "objects", "output_per_object"}, exclude_none=True))
    for name in ("colorspace", "ocio_config"):
        if getattr(request, name) is not None:
            data[name] = getattr(request, name)
    if request.ocio_config is not None and not request.ocio_config.startswith(BUILTIN_CONFIG_PREFIX):
        require_absolute(request.ocio_config, "ocio_config")
    try:
        shot = shot_from_dict(data, os.sep, door=door)
    except ShotError as exc:  # the request calls the shot's `frames` `frame`
        raise ApiError(422, "invalid_shot", str(exc), "frame" if exc.field == "frames" else exc.field) from None
    if request.previous is not None and not door.is_file(request.previous, "previous"):
        raise ApiError(422, "file_not_found", f"{request.previous}: file not found", "previous")
    check_shot_paths(shot, extra_sources=[request.previous] if request.previous else [])
    check_shot_files(shot)
    check_outputs(shot)
    return shot


def job_shot(request: JobRequest, door: Door, checkpoint: Path) -> Shot:
    """The Shot of a /v1/jobs request, checked; it must name the bridge's model or none."""
    if (request.shot is None) == (request.shot_path is None):
        raise ApiError(422, "invalid_request", "give either `shot` (shot-file data) or `shot_path`", "shot")
    if request.shot is not None:
        data = request.shot.model_dump(exclude_none=True)
        for name in ("input", "output", "checkpoint", "ocio_config", "output_per_object"):
            if name in data and not str(data[name]).startswith(BUILTIN_CONFIG_PREFIX):
                require_absolute(data[name], f"shot.{name}")
        try:
            shot = load_shot(data, os.sep, frames=request.frames, check_files=False, door=door)
        except ShotError as exc:
            raise ApiError(422, "invalid_shot", str(exc), f"shot.{exc.field}" if exc.field else "shot") from None
    else:
        shot = _shot_file(request.shot_path, door, frames=request.frames)
    if shot.checkpoint is not None and os.path.realpath(shot.checkpoint) != str(checkpoint.resolve()):
        raise ApiError(
            422, "other_model",
            f"the shot names checkpoint {shot.checkpoint} but this bridge serves {checkpoint}: render it with "
            "`hyperseg-vfx render`, or start a bridge with that --checkpoint",
            "checkpoint",
        )
    check_shot_paths(shot)
    check_shot_files(shot)
    kept = {f for f in shot.frames if request.skip_existing
            and all(output_is_complete(p, door) for p in shot.output_paths(f))}
    check_outputs(shot, [f for f in shot.frames if f not in kept])
    return shot


def _shot_file(path: str, door: Door, frames=None) -> Shot:
    """The shot file at `path`, read through the door (422 when missing or unreadable)."""
    require_absolute(path, "shot_path")
    try:
        return load_shot(path, frames=frames, check_files=False, door=door)
    except FileNotFoundError:
        raise ApiError(422, "file_not_found", f"{path}: file not found", "shot_path") from None
    except OSError as exc:
        raise ApiError(422, "unreadable", f"cannot read shot file {path}: {exc.strerror or exc}", "shot_path") from None


def shot_file_for_submit(path: str, door: Door) -> Shot:
    """The shot file of a /v1/submit request, its paths checked exactly as /v1/jobs checks them,
    its checkpoint too (through the door: out of the roots is 403 whether it exists or not)."""
    shot = _shot_file(path, door)
    check_shot_paths(shot)
    if shot.checkpoint is not None:
        door.real_path(shot.checkpoint, "checkpoint")
    return shot


def check_config_path(shot: Shot) -> None:
    """The shot's OCIO config file, when it names one, through the shot's door (out of the roots
    403 whether it exists or not; whether it reads is check_shot_files'); an `ocio://` name is
    no file."""
    if shot.ocio_config is not None and not shot.ocio_config.startswith(BUILTIN_CONFIG_PREFIX):
        shot.door.real_path(shot.ocio_config, "ocio_config")


def check_shot_paths(shot: Shot, extra_sources=()) -> None:
    """Check every file a render of `shot` reads or writes through the shot's door: inputs,
    outputs and what render's code reads as previous frames (render's rule picks files the
    request did not name; with temporal smoothing the next frames too); and that no output is,
    through links, one of the inputs. Each folder is walked once (door.survey); the render
    checks each file again where it opens it. The OCIO config too (check_config_path)."""
    check_config_path(shot)
    door = shot.door
    inputs = door.survey(dict.fromkeys(shot.input_path(f) for f in shot.frames), "input")
    steps = (-1, 1) if shot.options.temporal_smoothing else (-1,)
    for step in steps:  # render's neighbours, which exist only when a file is there
        role = "previous" if step < 0 else "next"
        wanted = dict.fromkeys(p for f in shot.frames if (p := shot.input_path(f + step)) != shot.input_path(f))
        for path, (real, exists) in door.survey(wanted, role).items():
            if exists:
                inputs[path] = (real, True)
    sources = {real for real, _exists in inputs.values()}
    sources |= {door.real_path(path, "previous") for path in extra_sources}
    outputs = door.survey(dict.fromkeys(p for f in shot.frames for p in shot.output_paths(f)), "output")
    for output, (real, _exists) in outputs.items():
        if real in sources:
            raise ApiError(422, "invalid_shot", f"{output} would overwrite an input file", "output")


def track_request(request: TrackRequest, door: Door, checkpoint: Path) -> tuple[Shot, list[int], str]:
    """(shot, frames to track, tracked shot file) of a /v1/track request, checked: the shot as
    for /v1/jobs (the same door on every file), `out` through the door, not the shot file, and
    replacing nothing unless `overwrite` (409 naming it), the shot trackable (artist keys,
    plates; the plate before the first tracked frame through the door too)."""
    from ..sequences import parse_frame_spec
    from ..tracking import check_trackable

    job = JobRequest(shot=request.shot, shot_path=request.shot_path)
    shot = job_shot(job, door, checkpoint)
    require_absolute(request.out, "out")
    out = request.out
    if shot.path is not None and door.real_path(out, "out") == door.real_path(shot.path, "shot_path"):
        raise ApiError(422, "invalid_request", f"{out} is the shot file itself; write the tracked shot elsewhere", "out")
    door.check_output(out, "out", replace=request.overwrite)
    try:
        frames = shot.frames if request.frames is None else parse_frame_spec(request.frames)
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc), "frames") from None
    for frame in frames:
        door.real_path(shot.input_path(frame), "input")
        previous_input(shot, frame)  # through the door: refused out of the roots
    check_trackable(shot, frames)
    return shot, frames, out
