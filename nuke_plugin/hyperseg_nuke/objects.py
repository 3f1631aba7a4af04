"""The node's objects: several objects in one HyperSeg node, each with its own clicks.

The click knobs (pos1..neg8, their `_on` checkboxes, and the Track memory `artist_keys`) and the
object's own option knobs (knobs.OBJECT_OPTION_KNOBS: matte, temporal_smoothing) hold the
*current* object, so the Viewer's handles and the panel show and edit it. The other objects'
clicks are kept as knob script text (XY_Knob.toScript: constants or curves, every key kept), and
their options as values, in the hidden top-level String knob `objects`, JSON:

    {"current": "actor", "names": ["actor", "prop"], "stored": {"prop": {"pos1": "{{curve ...} ...}",
     "pos1_on": true, ..., "artist_keys": "", "matte": "binary", "temporal_smoothing": false}}}

so the objects survive save, reopen and copy/paste as the clicks do (a gizmo keeps only its
top-level knob values). The `object` menu lists the names; picking one stores the current
object's knobs and loads the picked one's. The menu itself is not written to the script
(DO_NOT_WRITE): its items are the gizmo's until onCreate refills them from `objects`.

A new object starts with the current object's options. An object stored without options (a
script saved before objects had their own) takes the current object's, as every object then did.
Requests carry an object's options under `objects.<name>.options` where they differ from the
request's own, which are the current object's (export).

A node whose `objects` knob is empty holds one object and exports `clicks:` exactly as before.
Names are Nuke layer names, checked as hyperseg_vfx/objects.py check_layer_name checks them
(the plugin is standard-library only and cannot import hyperseg_vfx; a test compares the two).
Main thread only.
"""

import json
import re
from typing import Callable, Dict, List, Optional

from hyperseg_nuke import edits, knobs, track_memory
from hyperseg_nuke.errors import PluginError

STATE_KNOB = "objects"
MENU_KNOB = "object"
#: The name of a node's first object (only shown once it has a second).
FIRST_NAME = "object1"
#: Knob flag (DDImage Knob.h, nuke.DO_NOT_WRITE, 0x200): the knob is not written to the script.
DO_NOT_WRITE = 0x200
#: As hyperseg_vfx/objects.py: MAX_NAME_LENGTH, RESERVED_LAYERS, _NAME, _OWN_LAYER.
MAX_NAME_LENGTH = 64
RESERVED_LAYERS = frozenset({
    "rgba", "rgb", "alpha", "depth", "forward", "backward", "motion", "deep", "disparityL", "disparityR",
    "mask", "rotopaint_mask", "mask_planartrack", "mask_splinewarp", "main",
})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_OWN_LAYER = re.compile(r"(hyperseg\d*|.*_candidates\d*)\Z")


def check_layer_name(name: str) -> Optional[str]:
    """Why `name` cannot be an object (a Nuke layer name read back unchanged), or None."""
    if not name:
        return "must be a non-empty name"
    if len(name) > MAX_NAME_LENGTH:
        return "is longer than {} characters".format(MAX_NAME_LENGTH)
    if not _NAME.match(name):
        return ("is not a Nuke layer name: use ASCII letters, digits and _, starting with a letter or _ "
                "(Nuke's EXR reader renames anything else)")
    if name in RESERVED_LAYERS:
        return "is a layer Nuke reserves ({})".format(", ".join(sorted(RESERVED_LAYERS)))
    if _OWN_LAYER.match(name):
        return "is a name this tool gives its candidate layers (hyperseg, hypersegN, *_candidates)"
    return None


def read_state(node) -> Dict:
    """The node's objects (see the module docstring); one object FIRST_NAME when empty."""
    text = node[STATE_KNOB].value()
    return json.loads(text) if text else {"current": FIRST_NAME, "names": [FIRST_NAME], "stored": {}}


def names(node) -> List[str]:
    return list(read_state(node)["names"])


def refresh_menu(node) -> None:
    """The object menu lists the node's objects, the current one chosen (onCreate and after edits)."""
    state = read_state(node)
    menu = node[MENU_KNOB]
    menu.setFlag(DO_NOT_WRITE)
    with edits.quiet(node):
        menu.setValues(state["names"])
        menu.setValue(state["current"])


def _click_names() -> List[str]:
    return ["{}{}".format(prefix, i) for prefix in knobs.LABELS for i in range(1, knobs.CLICK_SLOTS + 1)]


def _snapshot(node) -> Dict:
    """The current object's click knobs as script text and values, and its option knobs' values."""
    saved = knobs.object_options(node)
    for name in _click_names():
        saved[name] = node[name].toScript()
        saved[name + "_on"] = bool(node[name + "_on"].value())
    saved[track_memory.MEMORY_KNOB] = node[track_memory.MEMORY_KNOB].value()
    return saved


def _options(saved: Dict) -> Dict:
    """The option knobs' values of a _snapshot."""
    return {name: saved[name] for name in knobs.OBJECT_OPTION_KNOBS if name in saved}


