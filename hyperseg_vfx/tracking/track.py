"""The tracking pass: clicks keyed on a few frames -> a key on every frame, checked against mattes.

    result = track_shot(shot, segmenter)             # shot: a validated Shot (shot.load_shot)
    save_shot(result.shot, "sh010_tracked.yaml")     # the same schema: render, bridge, farm as usual
    result.drops                                     # [(click index, frame, reason)], also in the shot

Keyframes are the frames where any click has an artist key (a key not marked tracked). Every other
frame takes its clicks from its nearest keyframe (the earlier one on a tie): starting from the
clicks on the keyframe, each click is carried frame by frame with the motion measured on the
plates (motion.dis_flow), away from the keyframe in both directions, and checked on each frame
for crossing the object's edge (check.check_clicks: against the previous frame's matte warped by
the flow). The matte of each frame is then the model's answer for the checked clicks, through the
renderer's own segment_shot_frame, so it is exactly the matte `render` later writes for it
(before temporal smoothing, when the shot asks for it).

The clicks on a keyframe k: a click's artist key at k; without one, its existing key at k (what
the artist saw on k after an earlier tracking, with its marks there), else its position from the
artist keys as render reads them (interpolated or held). So after the artist moves or adds a
click on frame k, re-tracking changes only the frames between k and the neighbouring keyframes:
every other frame is carried from the same keyframe state as before, with the same plates.

Artist keys always win: they are never moved, checked or dropped. Tracked keys are marked
(shot.TrackMarks), so tracking a tracked shot first removes them (on the frames being tracked)
and then tracks from the artist keys again. Tracking runs before rendering, never inside a
chunk: the tracked shot renders deterministically in any chunking.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Callable

from ..errors import HypersegError
from ..render import CachedPlateReader, segment_shot_frame
from ..shot import ClickTrack, Shot, ShotError, TrackMarks, check_shot_files, shot_from_dict
from ..sequences import format_frame_spec
from .check import MOVED, UNVERIFIED, check_clicks, on_object
from ..motion import FlowEstimator, carry_point, dis_flow, warp_mask

#: A moved-back positive may travel at most this fraction of the frame diagonal.
MAX_MOVE_FRACTION = 0.05

#: Decoded plates kept while tracking (each frame is read for two flows and one matte).
PLATE_CACHE_BYTES = 256 * 1024**2


class TrackError(HypersegError, ValueError):
    """The shot cannot be tracked as asked (no artist keys, missing plates); nothing was written."""


@dataclass
class TrackResult:
    """The outcome of track_shot. shot: the tracked Shot (None when cancelled); frames: the frames
    tracked; keyframes: the artist keyframes among them; drops, moves, unverified: (click index,
    frame[, reason]) of what the checks did on this pass; cancelled: stopped by `cancel`."""

    shot: Shot | None
    frames: list[int]
    keyframes: list[int]
    drops: list[tuple[int, int, str]] = field(default_factory=list)
    moves: list[tuple[int, int]] = field(default_factory=list)
    unverified: list[tuple[int, int]] = field(default_factory=list)
    cancelled: bool = False


def artist_keys(track: ClickTrack) -> dict[int, tuple[float, float]]:
    """The keys of `track` the artist set (those not marked tracked)."""
    tracked = track.tracked.keys if track.tracked is not None else frozenset()
    return {f: xy for f, xy in track.keys.items() if f not in tracked}


def keyframes_of(shot: Shot, frames: list[int]) -> list[int]:
    """The frames of `frames` where any click has an artist key, sorted."""
    wanted = set(frames)
    return sorted({f for track in shot.clicks for f in artist_keys(track) if f in wanted})


def serving_keyframe(frames: list[int], keyframes: list[int]) -> dict[int, int]:
    """frame -> the keyframe it is carried from: the nearest in frame numbers, the earlier on a tie."""
    return {f: min(keyframes, key=lambda k: (abs(f - k), k)) for f in frames}


@dataclass
class _Carried:
    """One click on its way from a keyframe: where it is, and why it no longer counts (None
    while it does)."""

    x: float
    y: float
    dropped: str | None = None

    @property
    def alive(self) -> bool:
        return self.dropped is None


@dataclass
class _Marks:
    """The new keys and marks of one click, filled frame by frame."""

    keys: dict[int, tuple[float, float]]
    tracked: set[int] = field(default_factory=set)
    dropped: dict[str, set[int]] = field(default_factory=dict)
    moved: set[int] = field(default_factory=set)
    unverified: set[int] = field(default_factory=set)

    def drop(self, frame: int, reason: str) -> None:
        self.dropped.setdefault(reason, set()).add(frame)


def _kept_marks(track: ClickTrack, frames: set[int]) -> _Marks:
    """The click's artist keys, plus its tracked keys and marks on frames not being tracked now."""
    old = track.tracked or TrackMarks()
    keys = artist_keys(track) | {f: track.keys[f] for f in old.keys if f not in frames}
    return _Marks(
        keys, {f for f in old.keys if f not in frames},
        {r: {f for f in fs if f not in frames} for r, fs in old.dropped.items()},
        {f for f in old.moved if f not in frames}, {f for f in old.unverified if f not in frames},
    )


