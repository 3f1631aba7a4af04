"""Installing HyperSeg in Nuke: the gizmo folder on the plugin path (init.py, every mode) and the
Nodes menu entry (menu.py, the GUI only)."""

import os

import nuke

#: gizmos/ of the hyperseg-vfx checkout this package is in (nuke_plugin/hyperseg_nuke/ -> gizmos/).
GIZMO_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "gizmos")
GIZMO = "HyperSeg"


def add_gizmo_path() -> None:
    """Put the folder of HyperSeg.gizmo on Nuke's plugin path."""
    nuke.pluginAddPath(GIZMO_DIR)


def add_menu() -> None:
    """Nodes menu (toolbar) > HyperSeg > HyperSeg creates the node."""
    nuke.menu("Nodes").addMenu(GIZMO).addCommand(GIZMO, "nuke.createNode('{}')".format(GIZMO))
