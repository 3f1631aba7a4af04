"""What the node remembers of the last Track clicks, so that every export honours it.

Tracking keys every XY knob on every frame; Nuke's knobs cannot tell the artist's keys from
tracking's, nor say that a click was dropped on a frame (hyperseg_vfx.tracking drops a negative
that the object covers, a positive that left it, a click that left the frame). The hidden String
knob `artist_keys` holds that as JSON, per click knob:

    {"pos1": {"artist": [1001, 1005],                     # frames the artist keyed
              "tracked": {"1002": [x, y], ...},           # positions tracking wrote (top-left px)
              "dropped": {"1003": "left_object", ...}}}   # frames where tracking dropped the click

A key is the artist's when it is listed, new (tracking wrote none on that frame) or moved away
from what tracking wrote (a correction). Every export of the node's clicks (Segment frame, live
clicks, Segment range, Submit to farm, Open preview, Track clicks) marks the other keys
`tracked` and, where tracking dropped the click and the artist has not moved it since,
`dropped`, in the shot schema's `tracked` field; so a dropped click counts nowhere, exactly as in
the tracked shot file.

Pure Python (standard library), Python 3.7+.
"""

import json
import re
from typing import Dict, List, Sequence

#: The hidden String knob of the gizmo that holds the memory.
MEMORY_KNOB = "artist_keys"
#: Pixels a key may differ from the tracked position and still count as tracking's.
MOVED_TOLERANCE = 1e-3


def read_memory(text: str) -> Dict:
    """The artist_keys knob's JSON ({} when empty or unreadable: every key is the artist's)."""
    try:
        memory = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return memory if isinstance(memory, dict) else {}


def artist_frames(entry: Dict, keys: Dict[int, Sequence[float]]) -> List[int]:
    """The frames of a click's exported `keys` (top-left pixels) that are the artist's, given its
    memory entry (see the module docstring)."""
    listed = {int(f) for f in entry.get("artist", [])}
    tracked = {int(f): p for f, p in entry.get("tracked", {}).items()}
    own = []
    for frame, point in keys.items():
        was = tracked.get(frame)
        if frame in listed or was is None or max(abs(point[0] - was[0]), abs(point[1] - was[1])) > MOVED_TOLERANCE:
            own.append(frame)
    return sorted(own)


def mark_tracked(tracks: List[Dict], names: Sequence[str], memory: Dict) -> List[Dict]:
    """Exported click tracks (in the order of the enabled knobs `names`) with the keys that are not
    the artist's marked tracked, and those where tracking dropped the click marked dropped."""
    marked = []
    for name, track in zip(names, tracks):
        entry = memory.get(name, {})
        keys = {int(f): p for f, p in track["keys"].items()}
        own = set(artist_frames(entry, keys))
        others = [f for f in sorted(keys) if f not in own]
        track = dict(track)
        if others:
            track["tracked"] = {"keys": frame_spec(others)}
            dropped = {}
            for frame, reason in sorted((int(f), r) for f, r in entry.get("dropped", {}).items()):
                if frame in keys and frame not in own:
                    dropped.setdefault(reason, []).append(frame)
            if dropped:
                track["tracked"]["dropped"] = {reason: frame_spec(fs) for reason, fs in sorted(dropped.items())}
        marked.append(track)
    return marked


def new_memory(tracked_shot: Dict, names: Sequence[str]) -> Dict:
    """The artist_keys knob's content after tracking: per knob, the artist's frames, the positions
    tracking wrote and the frames where it dropped the click."""
    memory = {}
    for name, track in zip(names, tracked_shot["clicks"]):
        marks = track.get("tracked", {})
        tracked = set(spec_frames(marks.get("keys")))
        memory[name] = {
            "artist": sorted(int(f) for f in track["keys"] if int(f) not in tracked),
            "tracked": {str(f): list(p) for f, p in track["keys"].items() if int(f) in tracked},
            "dropped": {str(f): reason for reason, spec in sorted(marks.get("dropped", {}).items())
                        for f in spec_frames(spec)},
        }
    return memory


def frame_spec(frames: Sequence[int]) -> str:
    """Sorted frames as a shot-file frame spec, runs joined (`1001-1004,1007`), as
    hyperseg_vfx.sequences.format_frame_spec writes it (Nuke's Python cannot import the package)."""
    runs = []
    for frame in sorted(frames):
        if runs and frame == runs[-1][1] + 1:
            runs[-1][1] = frame
        else:
            runs.append([frame, frame])
    return ",".join(str(a) if a == b else "{}-{}".format(a, b) for a, b in runs)


def spec_frames(spec) -> List[int]:
    """The frames of a frame spec as tracked shots write them (`a-b,c`); [] for None."""
    if spec is None:
        return []
    frames = []
    for item in str(spec).split(","):
        match = re.fullmatch(r"(-?\d+)(?:-(-?\d+))?", item.strip())
        if match is None:
            raise ValueError("malformed frame list in a tracked shot: {!r}".format(spec))
        first, last = match.groups()
        frames += range(int(first), int(last or first) + 1)
    return frames