def _counts(track: ClickTrack, frame: int) -> bool:
    return track.frames is None or frame in track.frames


def track_shot(
    shot: Shot,
    segmenter,
    *,
    frames: list[int] | None = None,
    flow: FlowEstimator = dis_flow,
    progress: Callable[[int, int, int], None] | None = None,
    cancel: threading.Event | None = None,
    on_matte: Callable[[int, object], None] | None = None,
    output: str | None = None,
) -> TrackResult:
    """Track the clicks of `shot` over `frames` (default: the shot's frames).

    The tracked shot renders to `output` (an absolute pattern), by default tracked_output of the
    shot's: rendering it never replaces the untracked mattes. Tracked keys are rounded to
    KEY_DECIMALS (1/1000 px), so the shot file carries no float noise.

    segmenter: what computes the mattes the clicks are checked against (a Segmenter, or the
    bridge's queued one). flow: the motion estimator (DIS by default). progress(frame, done,
    total) after each frame; cancel: stop before the next frame (result.cancelled, no shot);
    on_matte(frame, matte): each frame's Matte as computed, before temporal smoothing (the
    evaluator scores them).
    TrackError when no frame has an artist key or plates are missing. A shot with `objects:`
    tracks each object's clicks (tracking.objects.track_objects).
    """
    if shot.objects:
        from .objects import track_objects

        return track_objects(shot, segmenter, frames=frames, flow=flow, progress=progress, cancel=cancel,
                             on_matte=on_matte)
    frames = sorted(set(shot.frames if frames is None else frames))
    keyframes = check_trackable(shot, frames)
    read = CachedPlateReader(PLATE_CACHE_BYTES)
    marks = [_kept_marks(track, set(frames)) for track in shot.clicks]
    result = TrackResult(None, frames, keyframes)
    serving = serving_keyframe(frames, keyframes)
    done = 0

    def report(frame: int) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(frame, done, len(frames))

    for keyframe in keyframes:
        if cancel is not None and cancel.is_set():
            result.cancelled = True
            return result
        state = _keyframe_state(shot, keyframe, marks)
        matte = _segment(shot, segmenter, keyframe, state, read)
        if on_matte is not None:
            on_matte(keyframe, matte)
        report(keyframe)
        index = frames.index(keyframe)
        for step in (-1, 1):
            run = []
            j = index + step
            while 0 <= j < len(frames) and serving[frames[j]] == keyframe:
                run.append(frames[j])
                j += step
            if not _propagate(shot, segmenter, keyframe, run, state, matte, marks, result, flow, read,
                              cancel, on_matte, report):
                result.cancelled = True
                return result
    result.shot = _tracked_shot(shot, marks, tracked_output(shot.output) if output is None else output)
    return result


