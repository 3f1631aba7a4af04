"""Request and response bodies of the bridge (and so its OpenAPI description).

Requests refuse unknown fields. They check types only, strictly (no coercion: `"160"` is not a
number, `true` is not a coordinate, `"true"` is not a flag, just as in a shot file): clicks,
frames and options are in the shot-file form and their values are checked by building a Shot
with shot.py (shot_from_dict), so a request is refused exactly where a shot file would be, with
the same field path. Key frames stay strings here so that shot.py sees `"1001"` and `"1001 "` as
the same frame given twice. Paths are absolute (the bridge's current folder is not the client's).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from ..edge_methods import EDGES
from ..shot import ShotOptions

JobState = Literal["queued", "running", "cancelling", "done", "failed", "cancelled"]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrackMarks(Request):
    """What `track` did to a click, as in a shot file (hyperseg_vfx.shot.TrackMarks): frame specs
    of its tracked keys, of the frames where it was dropped (by reason), moved back or kept
    unverified."""

    keys: str | int | None = None
    dropped: dict[str, str | int] | None = None
    moved: str | int | None = None
    unverified: str | int | None = None


class ClickTrack(Request):
    """A click followed through frames, as in a shot file: keys {frame: [x, y]} in pixels with
    the origin top-left; held before the first and after the last key."""

    label: Literal["positive", "negative"]
    keys: dict[StrictStr, tuple[StrictFloat, StrictFloat]]
    interpolation: Literal["linear", "constant"] = "linear"
    frames: StrictStr | StrictInt | None = Field(
        None, description="Frames where the click counts, e.g. 1001-1050 (default: all).")
    tracked: TrackMarks | None = Field(None, description="Written by `track`: which keys it wrote, where it dropped the click.")


class Options(Request):
    """scale: fraction (0, 1] of the plate size the model runs at; matte: soft (probability) or
    binary; candidates: also write the alternative masks as channels hyperseg.c1..c4, hyperseg2.c5.. (4 per layer);
    temporal_smoothing: average each matte with its neighbours' mattes moved by the plates' motion;
    precision: what the network computes in (float16: CUDA only, 422 on a CPU bridge);
    edges: the edge stage at the plate's resolution (model: the model's own choice; none; graphcut; grabcut; learned)."""

    scale: StrictFloat = ShotOptions().scale
    matte: Literal["soft", "binary"] = ShotOptions().matte
    candidates: StrictBool = ShotOptions().candidates
    temporal_smoothing: StrictBool = ShotOptions().temporal_smoothing
    precision: Literal["float32", "float16"] = ShotOptions().precision
    edges: Literal[EDGES] = ShotOptions().edges
    exclusive: StrictBool = Field(ShotOptions().exclusive,
                                  description="With `objects`: the objects' mattes never overlap (sum at most 1).")


class ObjectOptions(Request):
    """An object's own options (absent: the request's)."""

    matte: Literal["soft", "binary"] | None = None
    candidates: StrictBool | None = None
    temporal_smoothing: StrictBool | None = None


class ObjectData(Request):
    """One of several objects: its clicks and options, as in a shot file's `objects:`."""

    clicks: list[ClickTrack]
    options: ObjectOptions | None = None


OBJECTS_DESCRIPTION = ("Several objects instead of `clicks`: name (a Nuke layer name) -> clicks and options; "
                       "the output then holds a layer per object (<name>.A).")
OUTPUT_PER_OBJECT_DESCRIPTION = "With `objects`: also one file per object, {object} replaced by its name."


class SegmentRequest(Request):
    """One frame to segment and write. input/output: a file or a frame pattern (####, %04d)
    evaluated at `frame`. previous: the file used as the previous frame; absent, render's rule
    applies (frame - 1 of the input pattern when that file exists, else the frame itself).
    colorspace: the input's colour space, a name of `ocio_config` (the client's OCIO config: an
    absolute path inside the allowed folders, or an `ocio://` name; absent: the bridge's own).
    overwrite: the output may replace a file that is not a matte hyperseg-vfx wrote."""

    input: StrictStr
    frame: StrictInt
    output: StrictStr
    clicks: list[ClickTrack] | None = None
    objects: dict[StrictStr, ObjectData] | None = Field(None, description=OBJECTS_DESCRIPTION)
    output_per_object: StrictStr | None = Field(None, description=OUTPUT_PER_OBJECT_DESCRIPTION)
    previous: StrictStr | None = None
    options: Options = Field(default_factory=Options)
    colorspace: StrictStr | None = None
    ocio_config: StrictStr | None = None
    overwrite: StrictBool = False


class ShotData(Request):
    """A shot in the shot-file form (see hyperseg_vfx.shot), with absolute paths."""

    input: StrictStr
    frames: StrictStr | StrictInt
    output: StrictStr
    clicks: list[ClickTrack] | None = None
    objects: dict[StrictStr, ObjectData] | None = Field(None, description=OBJECTS_DESCRIPTION)
    output_per_object: StrictStr | None = Field(None, description=OUTPUT_PER_OBJECT_DESCRIPTION)
    colorspace: StrictStr | None = None
    ocio_config: StrictStr | None = None
    checkpoint: StrictStr | None = None
    options: Options = Field(default_factory=Options)
    overwrite: StrictBool = False


