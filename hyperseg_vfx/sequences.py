"""Frame ranges and frame-numbered path patterns, as used in shot files and on the command line.

Frame specs: `1001`, `1001-1100`, `1001-1100x2` (every 2nd frame), `1001,1005,1010-1020`, and
negative frames (`-5--1`). Path patterns: `plate.####.exr` or `plate.@@@@.exr` (one character per
digit), `plate.%04d.exr` or `plate.%d.exr` (printf style), or a plain path used for every frame.
Padding follows printf: a minus sign counts towards the width (`-5` in `####` is `-005`).
"""

from __future__ import annotations

import glob
import re
from typing import Iterable

_SPEC_ITEM = re.compile(r"(-?\d+)(?:-(-?\d+)(?:[x:](\d+))?)?")  # a-bxN, or a-b:N (OpenJD)
_TOKEN = re.compile(r"#+|@+|%(?:0(\d+))?d")


def parse_frame_spec(spec: str | int) -> list[int]:
    """Frames of `spec`, sorted and de-duplicated; ValueError quoting `spec` when malformed."""
    if isinstance(spec, int) and not isinstance(spec, bool):
        return [spec]
    if not isinstance(spec, str):
        raise ValueError(f"frame spec must be a string or an integer, got {spec!r}")
    frames: set[int] = set()
    for item in spec.replace(" ", "").split(","):
        match = _SPEC_ITEM.fullmatch(item)
        if match is None:
            raise ValueError(f"malformed frame spec {spec!r}: cannot read {item!r}")
        first, last, step = match.groups()
        last = first if last is None else last
        if int(last) < int(first) or (step is not None and int(step) == 0):
            raise ValueError(f"malformed frame spec {spec!r}: {item!r} is an empty range")
        frames.update(range(int(first), int(last) + 1, int(step or 1)))
    return sorted(frames)


def format_frame_spec(frames: Iterable[int]) -> str:
    """The compact spec of `frames`: contiguous runs as `a-b`, joined by commas."""
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


def _token(pattern: str) -> re.Match[str] | None:
    """The frame token of `pattern`, None for a single-file path; ValueError for several."""
    tokens = list(_TOKEN.finditer(pattern))
    if len(tokens) > 1:
        raise ValueError(f"path pattern {pattern!r} has {len(tokens)} frame tokens; use one")
    return tokens[0] if tokens else None


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
