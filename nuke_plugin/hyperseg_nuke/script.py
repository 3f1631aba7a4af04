"""What the plugin asks of the Nuke session: the script's path, the current frame, proxy mode,
the artist's messages. Main thread only."""

import nuke

from hyperseg_nuke.errors import PluginError


def script_path() -> str:
    """The saved script's path ("" when it was never saved)."""
    return nuke.root()["name"].value().replace("\\", "/")


def hyperseg_nodes(node_class: str):
    """Every node of the HyperSeg class in the script, inside groups too."""
    return nuke.allNodes(node_class, nuke.root(), recurseGroups=True)


def current_frame() -> int:
    return int(nuke.frame())


def require_full_resolution() -> None:
    """PluginError in proxy mode: the Source is rendered for the bridge at full resolution, the
    resolution the clicks and mattes are in."""
    if nuke.root()["proxy"].value():
        raise PluginError("Switch proxy mode off to segment: HyperSeg works on the full-resolution Source "
                          "(the node's proxy scale knob makes the model itself run smaller).")


def show_message(text: str) -> None:
    """A Nuke message box."""
    nuke.message(text)


def get_input(prompt: str, default: str = ""):
    """What the artist types into a text dialog; None when cancelled (nuke.getInput)."""
    return nuke.getInput(prompt, default)
