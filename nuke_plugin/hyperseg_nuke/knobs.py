"""The HyperSeg node's knobs: their names and types (the gizmo must match: tests check it), and
the small functions that read and write them. Main thread only, like every knob access.

HyperSeg tab: bridge_url, autostart, checkpoint, matte_output, output_per_object, colorspace,
matte, candidate, proxy_scale, temporal_smoothing, exclusive, edges, live, farm, chunk_size,
status, and the buttons. matte and temporal_smoothing are the current object's
(OBJECT_OPTION_KNOBS: hyperseg_nuke.objects keeps each object's own). Clicks tab: pos1..pos8 and
neg1..neg8 (XY knobs, draggable in the Viewer, animatable), each with an enable checkbox
posN_on / negN_on; only enabled clicks show their handle, on every tab (HANDLES_ANYWAY).

All of the node's state is in these top-level knobs, because a Nuke script saves only a gizmo's
top-level knob values and rebuilds its inner nodes from the .gizmo file (Foundry, "Creating and
sourcing gizmos"). Hidden ones: matte_file, matte_first, matte_last, has_matte (what the inner
MatteRead shows, by expression) and node_id (the name in the node's file names).
"""

from typing import Dict, Iterable, List, Mapping, NamedTuple, Sequence

import nuke

from hyperseg_nuke.clicks import ClickKnob

#: Click slots of each label.
CLICK_SLOTS = 8
#: Knob flag (DDImage Knob.h, 0x400000): "Force viewer widgets to be visible regardless of
#: current node tab". Without it a click's handle shows only while the Clicks tab is current,
#: and Segment frame and live sit on the HyperSeg tab. Not a name in Nuke's Python module.
HANDLES_ANYWAY = 0x400000
LABELS = {"pos": "positive", "neg": "negative"}

#: Every knob the plugin reads or writes -> its Nuke knob class.
NODE_KNOBS = {
    "bridge_url": "String_Knob",
    "autostart": "Boolean_Knob",
    "checkpoint": "File_Knob",
    "matte_output": "File_Knob",
    "matte": "Enumeration_Knob",
    "candidate": "Enumeration_Knob",
    "proxy_scale": "Double_Knob",
    "temporal_smoothing": "Boolean_Knob",
    "exclusive": "Boolean_Knob",
    "edges": "Enumeration_Knob",
    "output_per_object": "File_Knob",
    "farm": "Enumeration_Knob",
    "chunk_size": "Int_Knob",
    "status": "Text_Knob",
    "colorspace": "String_Knob",
    "live": "Boolean_Knob",
    "matte_file": "String_Knob",
    "matte_first": "Int_Knob",
    "matte_last": "Int_Knob",
    "has_matte": "Boolean_Knob",
    "node_id": "String_Knob",
    "object": "Enumeration_Knob",
    "objects": "String_Knob",
    "object_layers": "Boolean_Knob",
}
#: The knobs of an object's own options, shown for the current object (a subset of the shot
#: file's per-object options, hyperseg_vfx/objects.py OBJECT_OPTION_KEYS: the node always writes
#: every candidate, for the candidate menu, so `candidates` is never an object's own).
OBJECT_OPTION_KNOBS = ("matte", "temporal_smoothing")
#: The shot file's per-object options (hyperseg_vfx/objects.py OBJECT_OPTION_KEYS; a test compares).
OBJECT_OPTION_KEYS = ("matte", "candidates", "temporal_smoothing")
#: The edges menu's default: the model config's own edge stage (the shot file's default, so the
#: node sends `edges` only when another is chosen).
DEFAULT_EDGES = "model"
#: The candidate menu's items, in the network's candidate order (words, so that a saved script
#: reads them back unambiguously: Nuke reads a number in a script as an item index).
CANDIDATES = ("best", "second", "third", "fourth", "fifth", "sixth")
NODE_KNOBS.update({"{}{}".format(prefix, i): "XY_Knob" for prefix in LABELS for i in range(1, CLICK_SLOTS + 1)})
NODE_KNOBS.update({"{}{}_on".format(prefix, i): "Boolean_Knob" for prefix in LABELS for i in range(1, CLICK_SLOTS + 1)})


class NodeSettings(NamedTuple):
    """The HyperSeg tab's values, raw (resolved by hyperseg_nuke.settings and paths)."""

    bridge_url: str
    autostart: bool
    checkpoint: str
    matte_output: str
    matte: str
    candidate: int
    scale: float
    farm: str
    chunk_size: int
    colorspace: str
    live: bool
    temporal_smoothing: bool
    exclusive: bool
    edges: str
    output_per_object: str

    def options(self) -> Dict:
        """The shot-file options of a range (Segment range, farm, preview, Track clicks): every
        candidate is written, so the candidate menu switches at once. exclusive and edges only
        when not the shot file's defaults (a node that leaves them sends what it always sent)."""
        options = {"scale": self.scale, "matte": self.matte, "candidates": True,
                   "temporal_smoothing": self.temporal_smoothing}  # type: Dict
        if self.exclusive:
            options["exclusive"] = True
        if self.edges != DEFAULT_EDGES:
            options["edges"] = self.edges
        return options

    def frame_options(self) -> Dict:
        """Segment frame's (and live clicks') options: the frame's own matte, never smoothed (for
        one frame only t and t-1 of the Source are rendered, so t+1 is not there to average in)."""
        return dict(self.options(), temporal_smoothing=False)


