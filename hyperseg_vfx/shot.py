"""The shot file: what to render (plate pattern, frames, output) and the clicks that say how.

A shot file is YAML (so JSON works too):

    input: plates/sh010.####.exr      # relative paths are relative to the shot file
    frames: 1001-1100
    output: mattes/sh010_matte.####.exr
    colorspace: linear                # optional, default by file type (see read_frame)
    checkpoint: models/hyperseg.pt    # optional, default the bundled model
    clicks:
      - label: positive               # positive | negative
        keys: {1001: [812.0, 440.5], 1050: [900.0, 420.0]}   # frame: [x, y] pixels, top-left
        interpolation: linear         # linear | constant; held outside the keys
        frames: 1001-1100             # optional: frames where this click counts
        tracked:                      # optional, written by `hyperseg-vfx track` (see TrackMarks)
          keys: 1002-1100             # keys written by tracking (re-tracking replaces only these)
          dropped: {left_object: 1090-1100}   # frames where tracking dropped the click, by reason
    options: {scale: 1.0, matte: soft, candidates: false, temporal_smoothing: false}
    overwrite: false                  # optional: true lets outputs replace files hyperseg-vfx did not write

Everything is validated before any frame is rendered, so a farm job fails in seconds with an
error naming the offending field (and frame) instead of hours in. Validation errors are
ShotError with the dotted field path (`clicks[1].keys.1050`) and the frame, when one applies.
"""

from __future__ import annotations

import bisect
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml

from hyperseg_vfx.clicks import Click
from hyperseg_vfx.door import ANYWHERE, Door
from hyperseg_vfx.errors import HypersegError
from hyperseg_vfx.io.images import ImageReadError, read_header, resolve_colorspace
from hyperseg_vfx.sequences import check_pattern, format_frame_spec, frame_path, has_frame_token, parse_frame_spec

#: Largest shot file read, nesting depth of its data (shot files nest 4 deep; requests too).
MAX_SHOT_BYTES = 32 * 1024**2
MAX_DEPTH = 32
#: Smallest short side (px) the model may run at after `options.scale`.
MIN_SCALED_SIDE = 16

LABELS = ("positive", "negative")
INTERPOLATIONS = ("linear", "constant")
MATTES = ("soft", "binary")
#: options.edges: the model config's edge stage ("model"), none, or a graph cut at plate resolution.
EDGES = ("model", "none", "graphcut")


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
    first is held, after the last the last. frames: where the click counts (None: everywhere).
    """

    positive: bool
    keys: Mapping[int, tuple[float, float]]
    interpolation: str = "linear"
    frames: frozenset[int] | None = None
    tracked: TrackMarks | None = None

    def position_at(self, frame: int) -> tuple[float, float]:
        """(x, y) of the click at `frame`."""
        times = sorted(self.keys)
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
    (hyperseg_vfx.smoothing), against frame-to-frame chatter; edges: how the edge is decided at
    the plate's resolution (`model`: the model config's choice; `none`; `graphcut`: a graph cut
    on the plate's pixels in a band around the matte's edge, see modeling/edges.py)."""

    scale: float = 1.0
    matte: str = "soft"
    candidates: bool = False
    temporal_smoothing: bool = False
    edges: str = "model"