def _restore(node, saved: Dict) -> None:
    """Put an object's clicks (a _snapshot; {} for none) into the click knobs, and its options
    into the option knobs (an option it has none of keeps the knob's value)."""
    for name in _click_names():
        node[name].fromScript(saved.get(name, "{0 0}"))
        node[name + "_on"].setValue(bool(saved.get(name + "_on", False)))
    node[track_memory.MEMORY_KNOB].setValue(saved.get(track_memory.MEMORY_KNOB, ""))
    for name, value in _options(saved).items():
        node[name].setValue(value)


def _write(node, state: Dict) -> None:
    single = len(state["names"]) == 1 and state["names"][0] == FIRST_NAME
    node[STATE_KNOB].setValue("" if single else json.dumps(state, sort_keys=True))
    refresh_menu(node)
    knobs.show_enabled_handles(node)


def select(node, name: str) -> None:
    """Make `name` the current object: its clicks in the knobs (one undo step)."""
    state = read_state(node)
    if name == state["current"] or name not in state["names"]:
        refresh_menu(node)
        return
    with edits.undo_step("HyperSeg: object " + name), edits.quiet(node):
        state["stored"][state["current"]] = _snapshot(node)
        _restore(node, state["stored"].pop(name))
        state["current"] = name
        _write(node, state)


def add_object(node, name: str) -> None:
    """A new object without clicks, made current."""
    state = read_state(node)
    _check_new_name(name, state["names"])
    with edits.undo_step("HyperSeg: add object " + name), edits.quiet(node):
        state["stored"][state["current"]] = _snapshot(node)
        _restore(node, {})
        state["names"].append(name)
        state["current"] = name
        _write(node, state)


def rename_object(node, name: str) -> None:
    """Rename the current object."""
    state = read_state(node)
    current = state["current"]
    _check_new_name(name, [other for other in state["names"] if other != current])
    with edits.undo_step("HyperSeg: rename object " + current), edits.quiet(node):
        state["names"][state["names"].index(current)] = name
        state["current"] = name
        _write(node, state)


def remove_object(node) -> str:
    """Remove the current object (not the last one); the object before it becomes current."""
    state = read_state(node)
    current = state["current"]
    if len(state["names"]) == 1:
        raise PluginError("{} is the node's only object: it cannot be removed.".format(current))
    index = state["names"].index(current)
    state["names"].remove(current)
    successor = state["names"][max(index - 1, 0)]
    with edits.undo_step("HyperSeg: remove object " + current), edits.quiet(node):
        _restore(node, state["stored"].pop(successor))
        state["current"] = successor
        _write(node, state)
    return current


def _check_new_name(name: str, taken: List[str]) -> None:
    reason = check_layer_name(name)
    if reason:
        raise PluginError("Object name {!r} {}.".format(name, reason))
    for other in taken:
        if other.lower() == name.lower():
            raise PluginError("Object name {!r}: the node already has {!r}.".format(name, other))


def each_object(node, function: Callable[[str], object], keep: bool = False) -> Dict[str, object]:
    """{name: function(name)} with each object's clicks in the knobs while function runs, in the
    menu's order; the current object's put back after. keep: store what function changed in the
    knobs (Track clicks' keys). The caller makes the knob changes quiet: edits.unrecorded to
    read, an undo step and edits.quiet to write."""
    state = read_state(node)
    current = state["current"]
    if state["names"] == [current]:
        return {current: function(current)}
    here = _snapshot(node)
    results = {}
    try:
        for name in state["names"]:  # an object stored without options has the current one's
            _restore(node, here if name == current else dict(_options(here), **state["stored"][name]))
            try:
                results[name] = function(name)
            except PluginError as exc:
                raise PluginError("Object {}: {}".format(name, exc))
            if keep and name == current:
                here = _snapshot(node)
            elif keep:
                state["stored"][name] = _snapshot(node)
    finally:
        _restore(node, here)
    if keep:
        node[STATE_KNOB].setValue(json.dumps(state, sort_keys=True))
    return results


def export(node, function: Callable[[str], list],
           request_options: Optional[Callable[[Dict], Dict]] = None):
    """(clicks, objects) for the bridge or a shot file, function(name) giving an object's click
    tracks: (tracks, None) for a node of one object (`clicks:` as before), else (None,
    {name: {"clicks": tracks, "options": {...}}}). request_options(own) -> the options a request
    sends for an object whose option knobs hold `own` (knobs.object_options): an object's
    "options" are those of knobs.OBJECT_OPTION_KEYS that differ from the current object's,
    which are the request's own (absent when none differ, or without request_options). Read
    with no undo step and no callback."""
    with edits.unrecorded(node):
        results = each_object(node, lambda name: (function(name), knobs.object_options(node)))
    if len(results) == 1:
        return next(iter(results.values()))[0], None
    request = request_options or (lambda own: {})
    shot = request(results[read_state(node)["current"]][1])
    entries = {}
    for name, (tracks, own) in results.items():
        entries[name] = {"clicks": tracks}
        mine = request(own)
        differing = {key: mine[key] for key in knobs.OBJECT_OPTION_KEYS if key in mine and mine[key] != shot.get(key)}
        if differing:
            entries[name]["options"] = differing
    return None, entries
