"""The HyperSeg node's knobs: their names and types (the gizmo must match: tests check it), and
the small functions that read and write them. Main thread only, like every knob access.

HyperSeg tab: bridge_url, autostart, checkpoint, matte_output, matte, candidate, proxy_scale,
farm, chunk_size, status, and the buttons. Clicks tab: pos1..pos8 and neg1..neg8 (XY knobs,
draggable in the Viewer, animatable), each with an enable checkbox posN_on / negN_on.
"""

from typing import Dict, List, NamedTuple

from hyperseg_nuke.clicks import ClickKnob

#: Click slots of each label.
CLICK_SLOTS = 8
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
    "farm": "Enumeration_Knob",
    "chunk_size": "Int_Knob",
    "status": "Text_Knob",
}
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

    def options(self) -> Dict:
        """The shot-file options: the candidates are written when one other than the first is shown."""
        return {"scale": self.scale, "matte": self.matte, "candidates": self.candidate > 1}


def read_settings(node) -> NodeSettings:
    """The node's HyperSeg tab."""
    return NodeSettings(
        bridge_url=node["bridge_url"].value(),
        autostart=bool(node["autostart"].value()),
        checkpoint=node["checkpoint"].value().strip(),
        matte_output=node["matte_output"].value(),
        matte=node["matte"].value(),
        candidate=int(node["candidate"].value()),
        scale=float(node["proxy_scale"].value()),
        farm=node["farm"].value(),
        chunk_size=int(node["chunk_size"].value()),
    )


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
            _set_key(node[name], frame, point)
            return name
    return ""


def key_clicks(node, frame: int) -> List[str]:
    """Key every enabled click at `frame` where it is now; the names of the keyed knobs."""
    keyed = [knob for knob in click_knobs(node) if knob.enabled]
    for knob in keyed:
        _set_key(node[knob.name], frame, knob.position(frame))
    return [knob.name for knob in keyed]


def _set_key(knob, frame: int, point) -> None:
    knob.setAnimated()
    knob.setValueAt(point[0], frame, 0)
    knob.setValueAt(point[1], frame, 1)
