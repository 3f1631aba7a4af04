"""Frame ranges and frame-numbered path patterns, as used in shot files and on the command line.

Frame specs: `1001`, `1001-1100`, `1001-1100x2` (every 2nd frame), `1001,1005,1010-1020`, and
negative frames (`-5--1`). Path patterns: `plate.####.exr` or `plate.@@@@.exr` (one character per
digit), `plate.%04d.exr` or `plate.%d.exr` (printf style), or a plain path used for every frame.
Padding follows printf: a minus sign counts towards the width (`-5` in `####` is `-005`).

Both are bounded before anything is built from them: a spec is refused when it holds more than
max_frames() frames (counted from its ranges, never listed first; default 100,000, set
$HYPERSEG_MAX_FRAMES), frame numbers have at most 10 digits and padding is at most 10 digits.
"""

from __future__ import annotations

import bisect
import functools
import glob
import os
import re
from typing import Iterable

from hyperseg_vfx.limits import limit_from_env

#: Most frames one spec (a shot, a chunk, a click's frames) may hold; $HYPERSEG_MAX_FRAMES overrides.
DEFAULT_MAX_FRAMES = 100_000
MAX_FRAMES_ENV = "HYPERSEG_MAX_FRAMES"
#: Most digits of a frame number and of a pattern's padding.
MAX_DIGITS = 10
#: Longest spec text quoted in an error message.
_QUOTED = 80

_SPEC_ITEM = re.compile(r"(-?\d{1,10})(?:-(-?\d{1,10})(?:[x:](\d{1,10}))?)?")  # a-bxN, or a-b:N (OpenJD)
_TOKEN = re.compile(r"#+|@+|%(?:0(\d+))?d")


def max_frames() -> int:
    """The frame limit of a spec: $HYPERSEG_MAX_FRAMES, else DEFAULT_MAX_FRAMES."""
    return limit_from_env(MAX_FRAMES_ENV, DEFAULT_MAX_FRAMES)


def _quoted(spec: str) -> str:
    return repr(spec if len(spec) <= _QUOTED else spec[:_QUOTED] + "...")


def parse_frame_spec(spec: str | int) -> list[int]:
    """Frames of `spec`, sorted and de-duplicated; ValueError quoting `spec` when malformed or
    when its ranges hold more than max_frames() frames (counted before any list is made)."""
    frames: set[int] = set()
    for frame_range in _spec_ranges(spec):
        frames.update(frame_range)
    return sorted(frames)


def parse_frame_set(spec: str | int) -> "FrameSet":
    """Frames of `spec` as a FrameSet: its runs, without listing the frames of a range (`1-100000`
    costs as little as `1`); a stepped range (`1-100x2`) gives a run per frame. ValueError as
    parse_frame_spec."""
    runs: list[tuple[int, int]] = []
    for frame_range in _spec_ranges(spec):
        if frame_range.step == 1:
            runs.append((frame_range.start, frame_range.stop - 1))
        else:
            runs.extend((f, f) for f in frame_range)
    return FrameSet(runs)


def _spec_ranges(spec: str | int) -> list[range]:
    """The ranges of `spec` as written (checked: digits, empty ranges, max_frames())."""
    if isinstance(spec, int) and not isinstance(spec, bool):
        if abs(spec) >= 10**MAX_DIGITS:  # compared, never printed: Python cannot print 4300+ digits
            raise ValueError(f"frame numbers have at most {MAX_DIGITS} digits, got one of "
                             f"at least {int((spec.bit_length() - 1) * 0.30103) + 1}")
        return [range(spec, spec + 1)]
    if not isinstance(spec, str):
        raise ValueError(f"frame spec must be a string or an integer, got {_quoted(repr(spec))}")
    limit = max_frames()
    ranges, count = [], 0
    for item in spec.replace(" ", "").split(","):
        match = _SPEC_ITEM.fullmatch(item)
        if match is None:
            raise ValueError(f"malformed frame spec {_quoted(spec)}: cannot read {_quoted(item)}")
        first, last, step = match.groups()
        last = first if last is None else last
        if int(last) < int(first) or (step is not None and int(step) == 0):
            raise ValueError(f"malformed frame spec {_quoted(spec)}: {item!r} is an empty range")
        ranges.append(range(int(first), int(last) + 1, int(step or 1)))
        count += len(ranges[-1])
        if count > limit:
            raise ValueError(f"frame spec {_quoted(spec)} holds more than {limit} frames, the limit per shot "
                             f"(${MAX_FRAMES_ENV}); render it in parts")
    return ranges


