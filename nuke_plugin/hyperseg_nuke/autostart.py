"""The folders a bridge started by the plugin may read and write: the comp's.

A bridge the plugin starts (the node's `autostart` on, a loopback address; see
bridge_client.default_command) allows only the folders listed in its roots file, which it reads
again whenever the file changes. Before each bridge action the node adds the comp's folders
there (bridge_client.allow_folders): each Read's, its own matte output's (the Source renders and
the preview sit under it), the script's (shot files) and the OCIO config's. A folder that appears
later (a new Read, another matte output) is added by the next action, and the running bridge
takes it at its next request, without a restart. Main thread only.
"""

import posixpath
from typing import List
from urllib.parse import urlsplit

import nuke

from hyperseg_nuke import bridge_client, colour, knobs, paths, script, settings
from hyperseg_nuke.connection import LOOPBACK


def starts_bridges(values: knobs.NodeSettings) -> bool:
    """Whether the node may start a bridge itself: `autostart` on and a loopback address."""
    return values.autostart and urlsplit(settings.bridge_url(values.bridge_url)).hostname in LOOPBACK


def comp_folders(node) -> List[str]:
    """The folders of the comp that `node` works in: every Read's (inside groups too), the
    node's matte output's, the saved script's and the project OCIO config's; forward slashes."""
    folders = []
    for read in nuke.allNodes("Read", nuke.root(), recurseGroups=True):
        pattern = knobs.evaluated(read["file"])
        if pattern:
            folders.append(posixpath.dirname(paths.forward(pattern)))
    script_path = script.script_path()
    if script_path:
        folders.append(paths.script_parts(script_path)[0])
        matte = paths.matte_pattern(knobs.read_settings(node).matte_output, script_path, "node")
        folders.append(posixpath.dirname(matte))
    config = colour.config_folder(colour.ocio_config())
    if config:
        folders.append(config)
    return folders


def allow_comp_folders(node) -> List[str]:
    """When the node may start a bridge, add its comp's folders to that bridge's roots file;
    returns the folders added."""
    if not starts_bridges(knobs.read_settings(node)):
        return []
    return bridge_client.allow_folders(comp_folders(node))
