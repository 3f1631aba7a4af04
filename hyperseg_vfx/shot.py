"""The shot file: what to render (plate pattern, frames, output) and the clicks that say how.

A shot file is YAML (so JSON works too):

    input: plates/sh010.####.exr      # relative paths are relative to the shot file
    frames: 1001-1100
    output: mattes/sh010_matte.####.exr
    colorspace: linear                # optional, default by file type (see read_frame)
    ocio_config: ocio/config.ocio     # optional: the OCIO config colorspace is a name of (default
                                      # $OCIO, else OpenImageIO's built-in one; `ocio://...` names too)
    checkpoint: models/hyperseg.pt    # optional, default the bundled model
    clicks:
      - label: positive               # positive | negative
        keys: {1001: [812.0, 440.5], 1050: [900.0, 420.0]}   # frame: [x, y] pixels, top-left
        interpolation: linear         # linear | constant; held outside the keys
        frames: 1001-1100             # optional: frames where this click counts
        tracked:                      # optional, written by `hyperseg-vfx track` (see TrackMarks)
          keys: 1002-1100             # keys written by tracking (re-tracking replaces only these)
          dropped: {left_object: 1090-1100}   # frames where tracking dropped the click, by reason
    options: {scale: 1.0, matte: soft, candidates: false, temporal_smoothing: false, precision: float32,
              exclusive: false}
    overwrite: false                  # optional: true lets outputs replace files hyperseg-vfx did not write
    hold: false                       # true: an input without a frame token is held for every frame
    farm: {show: myshow, shot: sh010, user: jdoe}   # optional: who and what the farm job is filed under
                                                    # (OpenCue's show, shot and user; submit's options win)

Several objects: `objects:` (name -> clicks and options) instead of `clicks:`, one EXR layer per
object; see hyperseg_vfx.objects.

Everything is validated before any frame is rendered, so a farm job fails in seconds with an
error naming the offending field (and frame) instead of hours in. Validation errors are
ShotError with the dotted field path (`clicks[1].keys.1050`) and the frame, when one applies.
"""

from __future__ import annotations

import bisect
import functools
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml

from hyperseg_vfx.clicks import Click
from hyperseg_vfx.devices import DEFAULT_PRECISION, PRECISIONS
from hyperseg_vfx.door import ANYWHERE, Door
from hyperseg_vfx.edge_methods import EDGES
from hyperseg_vfx.errors import HypersegError
from hyperseg_vfx.io.images import BUILTIN_CONFIG_PREFIX, ImageReadError, read_header, resolve_colorspace
from hyperseg_vfx.sequences import (
    MAX_DIGITS, FrameSet, check_pattern, format_frame_spec, frame_path, has_frame_token, max_frames, parse_frame_set,
    parse_frame_spec,
)

#: Largest shot file read, nesting depth of its data (shot files nest 4 deep; requests too).
MAX_SHOT_BYTES = 32 * 1024**2
MAX_DEPTH = 32
#: Largest click coordinate (px) in size: image files address at most 2^31 pixels a side (EXR
#: windows are 32-bit); a larger number is refused before it is converted.
MAX_COORDINATE = float(2**31)
#: Longest integer a shot file may hold, in characters: beyond it PyYAML's int() would refuse
#: (over 4300 digits) or build a number no field takes; refused while parsing, with its line.
MAX_INTEGER_CHARS = 64
_INTEGER = re.compile(r"\s*-?\d+\s*")
_FRAME_KEY = re.compile(rf"\s*-?[0-9]{{1,{MAX_DIGITS}}}\s*")
#: Most clicks a shot takes (an artist's shot has a handful; the evaluation robot's 20): what a
#: shot holds, and so its validation and a bridge job's memory, stays bounded.
MAX_CLICKS = 1000
#: Smallest short side (px) the model may run at after `options.scale`.
MIN_SCALED_SIDE = 16

LABELS = ("positive", "negative")
INTERPOLATIONS = ("linear", "constant")
MATTES = ("soft", "binary")
#: Keys of a shot's `farm` section.
FARM_KEYS = ("show", "shot", "user")


class ShotError(HypersegError, ValueError):
    """An invalid shot: `field` is the dotted path of the culprit ("" for the whole file),
    `frame` the frame it concerns or None."""

    def __init__(self, field: str, message: str, frame: int | None = None):
        self.field = field
        self.frame = frame
        where = (field or "shot") + (f" (frame {frame})" if frame is not None else "")
        super().__init__(f"{where}: {message}")


#: Why tracking dropped a click on a frame (TrackMarks.dropped keys).
DROP_REASONS = ("left_object", "on_object", "left_frame")


