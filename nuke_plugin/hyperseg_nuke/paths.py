"""Where the node's files go: next to the Nuke script, so that they are in the bridge's allowed
folders whenever the script is, and the farm sees them wherever it sees the script.

    <script folder>/<script>_<id>.json                        the shot of Segment range
    <script folder>/<script>_<id>_farm_<time>.json            one shot per farm submission (a
                                                              running farm job never sees it change)
    <script folder>/mattes/<script>_<id>_matte.####.exr       the default matte output
    <matte folder>/.hyperseg/<id>/source.####.exr             the Source frames rendered for the bridge
    <matte folder>/.hyperseg/<id>/preview.json                the shot of the contact sheet
    <matte folder>/<script>_<id>_preview.png                  the contact sheet

<id> is the node's `node_id` knob (its name when it first segmented; see knobs.claim_node_id),
so renaming the node keeps its files and a pasted copy gets files of its own.

Every path here has forward slashes, on every OS: Nuke evaluates knob strings through TCL,
which strips single backslashes ("Q:\\Project" becomes "Q:Project", shotgunsoftware/tk-nuke
PR #131), and Windows accepts forward slashes everywhere. Windows drive paths (C:/shots) and UNC
paths (//server/share) are absolute on any OS, so a script made on Windows resolves the same
way in a Linux farm worker's path mapping.
"""

import posixpath
import re
import time
from typing import Optional

from hyperseg_nuke.errors import PluginError

#: A frame number in a path: `####`, `@@@@` or printf's `%04d` / `%d`.
FRAME_TOKEN = re.compile(r"#+|@+|%(?:0\d+)?d")
#: The pattern of the Source frames rendered for the bridge, in the work folder.
SOURCE_NAME = "source.####.exr"
#: The token of the output per object pattern replaced by each object's name (as in a shot file).
OBJECT_TOKEN = "{object}"
#: A Windows drive path, once in forward slashes.
DRIVE = re.compile(r"^[A-Za-z]:/")


def forward(path: str) -> str:
    """`path` with forward slashes, normalised (`a/./b/../c` -> `a/c`); a UNC path keeps its `//`."""
    path = path.strip().replace("\\", "/")
    return posixpath.normpath(path) if path else path


def is_absolute(path: str) -> bool:
    """Absolute on some OS: `/x`, `//server/share/x` or `C:/x` (forward slashes)."""
    return path.startswith("/") or bool(DRIVE.match(path))


def script_parts(script_path: str):
    """(folder, stem) of the saved Nuke script; PluginError when it was never saved."""
    if not script_path:
        raise PluginError("Save the Nuke script first: HyperSeg writes its mattes and shot file next to it.")
    script_path = forward(script_path)
    if not is_absolute(script_path):
        raise PluginError("The script path {} is not absolute.".format(script_path))
    folder, name = posixpath.split(script_path)
    return folder, posixpath.splitext(name)[0]


def shot_file(script_path: str, node_id: str) -> str:
    """The node's shot file: `<script folder>/<script>_<id>.json`."""
    folder, stem = script_parts(script_path)
    return posixpath.join(folder, "{}_{}.json".format(stem, node_id))


def farm_shot_file(script_path: str, node_id: str, now: Optional[float] = None) -> str:
    """A new shot file for a farm job: `<script folder>/<script>_<id>_farm_<YYYYmmdd-HHMMSS>.json`."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return posixpath.splitext(shot_file(script_path, node_id))[0] + "_farm_{}.json".format(stamp)


def matte_pattern(knob_value: str, script_path: str, node_id: str) -> str:
    """The matte output pattern: the knob (TCL already expanded), else
    `<script folder>/mattes/<script>_<id>_matte.####.exr`. PluginError when it is relative or has
    no frame token."""
    if knob_value.strip():
        pattern = forward(knob_value)
    else:
        folder, stem = script_parts(script_path)
        pattern = posixpath.join(folder, "mattes", "{}_{}_matte.####.exr".format(stem, node_id))
    return _checked_pattern("matte output", pattern)


def object_pattern(knob_value: str) -> str:
    """The output per object pattern (TCL already expanded): absolute, with {object} (each
    object's name) and one frame token in its file name; PluginError naming what is missing."""
    pattern = _checked_pattern("output per object", forward(knob_value))
    if OBJECT_TOKEN not in pattern:
        raise PluginError("output per object {} needs {} (where each object's name goes)".format(pattern, OBJECT_TOKEN))
    return pattern


def _checked_pattern(what: str, pattern: str) -> str:
    """`pattern` when absolute with one frame number token in its file name, else PluginError."""
    if not is_absolute(pattern):
        raise PluginError("{} {!r} must be an absolute path (the bridge runs in another folder)".format(what, pattern))
    if len(FRAME_TOKEN.findall(posixpath.basename(pattern))) != 1:
        raise PluginError("{} {} needs one frame number token such as ####".format(what, pattern))
    return pattern


def work_folder(matte: str, node_id: str) -> str:
    """The node's working files: `<matte folder>/.hyperseg/<id>` (safe to delete)."""
    return posixpath.join(posixpath.dirname(matte), ".hyperseg", node_id)


def source_pattern(matte: str, node_id: str) -> str:
    """The pattern the Source frames are rendered to, in the work folder."""
    return posixpath.join(work_folder(matte, node_id), SOURCE_NAME)


def preview_files(matte: str, script_path: str, node_id: str):
    """(shot file, contact sheet) of the preview: the shot in the work folder, the sheet
    `<matte folder>/<script>_<id>_preview.png` (where `render --preview` puts a shot's)."""
    stem = posixpath.splitext(posixpath.basename(shot_file(script_path, node_id)))[0]
    return (posixpath.join(work_folder(matte, node_id), "preview.json"),
            posixpath.join(posixpath.dirname(matte), stem + "_preview.png"))


def frame_file(pattern: str, frame: int) -> str:
    """The file of `frame` in a pattern with a frame token (`####`, `%04d`, `@@@@`)."""
    match = FRAME_TOKEN.search(pattern)
    if match is None:
        return pattern
    token = match.group(0)
    width = len(token) if token[0] in "#@" else int(token[1:-1] or 1)
    return pattern[:match.start()] + "{:0{}d}".format(frame, width) + pattern[match.end():]