class JobRequest(Request):
    """A shot to render in the background: `shot` (inline) or `shot_path` (a shot file), not
    both. frames: render these instead of the shot's (like `render --frames`)."""

    shot: ShotData | None = None
    shot_path: StrictStr | None = None
    frames: StrictStr | StrictInt | None = None
    skip_existing: StrictBool = False
    continue_on_error: StrictBool = False


class TrackRequest(Request):
    """A shot whose clicks to track (like `hyperseg-vfx track`): `shot` (inline) or `shot_path`,
    not both; `out`: the tracked shot file to write (absolute, never the shot file itself; an
    existing file is replaced only with `overwrite`, else 409); frames: track these instead of
    the shot's frames (keys elsewhere are kept)."""

    shot: ShotData | None = None
    shot_path: str | None = None
    out: str
    frames: str | int | None = None
    overwrite: StrictBool = False


class SubmitRequest(Request):
    """A shot file to hand to a render farm's submitter."""

    shot_path: StrictStr
    farm: StrictStr
    out_dir: StrictStr | None = None
    chunk_size: StrictInt = Field(10, ge=1)
    gpus: StrictInt = Field(0, ge=0)
    priority: StrictInt = Field(50, ge=0)
    name: StrictStr | None = None
    dry_run: StrictBool = False


# -- answers --------------------------------------------------------------------------------------


class CacheUse(BaseModel):
    entries: int
    bytes: int
    max_bytes: int
    hits: int
    misses: int


class QueueUse(BaseModel):
    """Model calls waiting for the worker (the one in progress not counted)."""

    length: int
    interactive: int
    jobs: int


class JobCounts(BaseModel):
    running: int
    queued: int


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    pid: int = Field(description="The bridge's process id (to stop a bridge that ensure_bridge started).")
    device: str
    model: str
    checkpoint: str
    cache: CacheUse = Field(description="The frames' features (--cache-bytes).")
    plate_cache: CacheUse = Field(description="Decoded plates of the frames being clicked on.")
    matte_cache: CacheUse = Field(description="Objects' mattes: an object whose clicks did not change is not "
                                              "segmented again.")
    queue: QueueUse
    jobs: JobCounts


class SegmentTimings(BaseModel):
    """Seconds. features_s is None when the frame's features came from the cache; network_s is
    the model's network alone, refine_s its edge refinement (0 when the model has none, or when
    nothing ran), request_s everything the server did for the request. reused_objects: objects
    (1 without `objects:`) whose matte came from the matte cache (same frame and clicks as a
    recent request): only the others were segmented."""

    features_cached: bool
    features_s: float | None
    network_s: float
    refine_s: float
    model_s: float
    queue_s: float
    write_s: float
    request_s: float
    reused_objects: int


class SegmentResult(BaseModel):
    output: str
    frame: int
    input: str
    previous: str | None = Field(description="The file used as the previous frame (None: the frame itself).")
    coverage: float = Field(description="Fraction of the frame inside the matte (alpha > 0.5; with objects, any object's).")
    object_coverage: dict[str, float] | None = Field(None, description="With objects: each object's coverage.")
    timings: SegmentTimings
    model: str


class FrameError(BaseModel):
    frame: int
    message: str


class JobStatus(BaseModel):
    """frames: frames to render; done: written or kept (skip_existing); eta_s: estimated
    seconds left (None before the first frame and after the end); error: why the whole job
    failed, when it did not get to render."""

    id: str
    name: str
    state: JobState
    frames: int
    done: int
    written: int
    skipped: int
    failed: int
    errors: list[FrameError]
    eta_s: float | None
    elapsed_s: float
    output: str
    error: str | None = None


class SubmitResult(BaseModel):
    """The farm submitter's result (hyperseg_vfx.farm.SubmitResult), paths as strings."""

    model_config = ConfigDict(extra="allow")

    farm: str
    submitted: bool
    job_id: str | None = None
    message: str = ""


_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message", "field"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": ["string", "null"]}}}},
}
_REFUSALS = {400: "Not JSON, or JSON with a key given twice or nested too deep", 401: "Missing or wrong token",
             403: "A path outside the allowed folders, a foreign Host or Origin",
             409: "An output exists and may not be replaced (send overwrite: true to replace it)",
             413: "Body too large", 415: "Body not sent as application/json",
             429: "Too many jobs waiting (too_many_jobs; see hyperseg_vfx.bridge.jobs.MAX_QUEUED_JOBS)",
             422: "Invalid request (the field says where)", 500: "Internal error"}
#: The error answers every route may give, for the OpenAPI description.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/json": {"schema": _ERROR_SCHEMA}}}
    for status, text in _REFUSALS.items()
}