@dataclass(frozen=True)
class TrackMarks:
    """What `hyperseg-vfx track` did to one click (absent on a click it never touched).

    keys: frames whose key tracking wrote; every other key is the artist's, and re-tracking
    replaces only these. dropped: reason -> frames where tracking dropped the click (it does not
    count there): left_object (a positive that left the object and could not be moved back),
    on_object (a negative the object moved onto), left_frame (carried out of the frame). moved: frames
    where a positive that left the object was moved back inside. unverified: frames where a
    positive left the object but was kept, being the last positive there.
    """

    keys: frozenset[int] = frozenset()
    dropped: Mapping[str, frozenset[int]] = field(default_factory=dict)
    moved: frozenset[int] = frozenset()
    unverified: frozenset[int] = frozenset()

    def dropped_at(self, frame: int) -> str | None:
        """The reason the click was dropped at `frame`, None where it was not."""
        return next((reason for reason, frames in self.dropped.items() if frame in frames), None)


@dataclass(frozen=True)
class ClickTrack:
    """One click followed through the shot.

    keys: frame -> (x, y) in pixels, origin top-left. Between keys the position is interpolated
    linearly or held (`constant`: the last key at or before the frame); before the first key the
    first is held, after the last the last. frames: where the click counts (None: everywhere;
    a FrameSet when read from a shot file, any set of ints otherwise).
    """

    positive: bool
    keys: Mapping[int, tuple[float, float]]
    interpolation: str = "linear"
    frames: FrameSet | frozenset[int] | None = None
    tracked: TrackMarks | None = None

    @functools.cached_property
    def key_times(self) -> list[int]:
        """The key frames, sorted (once: position_at runs on every frame of a render)."""
        return sorted(self.keys)

    def position_at(self, frame: int) -> tuple[float, float]:
        """(x, y) of the click at `frame`."""
        times = self.key_times
        after = bisect.bisect_right(times, frame)  # keys at or before frame: times[:after]
        if after == 0:
            return self.keys[times[0]]
        before = times[after - 1]
        if after == len(times) or self.interpolation == "constant":
            return self.keys[before]
        nxt = times[after]
        t = (frame - before) / (nxt - before)
        (x0, y0), (x1, y1) = self.keys[before], self.keys[nxt]
        return (x0 + t * (x1 - x0), y0 + t * (y1 - y0))

    def click_at(self, frame: int) -> Click | None:
        """The click at `frame`, None where the track does not count (outside `frames`, or
        dropped there by tracking)."""
        if self.frames is not None and frame not in self.frames:
            return None
        if self.tracked is not None and self.tracked.dropped_at(frame) is not None:
            return None
        return Click(*self.position_at(frame), self.positive)


@dataclass(frozen=True)
class ShotOptions:
    """Render options: scale in (0, 1] of the plate size the model runs at; matte `soft`
    (probability) or `binary` (probability > 0.5); candidates: also write alternative masks;
    temporal_smoothing: average each matte with its neighbours' moved by the plates' motion
    (hyperseg_vfx.smoothing), against frame-to-frame chatter; precision: float32 | float16, what
    the network computes in on every device (hyperseg_vfx.devices), so that every chunk of the shot
    gives the mattes of one run. exclusive: the mattes of a shot's `objects:` never overlap
    (render_objects.exclusive_alphas). edges: how the edge is decided at the plate's resolution
    (`model`: the model config's choice; `none`; `graphcut` or `grabcut`: a graph cut on the
    plate's pixels in a band around the matte's edge, by the network's probability or by colour
    models, see modeling/edges.py; `learned`: grabcut then the model's learned band refiner, for
    models that have one)."""

    scale: float = 1.0
    matte: str = "soft"
    candidates: bool = False
    temporal_smoothing: bool = False
    precision: str = DEFAULT_PRECISION
    exclusive: bool = False
    edges: str = "model"


