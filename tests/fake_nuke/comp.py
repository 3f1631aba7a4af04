"""A small comp in the fake Nuke: generated plates read by a Read, a HyperSeg node on it.

    read, node = make_comp(nuke, folder, make_shot)      # folder/comp.nk, plates 1001-1006, 96x64
"""

from __future__ import annotations

from pathlib import Path

SIZE = (96, 64)


def load_plugin(nuke) -> None:
    """Run nuke_plugin/init.py as Nuke does at start-up (the gizmo folder on the plugin path)."""
    import runpy

    from fake_nuke import PLUGIN_DIR

    runpy.run_path(str(PLUGIN_DIR / "init.py"), run_name="__main__")


def make_comp(nuke, folder: Path, make_shot, frames: str = "1001-1006", *, through_dot: bool = False,
              through_switch: bool = False):
    """(plate Read, HyperSeg node) in a script named folder/comp.nk, at the first frame.
    through_dot: a Dot between them (which keeps the Read's pixels); through_switch: a Switch
    (a node that may change them: the Source is then rendered)."""
    make_shot(folder, frames, SIZE, name="plate", negative_click=False)
    first, _, last = frames.partition("-")
    load_plugin(nuke)
    nuke.root()["name"].setValue(str(folder / "comp.nk"))
    read = nuke.nodes.Read(file=str(folder / "plates" / "plate.####.exr"), first=int(first),
                           last=int(last or first))
    node = nuke.createNode("HyperSeg")
    if through_dot or through_switch:
        between = nuke.createNode("Dot" if through_dot else "Switch")
        between.setInput(0, read)
        node.setInput(0, between)
    else:
        node.setInput(0, read)
    nuke.frame(int(first))
    return read, node


def set_click(node, name: str, keys: dict, interpolation: str = "linear") -> None:
    """Enable click `name` (pos1, neg2...) as the artist does (knobChanged runs), keyed
    {frame: (x, y)} in Nuke pixels (origin bottom-left)."""
    from fake_nuke import nuke

    nuke.artist_sets(node, name + "_on", True)
    knob = node[name]
    if len(keys) == 1:
        knob.setValue(list(next(iter(keys.values()))))
        return
    knob.setAnimated()
    for frame, (x, y) in keys.items():
        knob.setValueAt(x, frame, 0)
        knob.setValueAt(y, frame, 1)
    for curve in knob.animations():
        curve.interpolation = interpolation