#: Decimal places of tracked keys (1/1000 px: far below what the network resolves).
KEY_DECIMALS = 3
TRACKED_SUFFIX = "_tracked"


def _rounded(value: float) -> float:
    """A tracked key's coordinate, rounded to KEY_DECIMALS."""
    return round(value, KEY_DECIMALS)


def tracked_output(pattern: str) -> str:
    """The output pattern of a tracked shot: `pattern` with TRACKED_SUFFIX at the end of its file
    name's stem (`m/sh010_matte.####.exr` -> `m/sh010_matte_tracked.####.exr`); unchanged when
    it already ends so (re-tracking a tracked shot keeps its mattes' names)."""
    folder, name = os.path.split(pattern)
    stem = re.split(r"[._]?(?:#+|@+|%(?:0\d+)?d)|\.(?=[^.]*$)", name, maxsplit=1)[0]
    if stem.endswith(TRACKED_SUFFIX):
        return pattern
    return os.path.join(folder, stem + TRACKED_SUFFIX + name[len(stem):])


def check_trackable(shot: Shot, frames: list[int]) -> list[int]:
    """The keyframes among `frames`; TrackError when a click has no artist key, no frame has
    one, or plates are missing (all of them named), ShotError when a file check fails. A shot
    with `objects:`: every object's clicks (tracking.objects.check_objects_trackable)."""
    if shot.objects:
        from .objects import check_objects_trackable

        return check_objects_trackable(shot, frames)
    for i, track in enumerate(shot.clicks):
        if not artist_keys(track):
            raise TrackError(f"clicks[{i}]: every key is marked tracked; the click has no artist key to track from")
    keyframes = keyframes_of(shot, frames)
    if not keyframes:
        raise TrackError(
            f"{shot.path or 'shot'}: no click has an artist key on frames {format_frame_spec(frames)}; "
            "key the clicks on at least one frame to track from"
        )
    missing = [f for f in frames if not _plate_exists(shot, f)]
    if missing:
        raise TrackError(
            f"input: {len(missing)} plates missing on frames {format_frame_spec(missing)} "
            f"(first: {shot.input_path(missing[0])})"
        )
    check_shot_files(dataclasses.replace(shot, frames=frames))  # model file, clicks inside the frames
    return keyframes


def _plate_exists(shot: Shot, frame: int) -> bool:
    return shot.door.is_file(shot.input_path(frame), "input")


def _keyframe_state(shot: Shot, keyframe: int, marks: list[_Marks]) -> list[_Carried]:
    """The clicks on a keyframe (see the module docstring), and their keys and marks there."""
    state = []
    for track, mark in zip(shot.clicks, marks):
        artist = artist_keys(track)
        if keyframe in artist:
            x, y = artist[keyframe]
            state.append(_Carried(x, y))
            continue
        if keyframe in track.keys:  # an earlier tracking's key: what the artist saw here
            x, y = track.keys[keyframe]
            old = track.tracked
            reason = old.dropped_at(keyframe)
            if reason is not None:
                mark.drop(keyframe, reason)
            for name in ("moved", "unverified"):
                if keyframe in getattr(old, name):
                    getattr(mark, name).add(keyframe)
        else:
            x, y = dataclasses.replace(track, keys=artist, tracked=None).position_at(keyframe)
            reason = None
        x, y = _rounded(x), _rounded(y)
        mark.keys[keyframe] = (x, y)
        mark.tracked.add(keyframe)
        state.append(_Carried(x, y, reason))
    return state