@dataclass(frozen=True)
class Shot:
    """A validated shot. input/output are absolute path patterns, checkpoint an absolute path
    or None (the bundled model), path the shot file it came from (None for a dict). door: the
    door every file of the shot is opened through (hyperseg_vfx.door; the bridge's has its
    allowed folders); not part of the shot's data."""

    input: str
    frames: list[int]
    output: str
    clicks: list[ClickTrack]
    colorspace: str | None = None
    checkpoint: str | None = None
    options: ShotOptions = field(default_factory=ShotOptions)
    path: str | None = None
    overwrite: bool = False
    door: Door = field(default=ANYWHERE, compare=False, repr=False)

    def input_path(self, frame: int) -> str:
        return frame_path(self.input, frame)

    def output_path(self, frame: int) -> str:
        return frame_path(self.output, frame)

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
        if self.checkpoint is not None:
            data["checkpoint"] = where(self.checkpoint)
        data["clicks"] = [_track_to_dict(track) for track in self.clicks]
        data["options"] = {
            "scale": self.options.scale,
            "matte": self.options.matte,
            "candidates": self.options.candidates,
            "temporal_smoothing": self.options.temporal_smoothing,
            "edges": self.options.edges,
        }
        if self.overwrite:
            data["overwrite"] = True
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


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ShotError(where, f"must be a finite number, got {value!r}")
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
    """A key frame: an integer, or a string of one (JSON object keys are strings)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise ShotError(where, f"key frame must be an integer, got {value!r}")


def _keys(value: Any, where: str) -> dict[int, tuple[float, float]]:
    if not isinstance(value, Mapping) or not value:
        raise ShotError(where, "must be a non-empty mapping frame: [x, y]")
    keys: dict[int, tuple[float, float]] = {}
    for raw, point in value.items():
        here = f"{where}.{raw}"
        frame = _frame_number(raw, here)
        if frame in keys:
            raise ShotError(here, f"frame {frame} is keyed twice")
        if not isinstance(point, (list, tuple)) or len(point) != 2:
            raise ShotError(here, f"must be [x, y], got {point!r}")
        keys[frame] = (_number(point[0], here), _number(point[1], here))
    return keys


def _frame_set(value: Any, where: str) -> frozenset[int]:
    return frozenset(_frames(value, where))


def _track_marks(value: Any, where: str, keys: Mapping[int, Any]) -> TrackMarks:
    data = _mapping(value, where, ("keys", "dropped", "moved", "unverified"), ())
    tracked_keys = _frame_set(data["keys"], f"{where}.keys") if "keys" in data else frozenset()
    missing = sorted(tracked_keys - set(keys))
    if missing:
        raise ShotError(f"{where}.keys", f"frame {missing[0]} is marked tracked but has no key")
    dropped = {}
    for reason, frames in _mapping(data.get("dropped", {}), f"{where}.dropped", DROP_REASONS, ()).items():
        dropped[reason] = _frame_set(frames, f"{where}.dropped.{reason}")
    return TrackMarks(
        tracked_keys, dropped,
        *(_frame_set(data[n], f"{where}.{n}") if n in data else frozenset() for n in ("moved", "unverified")),
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
        frames=None if frames is None else frozenset(_frames(frames, f"{where}.frames")),
        tracked=None if tracked is None else _track_marks(tracked, f"{where}.tracked", keys),
    )


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ShotError(where, f"must be true or false, got {_clipped(repr(value))}")
    return value


def _options(value: Any) -> ShotOptions:
    keys = ("scale", "matte", "candidates", "temporal_smoothing", "edges")
    data = _mapping({} if value is None else value, "options", keys, ())
    defaults = ShotOptions()
    scale = _number(data.get("scale", defaults.scale), "options.scale")
    if not 0 < scale <= 1:
        raise ShotError("options.scale", f"must be in (0, 1], got {scale}")
    candidates = _flag(data.get("candidates", defaults.candidates), "options.candidates")
    smoothing = _flag(data.get("temporal_smoothing", defaults.temporal_smoothing), "options.temporal_smoothing")
    matte = _choice(data.get("matte", defaults.matte), "options.matte", MATTES)
    edges = _choice(data.get("edges", defaults.edges), "options.edges", EDGES)
    return ShotOptions(scale, matte, candidates, smoothing, edges)


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
        data, "", ("input", "frames", "output", "colorspace", "checkpoint", "clicks", "options", "overwrite"),
        ("input", "frames", "output", "clicks"),
    )

    def resolve(value: str) -> str:
        if path_mapping is not None:
            value = path_mapping.map(value)
        return os.path.abspath(os.path.join(base_dir, value))

    checkpoint = _optional_string(data, "checkpoint")
    if not isinstance(data["clicks"], list):
        raise ShotError("clicks", f"must be a list of clicks, got {type(data['clicks']).__name__}")
    shot = Shot(
        input=resolve(_pattern(data["input"], "input")),
        frames=_frames(data["frames"], "frames"),
        output=resolve(_pattern(data["output"], "output")),
        clicks=[_track(track, f"clicks[{i}]") for i, track in enumerate(data["clicks"])],
        colorspace=_optional_string(data, "colorspace"),
        checkpoint=None if checkpoint is None else resolve(checkpoint),
        options=_options(data.get("options")),
        path=path,
        overwrite=_flag(data.get("overwrite", False), "overwrite"),
        door=door,
    )
    _check_consistency(shot)
    return shot


def _check_consistency(shot: Shot) -> None:
    """Checks across fields that need no files."""
    if shot.colorspace is not None:
        try:
            resolve_colorspace(shot.colorspace)
        except ValueError as exc:
            raise ShotError("colorspace", str(exc)) from None
    if len(shot.frames) > 1 and not has_frame_token(shot.output):
        raise ShotError(
            "output",
            f"{shot.output} has no frame token (####, %04d) but {len(shot.frames)} frames are rendered",
        )
    inputs = {shot.input_path(f) for f in shot.frames}
    for frame in shot.frames:
        if shot.output_path(frame) in inputs:
            raise ShotError("output", f"{shot.output_path(frame)} would overwrite an input file", frame)
        if not any(c.positive for c in shot.clicks_at(frame)):
            raise ShotError("clicks", "no positive click counts at this frame", frame)


# -- checks against the files on disk -------------------------------------------------------


def check_shot_files(shot: Shot) -> None:
    """Check that the checkpoint and every input frame exist and every click lies inside its
    frame's display window (0 <= x < width, 0 <= y < height). Reads headers only, through the
    shot's door: a file out of its roots is refused (PathRefused) whether it exists or not."""
    if shot.checkpoint is not None and not shot.door.is_file(shot.checkpoint, "checkpoint"):
        raise ShotError("checkpoint", f"file not found: {shot.checkpoint}")
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
        short_side = min(width, height) * shot.options.scale
        if shot.options.scale < 1 and short_side < MIN_SCALED_SIDE and frame == shot.frames[0]:
            raise ShotError("options.scale", f"{shot.options.scale:g} makes the {width}x{height} plate's short side "
                                             f"{short_side:.3g} px; the model needs at least {MIN_SCALED_SIDE} px", frame)
        for i, track in enumerate(shot.clicks):
            click = track.click_at(frame)
            if click is not None and not (0 <= click.x < width and 0 <= click.y < height):
                where = f"clicks[{i}].keys" + (f".{frame}" if frame in track.keys else "")
                message = f"click ({click.x:g}, {click.y:g}) is outside the {width}x{height} frame"
                raise ShotError(where, message, frame)


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
    current folder for data). frames: replaces the shot's frames before validation.
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
    a small file expand to a huge one) and nesting deeper than MAX_DEPTH are errors."""

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
        raise ShotError("", f"{where} is not valid YAML: {_clipped(str(exc), 500)}") from None
    except RecursionError:
        raise ShotError("", f"{where} is nested too deeply") from None


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
