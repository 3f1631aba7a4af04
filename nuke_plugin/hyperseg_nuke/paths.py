"""Where the node's files go: next to the Nuke script, so that they are in the bridge's allowed
folders whenever the script is, and the farm sees them wherever it sees the script.

    <script folder>/<script>_<node>.json                      the shot of Segment range
    <script folder>/<script>_<node>_farm_<time>.json          one shot per farm submission (a
                                                              running farm job never sees it change)
    <script folder>/mattes/<script>_<node>_matte.####.exr     the default matte output
    <matte folder>/.hyperseg/<node>/source.####.exr           the Source frames rendered for the bridge
    <matte folder>/.hyperseg/<node>/preview.json              the shot of the contact sheet
    <matte folder>/<script>_<node>_preview.png                the contact sheet
"""

import os
import re
import time
from typing import Optional

from hyperseg_nuke.errors import PluginError

#: A frame number in a path: `####`, `@@@@` or printf's `%04d` / `%d`.
FRAME_TOKEN = re.compile(r"#+|@+|%(?:0\d+)?d")
#: The pattern of the Source frames rendered for the bridge, in the work folder.
SOURCE_NAME = "source.####.exr"


def script_parts(script_path: str):
    """(folder, stem) of the saved Nuke script; PluginError when it was never saved."""
    if not script_path:
        raise PluginError("Save the Nuke script first: HyperSeg writes its mattes and shot file next to it.")
    folder, name = os.path.split(os.path.abspath(script_path))
    return folder, os.path.splitext(name)[0]


def shot_file(script_path: str, node_name: str) -> str:
    """The node's shot file: `<script folder>/<script>_<node>.json`."""
    folder, stem = script_parts(script_path)
    return os.path.join(folder, "{}_{}.json".format(stem, node_name))


def farm_shot_file(script_path: str, node_name: str, now: Optional[float] = None) -> str:
    """A new shot file for a farm job: `<script folder>/<script>_<node>_farm_<YYYYmmdd-HHMMSS>.json`."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return os.path.splitext(shot_file(script_path, node_name))[0] + "_farm_{}.json".format(stamp)


def matte_pattern(knob_value: str, script_path: str, node_name: str) -> str:
    """The matte output pattern: the knob, else `<script folder>/mattes/<script>_<node>_matte.####.exr`.
    PluginError when it is relative or has no frame token."""
    if knob_value.strip():
        pattern = knob_value.strip()
    else:
        folder, stem = script_parts(script_path)
        pattern = os.path.join(folder, "mattes", "{}_{}_matte.####.exr".format(stem, node_name))
    if not os.path.isabs(pattern):
        raise PluginError("matte output {!r} must be an absolute path (the bridge runs in another folder)".format(
            pattern))
    if len(FRAME_TOKEN.findall(os.path.basename(pattern))) != 1:
        raise PluginError("matte output {} needs one frame number token such as ####".format(pattern))
    return pattern


def work_folder(matte: str, node_name: str) -> str:
    """The node's working files: `<matte folder>/.hyperseg/<node>` (safe to delete)."""
    return os.path.join(os.path.dirname(matte), ".hyperseg", node_name)


def source_pattern(matte: str, node_name: str) -> str:
    """The pattern the Source frames are rendered to, in the work folder."""
    return os.path.join(work_folder(matte, node_name), SOURCE_NAME)


def preview_files(matte: str, script_path: str, node_name: str):
    """(shot file, contact sheet) of the preview: the shot in the work folder, the sheet
    `<matte folder>/<script>_<node>_preview.png` (where `render --preview` puts a shot's)."""
    stem = os.path.splitext(os.path.basename(shot_file(script_path, node_name)))[0]
    return (os.path.join(work_folder(matte, node_name), "preview.json"),
            os.path.join(os.path.dirname(matte), stem + "_preview.png"))


def frame_file(pattern: str, frame: int) -> str:
    """The file of `frame` in a pattern with a `####` token (the ones this plugin makes)."""
    token = "#" * SOURCE_NAME.count("#")
    return pattern.replace(token, "{:0{}d}".format(frame, len(token)))