def read_settings(node) -> NodeSettings:
    """The node's HyperSeg tab."""
    return NodeSettings(
        bridge_url=node["bridge_url"].value(),
        autostart=bool(node["autostart"].value()),
        checkpoint=evaluated(node["checkpoint"]),
        matte_output=evaluated(node["matte_output"]),
        matte=node["matte"].value(),
        candidate=CANDIDATES.index(node["candidate"].value()) + 1,
        scale=float(node["proxy_scale"].value()),
        farm=node["farm"].value(),
        chunk_size=int(node["chunk_size"].value()),
        colorspace=node["colorspace"].value().strip(),
        live=bool(node["live"].value()),
        temporal_smoothing=bool(node["temporal_smoothing"].value()),
        exclusive=bool(node["exclusive"].value()),
        edges=node["edges"].value(),
        output_per_object=evaluated(node["output_per_object"]),
    )


def object_options(node) -> Dict:
    """The current object's own option knobs (OBJECT_OPTION_KNOBS) -> their values, which are
    also NodeSettings fields (a checkbox's as a bool)."""
    return {name: bool(node[name].value()) if NODE_KNOBS[name] == "Boolean_Knob" else node[name].value()
            for name in OBJECT_OPTION_KNOBS}


def evaluated(knob) -> str:
    """A file knob's text with studio TCL expanded (`[python {nuke.script_directory()}]`,
    `[value root.name]`), frame tokens kept, forward slashes (see hyperseg_nuke.paths)."""
    text = knob.value().strip()
    if "[" in text or "$" in text:
        text = nuke.tcl("subst", text)
    return text.replace("\\", "/")


def claim_node_id(node, others: Iterable) -> str:
    """The node's id for its file names, set on first use: its name. A pasted copy carries the
    original's id; when another node has the same id, this node keeps it only while it still
    has the name the id was made from (the original), else it takes a fresh one (the copy), so
    two nodes never write the same files."""
    current = node["node_id"].value()
    taken = {other["node_id"].value() for other in others if other != node}  # == : a new wrapper per call
    if current and (current not in taken or current == node.name()):
        return current
    fresh, number = node.name(), 1
    while fresh in taken:
        number += 1
        fresh = "{}_{}".format(node.name(), number)
    node["node_id"].setValue(fresh)
    return fresh


def show_enabled_handles(node) -> None:
    """Show the Viewer handle of each enabled click, hide the others, and let the handles show
    whatever tab of the panel is current (HANDLES_ANYWAY). XY knobs all start hidden in the
    gizmo; neither the visibility nor the flag is saved, so onCreate calls this on create, load
    and paste."""
    for prefix in LABELS:
        for i in range(1, CLICK_SLOTS + 1):
            name = "{}{}".format(prefix, i)
            node[name].setFlag(HANDLES_ANYWAY)
            node[name].setVisible(bool(node[name + "_on"].value()))


def click_knobs(node) -> List[ClickKnob]:
    """Every click slot, positive ones first; positions are read when asked for."""
    return [_click_knob(node, prefix, i) for prefix in LABELS for i in range(1, CLICK_SLOTS + 1)]


def _click_knob(node, prefix: str, index: int) -> ClickKnob:
    name = "{}{}".format(prefix, index)
    knob = node[name]
    return ClickKnob(name, LABELS[prefix], bool(node[name + "_on"].value()), tuple(knob.getKeyList()),
                     lambda frame: (knob.getValueAt(frame, 0), knob.getValueAt(frame, 1)))


def set_status(node, text: str) -> None:
    """Show `text` in the node's status line."""
    node["status"].setValue(text)


def add_click(node, label: str, frame: int, point) -> str:
    """Enable the first unused click slot of `label`, keyed at `frame` on `point`; its knob
    name, or "" when all slots are in use."""
    prefix = next(p for p, name in LABELS.items() if name == label)
    for i in range(1, CLICK_SLOTS + 1):
        name = "{}{}".format(prefix, i)
        if not node[name + "_on"].value():
            node[name + "_on"].setValue(True)
            set_keys(node[name], {frame: point})
            node[name].setVisible(True)
            return name
    return ""


def key_clicks(node, frame: int) -> List[str]:
    """Key every enabled click at `frame` where it is now; the names of the keyed knobs."""
    keyed = [knob for knob in click_knobs(node) if knob.enabled]
    for knob in keyed:
        set_keys(node[knob.name], {frame: knob.position(frame)})
    return [knob.name for knob in keyed]


def set_keys(knob, points: Mapping[int, Sequence[float]]) -> None:
    """Key an XY knob at every frame of `points` ({frame: (x, y)}), each channel's keys added in
    one call (AnimationCurve.addKey takes a sequence of nuke.AnimationKey), its other keys kept.
    A channel not yet animated is animated first; the key setAnimated puts on the current frame
    is removed unless `points` keys that frame too."""
    frames = sorted(points)
    for index in (0, 1):
        fresh = not knob.isAnimated(index)
        if fresh:
            knob.setAnimated(index)
        curve = knob.animation(index)
        stray = [key for key in curve.keys() if fresh and key.x not in points]
        curve.addKey([nuke.AnimationKey(frame, float(points[frame][index])) for frame in frames])
        if stray:
            curve.removeKey(stray)
