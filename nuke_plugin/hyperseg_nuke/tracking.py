"""Track clicks: the node's clicks tracked through the Source range by the bridge (POST /v1/track)
and written back as keys on every frame of their XY knobs.

The artist's own keys stay known in the hidden knob `artist_keys` (JSON): per click knob, the
frames the artist keyed and the positions tracking wrote. On the next Track clicks, a key counts
as the artist's when it is listed there, new (tracking wrote none on that frame) or moved away
from what tracking wrote (a correction); every other key is sent marked `tracked`, so the bridge
re-propagates only around the corrections (hyperseg_vfx.tracking).

Not handled here: where tracking dropped a click (it left the object), the knob keeps the
dropped position; Segment range exports the knobs, so it renders that click there. The tracked
shot file (next to the node's shot file) has the drops: render it with `hyperseg-vfx render`.
"""

import json
import re
from typing import Dict, List, Sequence, Tuple

from hyperseg_nuke import callbacks, feedback, jobs, knobs, paths
from hyperseg_nuke.errors import PluginError

#: The hidden String knob holding the artist's keys (see the module docstring).
ARTIST_KEYS_KNOB = "artist_keys"
#: Pixels a key may differ from the tracked position and still count as tracking's.
MOVED_TOLERANCE = 1e-3

Point = Tuple[float, float]


def read_memory(text: str) -> Dict:
    """The artist_keys knob's JSON ({} when empty or unreadable: every key is the artist's)."""
    try:
        memory = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return memory if isinstance(memory, dict) else {}


def artist_frames(entry: Dict, keys: Dict[int, Sequence[float]]) -> List[int]:
    """The frames of a click's exported `keys` (top-left pixels) that are the artist's, given its
    memory entry {"artist": [frames], "tracked": {frame: [x, y]}} (see the module docstring)."""
    listed = {int(f) for f in entry.get("artist", [])}
    tracked = {int(f): p for f, p in entry.get("tracked", {}).items()}
    own = []
    for frame, point in keys.items():
        was = tracked.get(frame)
        if frame in listed or was is None or max(abs(point[0] - was[0]), abs(point[1] - was[1])) > MOVED_TOLERANCE:
            own.append(frame)
    return sorted(own)


def mark_tracked(tracks: List[Dict], names: Sequence[str], memory: Dict) -> List[Dict]:
    """Exported click tracks (in the order of the enabled knobs `names`) with the keys that are
    not the artist's marked tracked."""
    marked = []
    for name, track in zip(names, tracks):
        keys = {int(f): p for f, p in track["keys"].items()}
        own = artist_frames(memory.get(name, {}), keys)
        others = [f for f in sorted(keys) if f not in own]
        track = dict(track)
        if others:
            track["tracked"] = {"keys": ",".join(str(f) for f in others)}
        marked.append(track)
    return marked


def knob_keys(tracked_shot: Dict, names: Sequence[str], height: int) -> Dict[str, Dict[int, Point]]:
    """knob name -> {frame: (x, y) in Nuke pixels (origin bottom-left)} from a tracked shot's clicks."""
    result = {}
    for name, track in zip(names, tracked_shot["clicks"]):
        result[name] = {int(f): (float(p[0]), float(height) - float(p[1])) for f, p in track["keys"].items()}
    return result


def new_memory(tracked_shot: Dict, names: Sequence[str]) -> Dict:
    """The artist_keys knob's content after tracking: artist frames and tracked positions per knob."""
    memory = {}
    for name, track in zip(names, tracked_shot["clicks"]):
        tracked = {int(f) for f in _frames(track.get("tracked", {}).get("keys"))}
        memory[name] = {"artist": sorted(int(f) for f in track["keys"] if int(f) not in tracked),
                        "tracked": {str(f): list(p) for f, p in track["keys"].items() if int(f) in tracked}}
    return memory


def _frames(spec) -> List[int]:
    """The frames of a frame spec as tracked shots write them (`a-b,c`)."""
    if spec is None:
        return []
    frames = []
    for item in str(spec).split(","):
        match = re.fullmatch(r"(-?\d+)(?:-(-?\d+))?", item.strip())
        if match is None:
            raise PluginError("the tracked shot has a malformed frame list: {!r}".format(spec))
        first, last = match.groups()
        frames += range(int(first), int(last or first) + 1)
    return frames


def write_keys(node, keys: Dict[str, Dict[int, Point]], memory: Dict) -> None:
    """Key the XY knobs on every tracked frame and remember the artist's keys (main thread)."""
    for name, points in keys.items():
        knob = node[name]
        knob.setAnimated()
        for frame, (x, y) in sorted(points.items()):
            knob.setValueAt(x, frame, 0)
            knob.setValueAt(y, frame, 1)
    node[ARTIST_KEYS_KNOB].setValue(json.dumps(memory, sort_keys=True))


# -- the button -----------------------------------------------------------------------------------


def track_clicks(node):
    """Track the enabled clicks from their keys through the Source range, then key them on every frame."""
    return callbacks._action(node, "Track clicks", _prepare, _track, _show)


def _prepare(node):
    plan = callbacks._prepare_shot(node)
    names = [k.name for k in knobs.click_knobs(node) if k.enabled]
    memory = read_memory(node[ARTIST_KEYS_KNOB].value())
    data = dict(plan.data, clicks=mark_tracked(plan.data["clicks"], names, memory))
    return plan._replace(data=data), names


def _track(prepared, task) -> Dict:
    plan, names = prepared
    path = paths.shot_file(plan.script, plan.node_id)
    out = path[: -len(".json")] + "_tracked.json"
    client = callbacks._connect_and_write(plan, path)
    job = jobs.follow_job(client, client.start_track(out, shot_path=path), task)
    if job["state"] != "done":
        raise PluginError("Track clicks " + jobs.job_summary(job))
    with open(out, encoding="utf-8") as tracked:
        return json.load(tracked)


def _show(node, prepared, tracked_shot: Dict) -> None:
    plan, names = prepared
    write_keys(node, knob_keys(tracked_shot, names, plan.source.height), new_memory(tracked_shot, names))
    dropped = sum(1 for c in tracked_shot["clicks"] if c.get("tracked", {}).get("dropped"))
    feedback.report(node, "tracked {} clicks over frames {}-{}{}; press Segment range to render them".format(
        len(names), plan.source.first, plan.source.last,
        " ({} dropped on some frames: see the tracked shot file)".format(dropped) if dropped else ""))

