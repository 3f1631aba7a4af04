"""Installing HyperSeg in Nuke: the gizmo folder on the plugin path (init.py, every mode) and the
Nodes menu entry (menu.py, the GUI only)."""

import os

import nuke

from hyperseg_nuke.errors import PluginError

GIZMO = "HyperSeg"
#: The plugin folder, the one on NUKE_PATH (init.py, menu.py, hyperseg_nuke/).
PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Where HyperSeg.gizmo is looked for, the first that has it: gizmos/ inside the plugin folder
#: (where `hyperseg-vfx nuke install` and the wheel put it), then gizmos/ beside it (a source
#: checkout, where nuke_plugin/ and gizmos/ sit side by side).
GIZMO_DIRS = (os.path.join(PLUGIN_DIR, "gizmos"), os.path.join(os.path.dirname(PLUGIN_DIR), "gizmos"))


def gizmo_dir() -> str:
    """The folder of HyperSeg.gizmo; PluginError naming the places looked in when none has it."""
    for folder in GIZMO_DIRS:
        if os.path.isfile(os.path.join(folder, GIZMO + ".gizmo")):
            return folder
    raise PluginError("{}.gizmo is in none of {}: copy the plugin with `hyperseg-vfx nuke install FOLDER`".format(
        GIZMO, ", ".join(GIZMO_DIRS)))


def add_gizmo_path() -> None:
    """Put the folder of HyperSeg.gizmo on Nuke's plugin path; register the node's onCreate
    (create, load, paste) and knobChanged callbacks for its class."""
    nuke.pluginAddPath(gizmo_dir().replace("\\", "/"))
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