def _segment(shot: Shot, segmenter, frame: int, state: list[_Carried], read):
    """The matte of `frame` for the clicks of `state` that count there, computed as render does
    (same clicks in the same order as the tracked shot will give at this frame), before temporal
    smoothing: the clicks of a frame are checked against that frame's own matte."""
    clicks = [
        ClickTrack(track.positive, {frame: (c.x, c.y)})
        for track, c in zip(shot.clicks, state) if c.alive and _counts(track, frame)
    ]
    raw = dataclasses.replace(shot.options, temporal_smoothing=False)
    one_frame = dataclasses.replace(shot, clicks=clicks, frames=[frame], options=raw)
    return segment_shot_frame(one_frame, segmenter, frame, read=read)


def _propagate(shot, segmenter, keyframe, run, state, matte, marks, result, flow, read, cancel, on_matte,
               report) -> bool:
    """Carry `state` from `keyframe` over `run` (frames in order away from it), checking and
    segmenting each frame; False when cancelled."""
    state = [dataclasses.replace(c) for c in state]
    previous = keyframe
    for frame in run:
        if cancel is not None and cancel.is_set():
            return False
        prev_rgb = read(shot.input_path(previous), shot.colorspace, shot.ocio_config, shot.door).rgb
        rgb = read(shot.input_path(frame), shot.colorspace, shot.ocio_config, shot.door).rgb
        forward, backward = flow(prev_rgb, rgb), flow(rgb, prev_rgb)
        previous_mask = matte.alpha > 0.5
        object_mask = warp_mask(previous_mask, backward)
        max_move = MAX_MOVE_FRACTION * math.hypot(*object_mask.shape)
        checked, was_inside = [], {}
        for i, (track, c) in enumerate(zip(shot.clicks, state)):
            if c.alive:
                was_inside[i] = on_object(previous_mask, c.x, c.y)  # an artist key may lie off the frame
                c.x, c.y = carry_point(forward, c.x, c.y)
                if _counts(track, frame):
                    checked.append(i)
                else:  # not counting here: only kept inside the frame
                    c.x = min(max(c.x, 0.0), object_mask.shape[1] - 0.5)
                    c.y = min(max(c.y, 0.0), object_mask.shape[0] - 0.5)
        verdicts = check_clicks(
            object_mask, [(state[i].x, state[i].y, shot.clicks[i].positive, was_inside[i]) for i in checked], max_move)
        for i, verdict in zip(checked, verdicts):
            c, mark = state[i], marks[i]
            c.x, c.y = verdict.x, verdict.y
            if verdict.dropped:
                c.dropped = verdict.outcome
                result.drops.append((i, frame, verdict.outcome))
            elif verdict.outcome == MOVED:
                mark.moved.add(frame)
                result.moves.append((i, frame))
            elif verdict.outcome == UNVERIFIED:
                mark.unverified.add(frame)
                result.unverified.append((i, frame))
        for i, c in enumerate(state):  # rounded before the frame is segmented: its matte is the rendered one
            c.x, c.y = _rounded(c.x), _rounded(c.y)
            marks[i].keys[frame] = (c.x, c.y)
            marks[i].tracked.add(frame)
            if not c.alive:
                marks[i].drop(frame, c.dropped)
        matte = _segment(shot, segmenter, frame, state, read)
        if on_matte is not None:
            on_matte(frame, matte)
        report(frame)
        previous = frame
    return True


def _tracked_shot(shot: Shot, marks: list[_Marks], output: str) -> Shot:
    """The shot with the new keys and marks and `output`, validated as a shot file would be."""
    clicks = []
    for track, mark in zip(shot.clicks, marks):
        tracked = TrackMarks(
            frozenset(mark.tracked), {r: frozenset(fs) for r, fs in sorted(mark.dropped.items()) if fs},
            frozenset(mark.moved), frozenset(mark.unverified),
        )
        clicks.append(dataclasses.replace(track, keys=dict(sorted(mark.keys.items())), tracked=tracked))
    tracked_shot = dataclasses.replace(shot, clicks=clicks, output=output)
    try:
        shot_from_dict(tracked_shot.to_dict(), "/")
    except ShotError as exc:
        raise TrackError(f"the tracked shot would be invalid: {exc}") from None
    return tracked_shot