@dataclass(frozen=True)
class Shot:
    """A validated shot. input/output are absolute path patterns, checkpoint an absolute path
    or None (the bundled model), path the shot file it came from (None for a dict), ocio_config
    the OCIO config `colorspace` is a name of: an absolute path, an `ocio://` name or None (the
    active config). door: the door every file of the shot is opened through (hyperseg_vfx.door;
    the bridge's has its allowed folders); not part of the shot's data.
    objects: the shot's `objects:` (hyperseg_vfx.objects.ShotObject), () for a one-object shot
    (then `clicks` are its clicks; with objects, `clicks` is empty). output_per_object: the
    absolute pattern of the objects' own files ({object} for the name), or None."""

    input: str
    frames: list[int]
    output: str
    clicks: list[ClickTrack]
    colorspace: str | None = None
    checkpoint: str | None = None
    options: ShotOptions = field(default_factory=ShotOptions)
    path: str | None = None
    overwrite: bool = False
    ocio_config: str | None = None
    hold: bool = False
    farm: Mapping[str, str] = field(default_factory=dict)
    door: Door = field(default=ANYWHERE, compare=False, repr=False)
    objects: tuple = ()
    output_per_object: str | None = None

    def input_path(self, frame: int) -> str:
        return frame_path(self.input, frame)

    def output_path(self, frame: int) -> str:
        return frame_path(self.output, frame)

    def output_paths(self, frame: int) -> list[str]:
        """Every file the render of `frame` writes: the output, then each object's own file."""
        from .objects import object_output

        own = [] if self.output_per_object is None else [
            frame_path(object_output(self.output_per_object, obj.name), frame) for obj in self.objects]
        return [self.output_path(frame)] + own

    def clicks_at(self, frame: int) -> list[Click]:
        """The clicks that count at `frame`, in track order."""
        return [c for c in (track.click_at(frame) for track in self.clicks) if c is not None]

    def to_dict(self, relative_to: str | os.PathLike | None = None) -> dict[str, Any]:
        """The shot as shot-file data (load_shot reads it back to an equal Shot).

        relative_to: write paths relative to this folder (the one the shot file will be in).
        """

        def where(p: str) -> str:
            return p if relative_to is None else os.path.relpath(p, relative_to)

        data: dict[str, Any] = {
            "input": where(self.input),
            "frames": format_frame_spec(self.frames),
            "output": where(self.output),
        }
        if self.colorspace is not None:
            data["colorspace"] = self.colorspace
        if self.ocio_config is not None:
            data["ocio_config"] = (self.ocio_config if self.ocio_config.startswith(BUILTIN_CONFIG_PREFIX)
                                   else where(self.ocio_config))
        if self.checkpoint is not None:
            data["checkpoint"] = where(self.checkpoint)
        if self.objects:
            from .objects import object_options_dict

            data["objects"] = {obj.name: {"clicks": [_track_to_dict(track) for track in obj.clicks]}
                               for obj in self.objects}
            for obj in self.objects:
                if object_options_dict(obj, self.options):
                    data["objects"][obj.name]["options"] = object_options_dict(obj, self.options)
            if self.output_per_object is not None:
                data["output_per_object"] = where(self.output_per_object)
        else:
            data["clicks"] = [_track_to_dict(track) for track in self.clicks]
        data["options"] = {
            "scale": self.options.scale,
            "matte": self.options.matte,
            "candidates": self.options.candidates,
            "temporal_smoothing": self.options.temporal_smoothing,
            "precision": self.options.precision,
            "edges": self.options.edges,
        }
        if self.options.exclusive:
            data["options"]["exclusive"] = True
        if self.overwrite:
            data["overwrite"] = True
        if self.hold:
            data["hold"] = True
        if self.farm:
            data["farm"] = dict(self.farm)
        return data


def _track_to_dict(track: ClickTrack) -> dict[str, Any]:
    data: dict[str, Any] = {
        "label": "positive" if track.positive else "negative",
        "keys": {f: list(track.keys[f]) for f in sorted(track.keys)},
        "interpolation": track.interpolation,
    }
    if track.frames is not None:
        data["frames"] = format_frame_spec(track.frames)
    if track.tracked is not None:
        marks = track.tracked
        tracked: dict[str, Any] = {}
        if marks.keys:
            tracked["keys"] = format_frame_spec(marks.keys)
        dropped = {reason: format_frame_spec(f) for reason, f in marks.dropped.items() if f}
        if dropped:
            tracked["dropped"] = dropped
        for name in ("moved", "unverified"):
            if getattr(marks, name):
                tracked[name] = format_frame_spec(getattr(marks, name))
        data["tracked"] = tracked
    return data


# -- parsing: types and values, no disk access ---------------------------------------------


def _mapping(value: Any, where: str, allowed: tuple[str, ...], required: tuple[str, ...]) -> Mapping:
    """`value` as a mapping with only `allowed` keys and all `required` ones."""
    if not isinstance(value, Mapping):
        raise ShotError(where, f"must be a mapping, got {type(value).__name__}")
    prefix = f"{where}." if where else ""
    for key in value:
        if key not in allowed:
            raise ShotError(f"{prefix}{key}", f"unknown key (allowed: {', '.join(allowed)})")
    for key in required:
        if key not in value:
            raise ShotError(f"{prefix}{key}", "is required")
    return value


