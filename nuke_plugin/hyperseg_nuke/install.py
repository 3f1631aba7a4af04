"""Installing HyperSeg in Nuke: the gizmo folder on the plugin path (init.py, every mode) and the
Nodes menu entry (menu.py, the GUI only)."""

import os

import nuke

#: gizmos/ of the hyperseg-vfx checkout this package is in (nuke_plugin/hyperseg_nuke/ -> gizmos/).
GIZMO_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "gizmos")
GIZMO = "HyperSeg"


def add_gizmo_path() -> None:
    """Put the folder of HyperSeg.gizmo on Nuke's plugin path; register the node's onCreate
    (create, load, paste) and knobChanged callbacks for its class."""
    nuke.pluginAddPath(GIZMO_DIR.replace("\\", "/"))
    nuke.addOnCreate(_on_create, nodeClass=GIZMO)
    nuke.addKnobChanged(_knob_changed, nodeClass=GIZMO)


def _on_create() -> None:
    import hyperseg_nuke.callbacks

    hyperseg_nuke.callbacks.on_create(nuke.thisNode())


def _knob_changed() -> None:
    import hyperseg_nuke.callbacks

    hyperseg_nuke.callbacks.knob_changed(nuke.thisNode(), nuke.thisKnob())


def add_menu() -> None:
    """Nodes menu (toolbar) > HyperSeg > HyperSeg creates the node."""
    nuke.menu("Nodes").addMenu(GIZMO).addCommand(GIZMO, "nuke.createNode('{}')".format(GIZMO))
