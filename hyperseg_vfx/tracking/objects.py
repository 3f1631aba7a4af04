"""Tracking a shot with several `objects:`: each object's clicks follow that object.

Each object is tracked as its own one-object shot (objects.object_shot: its clicks, its matte
checks, its keyframes) by track.track_shot, and the tracked clicks go back into the object. So
an object's tracked clicks are exactly what tracking the object alone gives. The flows between
two plates are computed once for all objects (motion.SharedFlows, up to SHARED_FLOW_BYTES), and
a frame's features too (the objects are tracked with a feature cache of
TRACK_FEATURE_CACHE_BYTES of their own, whatever cache the caller's segmenter has).
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Callable

from ..motion import FlowEstimator, SharedFlows, dis_flow
from ..objects import object_shot
from ..segmenter import DEFAULT_CACHE_BYTES
from ..shot import Shot, ShotError, shot_from_dict


#: Flows kept for the objects after the first: 128 flows of a 2K plate (16 MB each), the flows
#: of a 65-frame shot; later frames' flows are computed again for each object.
SHARED_FLOW_BYTES = 2 * 1024**3


#: Features kept while tracking several objects: a working-size model's features of a 2K frame
#: take about 5 MB, so every frame of a shot of a few hundred frames.
TRACK_FEATURE_CACHE_BYTES = DEFAULT_CACHE_BYTES


def track_objects(
    shot: Shot,
    segmenter,
    *,
    frames: list[int] | None = None,
    flow: FlowEstimator = dis_flow,
    progress: Callable[[int, int, int], None] | None = None,
    cancel: threading.Event | None = None,
    on_matte: Callable[[int, object], None] | None = None,
):
    """track_shot for a shot with objects. The TrackResult's drops, moves and unverified name
    their click as `objects.<name>.clicks[<i>]` instead of an index; keyframes are every
    object's; progress(frame, done, total) comes once per frame, when its last object is tracked
    there (the objects are tracked one after the other: the bar moves in the last one's pass);
    on_matte(frame, matte) is called for every object's matte, object by object."""
    from .track import TrackError, TrackResult, track_shot

    frames = sorted(set(shot.frames if frames is None else frames))
    flow = SharedFlows(flow, SHARED_FLOW_BYTES)
    segmenter = segmenter.with_caches(TRACK_FEATURE_CACHE_BYTES)
    singles = [object_shot(shot, obj) for obj in shot.objects]
    result = TrackResult(None, frames, check_objects_trackable(shot, frames))
    tracked = []
    for number, (obj, single) in enumerate(zip(shot.objects, singles), start=1):
        last = progress if number == len(singles) else None
        one = track_shot(single, segmenter, frames=frames, flow=flow, progress=last, cancel=cancel, on_matte=on_matte)
        if one.cancelled:
            result.cancelled = True
            return result
        where = f"objects.{obj.name}.clicks"
        result.drops += [(f"{where}[{i}]", f, reason) for i, f, reason in one.drops]
        result.moves += [(f"{where}[{i}]", f) for i, f in one.moves]
        result.unverified += [(f"{where}[{i}]", f) for i, f in one.unverified]
        tracked.append(dataclasses.replace(obj, clicks=one.shot.clicks))
    result.shot = dataclasses.replace(shot, objects=tuple(tracked))
    try:
        shot_from_dict(result.shot.to_dict(), "/")
    except ShotError as exc:
        raise TrackError(f"the tracked shot would be invalid: {exc}") from None
    return result


def check_objects_trackable(shot: Shot, frames: list[int]) -> list[int]:
    """track.check_trackable for a shot with objects: every object checked (before any is
    tracked), errors naming the object's clicks; the keyframes of all objects, sorted."""
    from .track import TrackError, check_trackable

    keyframes: set[int] = set()
    for obj in shot.objects:
        try:
            keyframes.update(check_trackable(object_shot(shot, obj), frames))
        except (TrackError, ShotError) as exc:
            raise type(exc)(*_named(exc, obj.name)) from None
    return sorted(keyframes)


def _named(exc: Exception, name: str) -> tuple:
    """The arguments of `exc` again, its click fields named inside object `name`."""
    if isinstance(exc, ShotError):
        field = exc.field.replace("clicks", f"objects.{name}.clicks", 1) if exc.field.startswith("clicks") else exc.field
        message = str(exc).split(": ", 1)[1] if ": " in str(exc) else str(exc)
        return field, message, exc.frame
    return (f"objects.{name}: {exc}",)