class FrameSet:
    """A set of frames kept as sorted, disjoint, non-adjacent runs (first, last), both included:
    membership costs a binary search over the runs, never a list of the frames, so a click that
    counts on `1-100000` costs one run (shot validation walks runs, not frames).

    Compares equal to a FrameSet or a set of the same frames; `in`, len() and iteration (in
    order) work as on a set of ints."""

    __slots__ = ("runs", "_firsts")

    def __init__(self, runs=()):
        merged: list[list[int]] = []
        for first, last in sorted(runs):
            if merged and first <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], last)
            else:
                merged.append([first, last])
        self.runs: tuple[tuple[int, int], ...] = tuple((a, b) for a, b in merged)
        self._firsts = [a for a, _ in self.runs]

    @classmethod
    def of(cls, frames) -> "FrameSet":
        """`frames` (a FrameSet, or any collection of ints) as a FrameSet."""
        if isinstance(frames, FrameSet):
            return frames
        return cls((f, f) for f in frames)

    def __contains__(self, frame) -> bool:
        i = bisect.bisect_right(self._firsts, frame) - 1
        return i >= 0 and frame <= self.runs[i][1]

    def __iter__(self):
        for first, last in self.runs:
            yield from range(first, last + 1)

    def __len__(self) -> int:
        return sum(last - first + 1 for first, last in self.runs)

    def __bool__(self) -> bool:
        return bool(self.runs)

    def __eq__(self, other) -> bool:
        if isinstance(other, FrameSet):
            return self.runs == other.runs
        if isinstance(other, (set, frozenset)):
            return len(self) == len(other) and all(f in self for f in other)
        return NotImplemented

    __hash__ = None  # equal to a frozenset of its frames, whose hash it would have to compute

    def __repr__(self) -> str:
        return f"FrameSet({self.spec()!r})"

    def spec(self) -> str:
        """The compact spec of the set (format_frame_spec), from its runs."""
        return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in self.runs)


def format_frame_spec(frames: Iterable[int]) -> str:
    """The compact spec of `frames`: contiguous runs as `a-b`, joined by commas."""
    if isinstance(frames, FrameSet) and frames.runs:
        return frames.spec()
    ordered = sorted(set(frames))
    if not ordered:
        raise ValueError("cannot write a frame spec for no frames")
    runs: list[list[int]] = []
    for frame in ordered:
        if runs and frame == runs[-1][1] + 1:
            runs[-1][1] = frame
        else:
            runs.append([frame, frame])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


@functools.lru_cache(maxsize=256)
def _token(pattern: str) -> re.Match[str] | None:
    """The frame token of `pattern`, None for a single-file path; ValueError for several or for
    padding wider than MAX_DIGITS."""
    tokens = list(_TOKEN.finditer(pattern))
    if len(tokens) > 1:
        raise ValueError(f"path pattern {_quoted(pattern)} has {len(tokens)} frame tokens; use one")
    if tokens:
        text = tokens[0].group(0)
        digits = tokens[0].group(1) if text.startswith("%") else str(len(text))
        if digits and (len(digits) > 2 or int(digits) > MAX_DIGITS):
            raise ValueError(f"path pattern {_quoted(pattern)}: padding {_quoted(text)} is wider than "
                             f"{MAX_DIGITS} digits")
    return tokens[0] if tokens else None


def check_pattern(pattern: str) -> None:
    """ValueError when `pattern` has several frame tokens or padding wider than MAX_DIGITS."""
    _token(pattern)


def has_frame_token(pattern: str) -> bool:
    """Whether `pattern` names one file per frame."""
    return _token(pattern) is not None


def frame_path(pattern: str, frame: int) -> str:
    """The path of `frame` in `pattern` (the pattern itself when it has no frame token)."""
    token = _token(pattern)
    if token is None:
        return pattern
    text = token.group(0)
    width = int(token.group(1) or 0) if text.startswith("%") else len(text)
    return f"{pattern[: token.start()]}{frame:0{width}d}{pattern[token.end():]}"


def frames_on_disk(pattern: str) -> list[int]:
    """Frames of `pattern` that exist on disk, sorted; ValueError for a single-file pattern."""
    token = _token(pattern)
    if token is None:
        raise ValueError(f"path pattern {pattern!r} has no frame token")
    head, tail = pattern[: token.start()], pattern[token.end():]
    number = re.compile(re.escape(head) + r"(-?\d+)" + re.escape(tail))
    frames = set()
    for path in glob.glob(glob.escape(head) + "*" + glob.escape(tail)):
        match = number.fullmatch(path)
        if match and frame_path(pattern, int(match.group(1))) == path:
            frames.add(int(match.group(1)))
    return sorted(frames)
