"""Clicks: from the node's XY knobs (Nuke pixels, origin bottom-left, y up) to shot-file click
tracks (pixels, origin top-left, y down): x stays, y becomes height - y, with the height of the
Source's full-resolution format (XY knobs hold full-resolution values even in proxy mode, and
the bridge scales clicks itself when the proxy scale knob makes the model run smaller).

    knob = ClickKnob("pos1", "positive", True, (1001.0, 1010.0), position)   # position(frame) -> (x, y)
    clicks_at([knob], 1005, 1920, 1080)       # [{"label": "positive", "keys": {1005: [x, 1080 - y]}}]
    export_tracks([knob], range(1001, 1101), 1920, 1080)

Pure Python: the knob reading happens in hyperseg_nuke.knobs.
"""

import bisect
import math
from typing import Callable, Dict, List, NamedTuple, Sequence, Tuple

from hyperseg_nuke.errors import PluginError

Point = Tuple[float, float]
#: Largest gap (pixels) between Nuke's curve and the linear interpolation of its keyframes that
#: the exported shot may have; a larger one bakes the click with a key on every frame.
BAKE_TOLERANCE = 1e-6


class ClickKnob(NamedTuple):
    """One click slot of the node. name: its XY knob (`pos3`); label: positive | negative;
    keyframes: the frames the knob has keys on (empty: not animated); position(frame): the
    knob's (x, y) at a frame, Nuke pixels."""

    name: str
    label: str
    enabled: bool
    keyframes: Tuple[float, ...]
    position: Callable[[float], Point]


def free_point(taken: Sequence[Point], width: float, height: float) -> Point:
    """Where a new click appears: the frame centre, or, when a click already sits there, the
    nearest point of a ring of 8 around it (spacing 1/20 of the short side, rings widening) that
    is at least one spacing from every click in `taken` and inside the frame. So two added clicks
    never hide under one Viewer handle. Points in Nuke pixels (any origin: the centre is symmetric)."""
    spacing = max(min(width, height) / 20.0, 1.0)
    centre = (width / 2.0, height / 2.0)
    candidates = [centre]
    for ring in range(1, 10):
        for step in range(8):
            angle = 2.0 * math.pi * step / 8.0
            candidates.append((centre[0] + ring * spacing * math.cos(angle),
                               centre[1] + ring * spacing * math.sin(angle)))
    for point in candidates:
        inside = 0.0 <= point[0] <= width and 0.0 <= point[1] <= height
        if inside and all(math.hypot(point[0] - x, point[1] - y) >= spacing for x, y in taken):
            return point
    return centre


def to_top_left(point: Point, height: int) -> Point:
    """A Nuke point (origin bottom-left) in shot-file pixels (origin top-left)."""
    return (float(point[0]), float(height) - float(point[1]))


def clicks_at(knobs: Sequence[ClickKnob], frame: int, width: int, height: int) -> List[Dict]:
    """The enabled clicks at `frame` as shot-file tracks with one key. PluginError when one is
    outside the frame or none is positive."""
    enabled = [knob for knob in knobs if knob.enabled]
    _require_positive(enabled)
    tracks = []
    for knob in enabled:
        point = _checked(knob, frame, width, height)
        tracks.append({"label": knob.label, "keys": {frame: list(point)}})
    return tracks


def export_tracks(knobs: Sequence[ClickKnob], frames: Sequence[int], width: int, height: int) -> List[Dict]:
    """The enabled clicks over `frames` as shot-file tracks: a key on each keyframe of the knob
    (a static knob: one key on the first frame), linear in between. Where Nuke's curve (smooth by
    default) leaves that line at some frame of `frames`, the click is baked: a key on every
    frame. So every frame gets exactly the click Nuke shows. PluginError when a click leaves the
    frame or no positive click is enabled."""
    enabled = [knob for knob in knobs if knob.enabled]
    _require_positive(enabled)
    return [{"label": knob.label, "keys": _track_keys(knob, frames, width, height), "interpolation": "linear"}
            for knob in enabled]


def _track_keys(knob: ClickKnob, frames: Sequence[int], width: int, height: int) -> Dict[int, List[float]]:
    exact = [int(k) for k in knob.keyframes if float(k).is_integer()]
    path = {frame: _checked(knob, frame, width, height) for frame in frames}
    keys = {frame: to_top_left(knob.position(frame), height) for frame in exact or frames[:1]}
    if len(exact) < len(knob.keyframes) or any(
            not _close(interpolate(keys, frame), point) for frame, point in path.items()):
        keys.update(path)
    return {frame: list(keys[frame]) for frame in sorted(keys)}


def interpolate(keys: Dict[int, Point], frame: int) -> Point:
    """A shot-file track's position at `frame`: linear between keys, held outside them (as
    hyperseg_vfx.shot.ClickTrack.position_at computes it)."""
    times = sorted(keys)
    after = bisect.bisect_right(times, frame)
    if after == 0:
        return keys[times[0]]
    before = times[after - 1]
    if after == len(times):
        return keys[before]
    nxt = times[after]
    t = (frame - before) / (nxt - before)
    (x0, y0), (x1, y1) = keys[before], keys[nxt]
    return (x0 + t * (x1 - x0), y0 + t * (y1 - y0))


def _close(a: Point, b: Point) -> bool:
    return abs(a[0] - b[0]) <= BAKE_TOLERANCE and abs(a[1] - b[1]) <= BAKE_TOLERANCE


def _checked(knob: ClickKnob, frame: int, width: int, height: int) -> Point:
    """The knob's top-left position at `frame`; PluginError naming it when outside the frame."""
    x, y = knob.position(frame)
    if not (0 <= x < width and 0 < y <= height):
        raise PluginError("{} {} ({}) is outside the {}x{} Source at frame {}: ({:g}, {:g}). Drag it onto "
                          "the picture in the Viewer, or disable it.".format(
                              knob.label, knob.name[3:], knob.name, width, height, frame, x, y))
    return to_top_left((x, y), height)


def _require_positive(enabled: Sequence[ClickKnob]) -> None:
    if not any(knob.label == "positive" for knob in enabled):
        raise PluginError("No positive click: enable one on the Clicks tab (or press 'add positive click') "
                          "and drag it onto the object in the Viewer.")
