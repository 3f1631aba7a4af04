"""Track clicks: the node's clicks tracked through the Source range by the bridge (POST /v1/track)
and written back as keys on every frame of their XY knobs.

What tracking did (the artist's keys, the positions it wrote, where it dropped a click) is kept
in the hidden knob `artist_keys` (hyperseg_nuke.track_memory). Every export of the clicks marks
from it which keys are tracking's and where a click is dropped, so the bridge re-propagates only
around the artist's corrections on the next press, and Segment frame, live clicks, Segment range
and the farm leave a dropped click out exactly as the tracked shot file does.
"""

import json
from typing import Dict, Sequence, Tuple

from hyperseg_nuke import callbacks, edits, feedback, jobs, knobs, objects, paths, track_memory
from hyperseg_nuke.errors import PluginError

Point = Tuple[float, float]


def knob_keys(tracked_shot: Dict, names: Sequence[str], height: int) -> Dict[str, Dict[int, Point]]:
    """knob name -> {frame: (x, y) in Nuke pixels (origin bottom-left)} from a tracked shot's clicks."""
    result = {}
    for name, track in zip(names, tracked_shot["clicks"]):
        result[name] = {int(f): (float(p[0]), float(height) - float(p[1])) for f, p in track["keys"].items()}
    return result


def write_keys(node, keys: Dict[str, Dict[int, Point]], memory: Dict) -> None:
    """Key the XY knobs on every tracked frame and remember what tracking did (main thread): one
    undo step, each channel's keys in one call, the node's callbacks quiet (so live clicks
    schedule no segment for keys tracking wrote), no key left on the current frame."""
    with edits.undo_step("HyperSeg: Track clicks"), edits.quiet(node):
        _set_keys(node, keys, memory)


def _set_keys(node, keys: Dict[str, Dict[int, Point]], memory: Dict) -> None:
    for name, points in keys.items():
        knobs.set_keys(node[name], points)
    node[track_memory.MEMORY_KNOB].setValue(json.dumps(memory, sort_keys=True))


# -- the button -----------------------------------------------------------------------------------


def track_clicks(node):
    """Track the enabled clicks from their keys through the Source range, then key them on every frame."""
    return callbacks._action(node, "Track clicks", _prepare, _track, _show)


def _prepare(node):
    """The shot as Segment range exports it (keys not the artist's already marked tracked), and
    the enabled click knobs of each object ({name: knob names}, in the shot's click order)."""
    enabled = objects.export(node, lambda name: [k.name for k in knobs.click_knobs(node) if k.enabled])
    return callbacks._prepare_shot(node), enabled[0] if enabled[1] is None else {
        name: value["clicks"] for name, value in enabled[1].items()}


def _track(prepared, task) -> Dict:
    plan, names = prepared
    path = paths.shot_file(plan.script, plan.node_id)
    out = path[: -len(".json")] + "_tracked.json"
    client = callbacks._connect_and_write(plan, path)
    # the plugin's own file next to the node's shot file: each Track replaces the last one
    job = jobs.follow_job(client, client.start_track(out, shot_path=path, overwrite=True), task)
    if job["state"] != "done":
        raise PluginError("Track clicks " + jobs.job_summary(job))
    with open(out, encoding="utf-8") as tracked:
        return json.load(tracked)


def _show(node, prepared, tracked_shot: Dict) -> None:
    plan, names = prepared
    if isinstance(names, dict):  # several objects: each one's keys written with its clicks in the knobs
        with edits.undo_step("HyperSeg: Track clicks"), edits.quiet(node):
            dropped = objects.each_object(node, lambda name: _write_object(
                node, {"clicks": tracked_shot["objects"][name]["clicks"]}, names[name], plan.source.height,
                name + " "), keep=True)
        count, dropped = sum(len(n) for n in names.values()), sum(dropped.values(), [])
    else:
        memory = track_memory.new_memory(tracked_shot, names)
        write_keys(node, knob_keys(tracked_shot, names, plan.source.height), memory)
        count, dropped = len(names), _dropped(memory, names, "")
    feedback.report(node, "tracked {} clicks over frames {}-{}{}; press Segment range to render them".format(
        count, plan.source.first, plan.source.last,
        " (dropped where they left the object or frame: {})".format("; ".join(dropped)) if dropped else ""))


def _write_object(node, tracked_shot: Dict, names: Sequence[str], height: int, prefix: str) -> list:
    """Key the current object's knobs from its tracked clicks; what was dropped, named."""
    memory = track_memory.new_memory(tracked_shot, names)
    _set_keys(node, knob_keys(tracked_shot, names, height), memory)
    return _dropped(memory, names, prefix)


def _dropped(memory: Dict, names: Sequence[str], prefix: str) -> list:
    return ["{}{} on {}".format(prefix, name, track_memory.frame_spec([int(f) for f in memory[name]["dropped"]]))
            for name in names if memory[name]["dropped"]]