def _string(value: Any, where: str) -> str:
    """A non-empty string of valid text: no control character, no lone surrogate (which no
    file system or colour config takes)."""
    if not isinstance(value, str) or not value:
        raise ShotError(where, f"must be a non-empty string, got {_clipped(repr(value))}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ShotError(where, f"is not valid text (a lone surrogate): {_clipped(ascii(value))}") from None
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ShotError(where, f"cannot hold control characters: {_clipped(ascii(value))}")
    return value


def _clipped(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _pattern(value: Any, where: str) -> str:
    text = _string(value, where)
    try:
        check_pattern(text)
    except ValueError as exc:
        raise ShotError(where, str(exc)) from None
    return text


def _shown(value: Any) -> str:
    """`value` for a message, short: an integer too long to print in full (Python refuses to
    write one of over 4300 digits) is named by its number of digits."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"an integer of at least {int((value.bit_length() - 1) * math.log10(2)) + 1} digits"
    return _clipped(repr(value))


def _number(value: Any, where: str) -> float:
    """A coordinate: a finite number of at most MAX_COORDINATE in size, checked before it is
    converted (a long enough integer overflows a float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ShotError(where, f"must be a finite number, got {_shown(value)}")
    if isinstance(value, int) and abs(value) > MAX_COORDINATE or isinstance(value, float) and not (
            math.isfinite(value) and abs(value) <= MAX_COORDINATE):
        raise ShotError(where, f"must be a finite number of at most {MAX_COORDINATE:.0f} in size, got {_shown(value)}")
    return float(value)


def _choice(value: Any, where: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ShotError(where, f"must be one of {', '.join(choices)}, got {value!r}")
    return value


def _frames(value: Any, where: str) -> list[int]:
    try:
        return parse_frame_spec(value)
    except ValueError as exc:
        raise ShotError(where, str(exc)) from None


def _frame_number(value: Any, where: str) -> int:
    """A key frame: an integer, or a string of one (JSON object keys are strings), of at most
    MAX_DIGITS digits (checked before a string is converted)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) < 10**MAX_DIGITS:
            return value
    elif isinstance(value, str) and _FRAME_KEY.fullmatch(value):
        return int(value)
    elif not (isinstance(value, str) and _INTEGER.fullmatch(value)):
        raise ShotError(where, f"key frame must be an integer, got {_shown(value)}")
    raise ShotError(where, f"key frame must be an integer of at most {MAX_DIGITS} digits, got {_shown(value)}")


def _keys(value: Any, where: str) -> dict[int, tuple[float, float]]:
    if not isinstance(value, Mapping) or not value:
        raise ShotError(where, "must be a non-empty mapping frame: [x, y]")
    keys: dict[int, tuple[float, float]] = {}
    for raw, point in value.items():
        here = f"{where}.{_clipped(raw, 40) if isinstance(raw, str) else _shown(raw)}"
        frame = _frame_number(raw, here)
        if frame in keys:
            raise ShotError(here, f"frame {frame} is keyed twice")
        if not isinstance(point, (list, tuple)) or len(point) != 2:
            raise ShotError(here, f"must be [x, y], got {point!r}")
        keys[frame] = (_number(point[0], here), _number(point[1], here))
    return keys


def _frame_set(value: Any, where: str) -> FrameSet:
    try:
        return parse_frame_set(value)
    except ValueError as exc:
        raise ShotError(where, str(exc)) from None


def _keyed_frames(value: Any, where: str, keys: Mapping[int, Any], times: list[int], what: str) -> frozenset[int]:
    """The frames of a mark (`value`, a frame spec), each of which must have a key (in `keys`,
    whose frames `times` lists sorted): tracking writes a key on every frame it marks, so a mark is never larger than the
    keys (checked run by run, before any frame is listed)."""
    frames = _frame_set(value, where)
    for first, last in frames.runs:
        if bisect.bisect_right(times, last) - bisect.bisect_left(times, first) < last - first + 1:
            missing = next(f for f in range(first, last + 1) if f not in keys)
            raise ShotError(where, f"frame {missing} is marked {what} but has no key")
    return frozenset(frames)


def _track_marks(value: Any, where: str, keys: Mapping[int, Any]) -> TrackMarks:
    data = _mapping(value, where, ("keys", "dropped", "moved", "unverified"), ())
    times = sorted(keys)

    def marked(spec: Any, here: str, what: str) -> frozenset[int]:
        return _keyed_frames(spec, here, keys, times, what)

    tracked_keys = marked(data["keys"], f"{where}.keys", "tracked") if "keys" in data else frozenset()
    dropped = {}
    for reason, frames in _mapping(data.get("dropped", {}), f"{where}.dropped", DROP_REASONS, ()).items():
        dropped[reason] = marked(frames, f"{where}.dropped.{reason}", f"dropped ({reason})")
    return TrackMarks(
        tracked_keys, dropped,
        *(marked(data[n], f"{where}.{n}", n) if n in data else frozenset() for n in ("moved", "unverified")),
    )


def _track(value: Any, where: str) -> ClickTrack:
    data = _mapping(value, where, ("label", "keys", "interpolation", "frames", "tracked"), ("label", "keys"))
    frames = data.get("frames")
    keys = _keys(data["keys"], f"{where}.keys")
    tracked = data.get("tracked")
    return ClickTrack(
        positive=_choice(data["label"], f"{where}.label", LABELS) == "positive",
        keys=keys,
        interpolation=_choice(
            data.get("interpolation", "linear"), f"{where}.interpolation", INTERPOLATIONS
        ),
        frames=None if frames is None else _frame_set(frames, f"{where}.frames"),
        tracked=None if tracked is None else _track_marks(tracked, f"{where}.tracked", keys),
    )


def _tracks(value: Any, where: str = "clicks") -> list[ClickTrack]:
    """The clicks: at most MAX_CLICKS, their `frames` specs together at most max_frames() runs
    (a stepped range such as `1-100000x2` is a run per frame), so that what a shot holds is
    bounded by its size, not by the frame numbers it names."""
    if not isinstance(value, list):
        raise ShotError(where, f"must be a list of clicks, got {type(value).__name__}")
    if len(value) > MAX_CLICKS:
        raise ShotError(where, f"holds {len(value)} clicks; a shot takes at most {MAX_CLICKS}")
    tracks, runs, limit = [], 0, max_frames()
    for i, data in enumerate(value):
        tracks.append(_track(data, f"{where}[{i}]"))
        runs += len(tracks[-1].frames.runs) if tracks[-1].frames is not None else 0
        if runs > limit:
            raise ShotError(f"{where}[{i}].frames", f"the clicks' frame specs hold more than {limit} separate runs of "
                                                   "frames together; give ranges (1001-1100) rather than steps")
    return tracks


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ShotError(where, f"must be true or false, got {_clipped(repr(value))}")
    return value


def _options(value: Any) -> ShotOptions:
    keys = ("scale", "matte", "candidates", "temporal_smoothing", "precision", "exclusive", "edges")
    data = _mapping({} if value is None else value, "options", keys, ())
    defaults = ShotOptions()
    scale = _number(data.get("scale", defaults.scale), "options.scale")
    if not 0 < scale <= 1:
        raise ShotError("options.scale", f"must be in (0, 1], got {scale}")
    candidates = _flag(data.get("candidates", defaults.candidates), "options.candidates")
    smoothing = _flag(data.get("temporal_smoothing", defaults.temporal_smoothing), "options.temporal_smoothing")
    matte = _choice(data.get("matte", defaults.matte), "options.matte", MATTES)
    precision = _choice(data.get("precision", defaults.precision), "options.precision", PRECISIONS)
    exclusive = _flag(data.get("exclusive", defaults.exclusive), "options.exclusive")
    edges = _choice(data.get("edges", defaults.edges), "options.edges", EDGES)
    return ShotOptions(scale, matte, candidates, smoothing, precision, exclusive, edges)


def _optional_string(data: Mapping, key: str) -> str | None:
    value = data.get(key)
    return None if value is None else _string(value, key)


def shot_from_dict(data: Any, base_dir: str | os.PathLike, *, path: str | None = None,
                   path_mapping=None, door: Door = ANYWHERE) -> Shot:
    """Parse and check shot-file data without touching the disk.

    Checks keys, types and values, the colour space name, that the output pattern names one
    file per frame and none of the input's, and that every frame has a positive click.
    Relative paths are resolved against `base_dir`. path: the shot file, kept on the Shot.
    path_mapping: a pathmapping.PathMapping applied to every path as written, before it is
    resolved (a farm worker's view of the submitter's paths). door: the Shot's door.
    """
    data = _mapping(
        data, "", ("input", "frames", "output", "colorspace", "ocio_config", "checkpoint", "clicks", "options",
                   "overwrite", "hold", "farm", "objects", "output_per_object"),
        ("input", "frames", "output"),
    )
    if ("clicks" in data) == ("objects" in data):
        raise ShotError("clicks", "is required (or `objects:`, for several objects)" if "clicks" not in data
                        else "give either `clicks:` (one object) or `objects:` (several), not both")

    def resolve(value: str) -> str:
        if path_mapping is not None:
            value = path_mapping.map(value)
        return os.path.abspath(os.path.join(base_dir, value))

    checkpoint = _optional_string(data, "checkpoint")
    ocio_config = _optional_string(data, "ocio_config")
    options = _options(data.get("options"))
    objects = ()
    if "objects" in data:
        from .objects import parse_objects

        objects = parse_objects(data["objects"], options)
    per_object = data.get("output_per_object")
    shot = Shot(
        input=resolve(_pattern(data["input"], "input")),
        frames=_frames(data["frames"], "frames"),
        output=resolve(_pattern(data["output"], "output")),
        clicks=_tracks(data["clicks"]) if "clicks" in data else [],
        colorspace=_optional_string(data, "colorspace"),
        checkpoint=None if checkpoint is None else resolve(checkpoint),
        options=options,
        path=path,
        overwrite=_flag(data.get("overwrite", False), "overwrite"),
        hold=_flag(data.get("hold", False), "hold"),
        farm={key: _string(value, f"farm.{key}")
              for key, value in _mapping(data.get("farm", {}), "farm", FARM_KEYS, ()).items()},
        objects=objects,
        output_per_object=None if per_object is None else resolve(_pattern(per_object, "output_per_object")),
        door=door,
        ocio_config=ocio_config if ocio_config is None or ocio_config.startswith(BUILTIN_CONFIG_PREFIX)
        else resolve(ocio_config),
    )
    _check_consistency(shot)
    return shot


def _check_consistency(shot: Shot) -> None:
    """Checks across fields that need no files (a colour space of a shot's own OCIO config is
    checked with its files: check_shot_files)."""
    if shot.colorspace is not None and shot.ocio_config is None:
        try:
            resolve_colorspace(shot.colorspace)
        except ValueError as exc:
            raise ShotError("colorspace", str(exc)) from None
    if len(shot.frames) > 1 and not has_frame_token(shot.output):
        raise ShotError(
            "output",
            f"{shot.output} has no frame token (####, %04d) but {len(shot.frames)} frames are rendered",
        )
    if len(shot.frames) > 1 and not has_frame_token(shot.input) and not shot.hold:
        raise ShotError(
            "input",
            f"{shot.input} has no frame token (####, %04d) but {len(shot.frames)} frames are rendered: "
            "add the frame token, or `hold: true` in the shot to use this one image for every frame",
        )
    inputs = {shot.input_path(f) for f in shot.frames}
    for frame in shot.frames:
        if shot.output_path(frame) in inputs:
            raise ShotError("output", f"{shot.output_path(frame)} would overwrite an input file", frame)
    for prefix, tracks in _click_groups(shot):
        uncovered = _first_frame_without_positive(tracks, shot.frames)
        if uncovered is not None:
            raise ShotError(prefix, "no positive click counts at this frame", uncovered)
    from .objects import check_objects

    check_objects(shot)


def _counted_runs(track: ClickTrack, frames: list[int]) -> list[tuple[int, int]]:
    """Where `track` counts among `frames` (sorted, distinct), as index runs [lo, hi): its
    `frames` less those where tracking dropped it. Costs its runs and drops, not the frames."""
    spans = FrameSet.of(track.frames).runs if track.frames is not None else ((frames[0], frames[-1]),)
    marks = track.tracked
    dropped = sorted(set().union(*marks.dropped.values())) if marks is not None and marks.dropped else []
    runs = []
    for first, last in spans:
        lo, hi = bisect.bisect_left(frames, first), bisect.bisect_right(frames, last)
        for frame in dropped[bisect.bisect_left(dropped, first):bisect.bisect_right(dropped, last)]:
            at = bisect.bisect_left(frames, frame, lo, hi)
            if at < hi and frames[at] == frame:
                if lo < at:
                    runs.append((lo, at))
                lo = at + 1
        if lo < hi:
            runs.append((lo, hi))
    return runs


def _click_groups(shot: Shot) -> list[tuple[str, list[ClickTrack]]]:
    """(field, click tracks) of each object of `shot`: its `clicks`, or each of its `objects`."""
    return [(f"objects.{o.name}.clicks", o.clicks) for o in shot.objects] or [("clicks", shot.clicks)]


def _first_frame_without_positive(tracks: list[ClickTrack], frames: list[int]) -> int | None:
    """The first of `frames` where no positive click of `tracks` counts, None when there is none:
    one pass over the frames after counting each positive click's runs (a difference array),
    so the cost is frames + runs, never frames x clicks."""
    starts = [0] * (len(frames) + 1)
    for track in tracks:
        if track.positive:
            for lo, hi in _counted_runs(track, frames):
                starts[lo] += 1
                starts[hi] -= 1
    counting = 0
    for frame, change in zip(frames, starts):
        counting += change
        if counting == 0:
            return frame
    return None


def _first_click_outside(tracks: list[ClickTrack], frames: list[int], width: int,
                         height: int) -> tuple[int, int] | None:
    """(frame, click index) of the first frame, then click, where a click that counts lies
    outside the width x height frame; None when none does.

    Between two keys a click moves on a straight line (or holds still), and the frame is convex,
    so on the frames between two keys where it counts, the frames it is outside on are a
    prefix and/or a suffix: testing the ends of each such stretch, and a binary search for the
    first one outside, finds it. Cost: (runs + keys) x log(frames) per click."""
    found = None

    def outside(track: ClickTrack, frame: int) -> bool:
        x, y = track.position_at(frame)
        return not (0 <= x < width and 0 <= y < height)

    for index, track in enumerate(tracks):
        times = track.key_times
        for lo, hi in _counted_runs(track, frames):
            if found is not None and frames[lo] >= found[0]:
                break
            inner = times[bisect.bisect_right(times, frames[lo]):bisect.bisect_right(times, frames[hi - 1])]
            cuts = sorted({lo, hi, *(bisect.bisect_left(frames, key, lo, hi) for key in inner)})
            first = next((_first_outside(frames, a, b, lambda f: outside(track, f))
                          for a, b in zip(cuts, cuts[1:]) if outside(track, frames[a]) or outside(track, frames[b - 1])),
                         None)
            if first is not None:
                if found is None or (first, index) < found:
                    found = (first, index)
                break
    return found


def _first_outside(frames: list[int], lo: int, hi: int, outside) -> int:
    """The first of frames[lo:hi] that is `outside`, given that those outside are a prefix or a
    suffix of it and one of the ends is outside."""
    if outside(frames[lo]):
        return frames[lo]
    inside = lo  # frames[inside] is inside, frames[hi - 1] outside
    high = hi - 1
    while high - inside > 1:
        middle = (inside + high) // 2
        if outside(frames[middle]):
            high = middle
        else:
            inside = middle
    return frames[high]


# -- checks against the files on disk -------------------------------------------------------


def check_shot_files(shot: Shot) -> None:
    """Check that the checkpoint and every input frame exist, that the shot's OCIO config reads
    and names its colour space, and that every click lies inside its frame's display window
    (0 <= x < width, 0 <= y < height). Reads headers only, through the shot's door: a file out
    of its roots is refused (PathRefused) whether it exists or not."""
    if shot.checkpoint is not None and not shot.door.is_file(shot.checkpoint, "checkpoint"):
        raise ShotError("checkpoint", f"file not found: {shot.checkpoint}")
    if shot.ocio_config is not None:
        _check_ocio_config(shot.ocio_config, shot.colorspace, shot.door)
    missing = [f for f in shot.frames if not shot.door.is_file(shot.input_path(f), "input")]
    if missing:
        raise ShotError(
            "input",
            f"file not found: {shot.input_path(missing[0])} "
            f"({len(missing)} of {len(shot.frames)} frames missing)",
            missing[0],
        )
    sizes: dict[str, tuple[int, int]] = {}
    first_size = None
    for frame in shot.frames:
        source = shot.input_path(frame)
        if source not in sizes:
            try:
                sizes[source] = read_header(source, shot.door)[:2]
            except ImageReadError as exc:
                raise ShotError("input", str(exc), frame) from None
        width, height = sizes[source]
        first_size = first_size or (source, width, height)
        if (width, height) != first_size[1:]:
            raise ShotError("input", f"{source} is {width}x{height} but {first_size[0]} is "
                                     f"{first_size[1]}x{first_size[2]}: every plate of a shot has one size", frame)
    _, width, height = first_size
    short_side = min(width, height) * shot.options.scale
    if shot.options.scale < 1 and short_side < MIN_SCALED_SIDE:
        raise ShotError("options.scale", f"{shot.options.scale:g} makes the {width}x{height} plate's short side "
                                         f"{short_side:.3g} px; the model needs at least {MIN_SCALED_SIDE} px",
                        shot.frames[0])
    for prefix, tracks in _click_groups(shot):
        outside = _first_click_outside(tracks, shot.frames, width, height)
        if outside is not None:
            frame, i = outside
            x, y = tracks[i].position_at(frame)
            where = f"{prefix}[{i}].keys" + (f".{frame}" if frame in tracks[i].keys else "")
            raise ShotError(where, f"click ({x:g}, {y:g}) is outside the {width}x{height} frame", frame)


def _check_ocio_config(ocio_config: str, colorspace: str | None, door: Door) -> None:
    """The config reads (a file through `door`) and knows the shot's colour space and sRGB (what
    plates are converted to)."""
    from hyperseg_vfx.io.images import BUILTIN_CONFIG_PREFIX, color_config

    if not ocio_config.startswith(BUILTIN_CONFIG_PREFIX):
        ocio_config = door.real_path(ocio_config, "ocio_config")
    try:
        color_config(ocio_config)
    except ValueError as exc:
        raise ShotError("ocio_config", str(exc)) from None
    for name, field_name in ((colorspace, "colorspace"), ("sRGB", "ocio_config")):
        if name is not None:
            try:
                resolve_colorspace(name, ocio_config)
            except ValueError as exc:
                raise ShotError(field_name, str(exc)) from None


def load_shot(
    path_or_dict: str | os.PathLike | Mapping,
    base_dir: str | os.PathLike | None = None,
    *,
    check_files: bool = True,
    frames: str | int | None = None,
    path_mapping=None,
    door: Door = ANYWHERE,
) -> Shot:
    """Load and fully validate a shot from a YAML/JSON file or from shot-file data.

    base_dir: folder relative paths are resolved against; default the shot file's folder (the
    current folder for data). frames: the frames to work on instead of the shot's (a farm
    chunk), validated as the shot's; ShotError (field `frames`) for one the shot does not have.
    check_files: also check the files on disk (see check_shot_files). path_mapping: see
    shot_from_dict. door: what the shot file and, later, the shot's files are opened through.
    Raises ShotError for an invalid shot, OSError when the shot file cannot be read.
    """
    shot_path = None
    if isinstance(path_or_dict, Mapping):
        data = path_or_dict
    else:
        # absolute as given: `..` after a link is the file system's to resolve (the door's walk), not lexical
        given = os.fspath(path_or_dict)
        shot_path = given if os.path.isabs(given) else os.path.abspath(given)
        data = parse_shot_text(read_shot_bytes(shot_path, door), shot_path)
        if base_dir is None:
            base_dir = os.path.dirname(shot_path)
    if frames is not None and isinstance(data, Mapping):
        own = _frames(data["frames"], "frames") if "frames" in data else None
        outside = sorted(set(_frames(frames, "frames")) - set(own or ()))
        if own is not None and outside:
            raise ShotError("frames", f"{_clipped(str(frames), 80)} asks for {len(outside)} frame(s) outside the "
                                      f"shot's frames {_clipped(format_frame_spec(own), 80)}", outside[0])
        data = {**data, "frames": frames}
    shot = shot_from_dict(data, os.getcwd() if base_dir is None else base_dir, path=shot_path,
                          path_mapping=path_mapping, door=door)
    if check_files:
        check_shot_files(shot)
    return shot


def read_shot_bytes(path: str, door: Door = ANYWHERE) -> bytes:
    """The bytes of a shot file read through `door`, refused (ShotError) beyond MAX_SHOT_BYTES
    before reading; OSError when it cannot be read, the door's PathRefused for a path it refuses
    (a FIFO, a path out of its roots)."""
    with door.reading(path, "shot_path") as opened:
        if opened.stat.st_size > MAX_SHOT_BYTES:
            raise ShotError("", f"{path} is larger than {MAX_SHOT_BYTES} bytes: not a shot file")
        return os.read(opened.fd, MAX_SHOT_BYTES + 1)


class _ShotLoader(yaml.SafeLoader):
    """PyYAML's safe loader, stricter: a mapping key given twice, an alias (`*name`, which lets
    a small file expand to a huge one), a merge key (`<<`), nesting deeper than MAX_DEPTH and an
    integer longer than MAX_INTEGER_CHARS are errors."""

    def construct_yaml_int(self, node):
        digits = node.value.replace("_", "").lstrip("+-")
        if len(digits) > MAX_INTEGER_CHARS:
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {len(digits)} characters is too long for any field of a shot file "
                            f"(at most {MAX_INTEGER_CHARS})", node.start_mark)
        return super().construct_yaml_int(node)


    _depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in shot files",
                                              self.peek_event().start_mark)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                              self.peek_event().start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise yaml.constructor.ConstructorError(None, None, "merge keys (<<) are not allowed in shot files",
                                                        key_node.start_mark)
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"key {_clipped(repr(key))} is given twice",
                                                        key_node.start_mark)
        return super().construct_mapping(node, deep)


_ShotLoader.add_constructor("tag:yaml.org,2002:int", _ShotLoader.construct_yaml_int)


def parse_shot_text(raw: bytes, where: str) -> Any:
    """Shot-file data from YAML/JSON bytes; ShotError naming `where` for text that is not UTF-8,
    not YAML, nested too deep, or with a key given twice."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ShotError("", f"{where} is not UTF-8 text (byte {exc.start}): not a shot file") from None
    try:
        return yaml.load(text, Loader=_ShotLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ShotError("", f"{where}{_yaml_problem(exc, text)}") from None
    except RecursionError:
        raise ShotError("", f"{where} is nested too deeply") from None


def _yaml_problem(exc: yaml.YAMLError, text: str) -> str:
    """A YAML error as one line, after the file name: ", line L, column C: not valid YAML: what"
    (PyYAML's own text spans 4 to 8 lines, quoting the file as "<unicode string>")."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "invalid"
        if exc.context and exc.problem and exc.context_mark is not None:
            context = exc.context.removeprefix("while ").replace("parsing", "in").replace("scanning", "in")
            what += f" ({context} that starts at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1})"
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    elif isinstance(exc, yaml.reader.ReaderError) and isinstance(exc.character, int):
        line_start = text.rfind("\n", 0, exc.position) + 1
        what = f"character U+{exc.character:04X} is not allowed (no control characters)"
        where = f", line {text.count(chr(10), 0, exc.position) + 1}, column {exc.position - line_start + 1}"
    else:
        what, where = str(exc), ""
    return f"{where}: not valid YAML: {_clipped(' '.join(what.split()), 300)}"


def save_shot(shot: Shot, path: str | os.PathLike, *, overwrite: bool = False, field: str = "out") -> None:
    """Write `shot` as a YAML shot file at `path` (atomically, through the shot's door), paths
    relative to its folder; as JSON (also YAML) when the name ends in .json, for readers without
    YAML (the Nuke plugin). An existing `path` is replaced only with `overwrite` (else the door's
    OutputExistsError naming it)."""
    folder = os.path.dirname(os.path.abspath(path))
    data = shot.to_dict(relative_to=folder)
    if str(path).lower().endswith(".json"):
        import json

        text = json.dumps(data, indent=1) + "\n"
    else:
        text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None)
    shot.door.write_text(path, text, field, replace=overwrite)
