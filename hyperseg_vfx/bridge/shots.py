"""Requests -> Shots, the input of the render code.

Every request is turned into a Shot by shot.py (shot_from_dict / load_shot), so values are
checked exactly as in a shot file, then every file the render will read or write is checked
against the allowed folders, then the files themselves (check_shot_files: inputs exist, clicks
inside the frame), then the outputs (render.check_outputs: nothing of the user's is replaced, the
folders take a file). Only then does the model run. /v1/submit checks a shot's paths with the
same check_shot_paths as /v1/jobs.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from ..render import check_outputs, output_is_complete, previous_input
from ..shot import Shot, ShotError, check_shot_files, load_shot, shot_from_dict
from .errors import ApiError
from .schemas import JobRequest, SegmentRequest, TrackRequest
from .security import PathGuard, require_absolute


@dataclasses.dataclass(frozen=True)
class OneFrameShot(Shot):
    """A one-frame shot whose previous frame is a file named by the request rather than frame
    - 1 of the input pattern. Everything else (reading, the model call, the matte and its
    `previous` metadata) is render's code, which asks `input_path(frame - 1)` for it."""

    previous: str | None = None

    def input_path(self, frame: int) -> str:
        if self.previous is not None and frame == self.frames[0] - 1:
            return self.previous
        return super().input_path(frame)


def segment_shot(request: SegmentRequest, guard: PathGuard) -> Shot:
    """The one-frame Shot of a /v1/segment request, checked."""
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
    if request.colorspace is not None:
        data["colorspace"] = request.colorspace
    try:
        shot = shot_from_dict(data, os.sep)
    except ShotError as exc:  # the request calls the shot's `frames` `frame`
        raise ApiError(422, "invalid_shot", str(exc), "frame" if exc.field == "frames" else exc.field) from None
    frame = request.frame
    guard.check(shot.input_path(frame), "input")
    for output in shot.output_paths(frame):
        guard.check(output, "output")
    if request.previous is not None:
        guard.check(request.previous, "previous")
        if not os.path.isfile(request.previous):
            raise ApiError(422, "file_not_found", f"{request.previous}: file not found", "previous")
        fields = {f.name: getattr(shot, f.name) for f in dataclasses.fields(shot)}
        shot = OneFrameShot(**fields, previous=request.previous)
    check_shot_files(shot)
    check_shot_paths(shot, guard)
    check_outputs(shot)
    return shot


def job_shot(request: JobRequest, guard: PathGuard, checkpoint: Path) -> Shot:
    """The Shot of a /v1/jobs request, checked; it must name the bridge's model or none."""
    if (request.shot is None) == (request.shot_path is None):
        raise ApiError(422, "invalid_request", "give either `shot` (shot-file data) or `shot_path`", "shot")
    if request.shot is not None:
        data = request.shot.model_dump(exclude_none=True)
        for name in ("input", "output", "checkpoint", "output_per_object"):
            if name in data:
                require_absolute(data[name], f"shot.{name}")
        try:
            shot = load_shot(data, os.sep, frames=request.frames, check_files=False)
        except ShotError as exc:
            raise ApiError(422, "invalid_shot", str(exc), f"shot.{exc.field}" if exc.field else "shot") from None
    else:
        path = guard.check(request.shot_path, "shot_path")
        if not os.path.isfile(path):
            raise ApiError(422, "file_not_found", f"{path}: file not found", "shot_path")
        try:
            shot = load_shot(path, frames=request.frames, check_files=False)
        except OSError as exc:
            raise ApiError(422, "unreadable", f"cannot read shot file {path}: {exc.strerror or exc}", "shot_path") from None
    if shot.checkpoint is not None and Path(shot.checkpoint).resolve() != checkpoint.resolve():
        raise ApiError(
            422, "other_model",
            f"the shot names checkpoint {shot.checkpoint} but this bridge serves {checkpoint}: render it with "
            "`hyperseg-vfx render`, or start a bridge with that --checkpoint",
            "checkpoint",
        )
    check_shot_paths(shot, guard)
    check_shot_files(shot)
    kept = {f for f in shot.frames if request.skip_existing and all(map(output_is_complete, shot.output_paths(f)))}
    check_outputs(shot, [f for f in shot.frames if f not in kept])
    return shot


def shot_file_for_submit(path: str, guard: PathGuard) -> Shot:
    """The shot file of a /v1/submit request, its paths checked exactly as /v1/jobs checks them."""
    guard.check(path, "shot_path")
    if not os.path.isfile(path):
        raise ApiError(422, "file_not_found", f"{path}: file not found", "shot_path")
    try:
        shot = load_shot(path, check_files=False)
    except OSError as exc:
        raise ApiError(422, "unreadable", f"cannot read shot file {path}: {exc.strerror or exc}", "shot_path") from None
    check_shot_paths(shot, guard)
    return shot


def check_shot_paths(shot: Shot, guard: PathGuard) -> None:
    """Check every file a render of `shot` reads or writes against the allowed folders: inputs,
    outputs and what render's code reads as previous frames (render's rule picks files the
    request did not name); and that no output is, through links, one of the inputs."""
    inputs = guard.check_many(dict.fromkeys(shot.input_path(f) for f in shot.frames), "input")
    written = dict.fromkeys(p for f in shot.frames for p in shot.output_paths(f))
    outputs = dict(zip(written, guard.check_many(written, "output")))
    previous = guard.check_many(dict.fromkeys(p for p in (previous_input(shot, f) for f in shot.frames) if p),
                                "previous")
    sources = set(inputs) | set(previous)
    for output, resolved in outputs.items():
        if resolved in sources:
            raise ApiError(422, "invalid_shot", f"{output} would overwrite an input file", "output")

def track_request(request: TrackRequest, guard: PathGuard, checkpoint: Path) -> tuple[Shot, list[int], str]:
    """(shot, frames to track, tracked shot file) of a /v1/track request, checked: the shot as
    for /v1/jobs (the same path guard on every file), `out` inside the allowed folders and not
    the shot file, the shot trackable (artist keys, plates)."""
    from ..sequences import parse_frame_spec
    from ..tracking import check_trackable

    job = JobRequest(shot=request.shot, shot_path=request.shot_path)
    shot = job_shot(job, guard, checkpoint)
    out = guard.check(request.out, "out")
    if shot.path is not None and os.path.realpath(out) == os.path.realpath(shot.path):
        raise ApiError(422, "invalid_request", f"{out} is the shot file itself; write the tracked shot elsewhere", "out")
    if os.path.isdir(out):
        raise ApiError(422, "invalid_request", f"{out} is a folder; name the tracked shot file", "out")
    try:
        frames = shot.frames if request.frames is None else parse_frame_spec(request.frames)
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc), "frames") from None
    for frame in frames:
        guard.check(shot.input_path(frame), "input")
    check_trackable(shot, frames)
    return shot, frames, out
