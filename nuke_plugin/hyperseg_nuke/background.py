"""Rendering a Source range in a background Nuke, so that Segment range, Submit to farm and Open
preview never render on the main thread.

Main thread (prepare): the comp, as it is now, is saved to a copy beside the artist's script
(`.<script>_<node>_source.nk`) with nuke.scriptSaveToTemp, which leaves the script's name and
modified state alone. So the background Nuke renders the real comp: the whole Root (OCIO config,
the int8/int16/log/float LUT defaults a Read's "default" colour space resolves through, views,
project directory), every node, and the same script folder (`[python nuke.script_directory()]`,
project-relative paths). Worker thread (run): `nuke [-i] [--nukex] -t source_render.py COPY
SCRIPT SOURCE PATTERN FIRST LAST` (hyperseg_nuke.source_render) opens the copy, takes the
artist's script name, puts a Write (16-bit half EXR, raw: the working space, as the node's own
Write renders) on the Source's node found by its full name and renders it; its frame lines
("Frame 1001 (1 of 24)") go to the progress bar, whose cancel button ends it. The copy is
removed when the render ends, kept (and named) when it fails.

Flags: a GUI Nuke holds an interactive licence (nuke.env["gui"]), so the background Nuke gets
`-i` and needs no render licence; a NukeX session (nuke.env["nukex"]) passes `--nukex`, so
NukeX-only nodes load (Foundry, "Command Line Operations").

Not nuke.executeBackgroundNuke(exe_path, nodes, frameRange, views, limits, ...): it renders
Write nodes of the comp itself (one would be added to the artist's script), must be called from
the main thread and reports through addAfterBackgroundRender callbacks, not to the node's
progress bar.
"""

import os
import re
import subprocess
from typing import List, NamedTuple

import nuke

from hyperseg_nuke import paths, script
from hyperseg_nuke.errors import Cancelled, PluginError

#: The script the background Nuke runs (`nuke -t`).
RENDER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "source_render.py").replace("\\", "/")
FRAME_LINE = re.compile(r"Frame (\d+) \((\d+) of (\d+)\)")


class SourceRender(NamedTuple):
    """A prepared background render: its command, the pattern its frames go to, how many, and
    the comp's copy it renders (removed when it ends)."""

    command: List[str]
    pattern: str
    frames: int
    copy: str


def prepare(node, pattern: str, first: int, last: int) -> SourceRender:
    """Save the comp beside the script and the command that renders the node's Source (its
    input's node, by full name) to `pattern`. Main thread."""
    source = node.input(0)
    if source is None:
        raise PluginError("Connect the HyperSeg node's input (Source) to the plate.")
    original = script.script_path()
    folder, stem = paths.script_parts(original)
    copy = "{}/.{}_{}_source.nk".format(folder, stem, node.fullName())
    os.makedirs(os.path.dirname(pattern), exist_ok=True)
    if os.path.exists(copy):
        os.remove(copy)  # the copy of an earlier render that failed: ours
    save = getattr(nuke, "scriptSaveToTemp", None) or nuke.scriptSave  # scriptSave(name): Nuke 13's way
    save(copy)
    command = [nuke.EXE_PATH] + flags() + ["-t", RENDER_SCRIPT, copy, original, source.fullName(),
                                            paths.forward(pattern), str(first), str(last)]
    return SourceRender(command, pattern, last - first + 1, copy)


def flags() -> List[str]:
    """`-i` when this Nuke holds an interactive licence (its GUI), `--nukex` when it is NukeX."""
    return (["-i"] if nuke.env.get("gui") else []) + (["--nukex"] if nuke.env.get("nukex") else [])


def run(render: SourceRender, task) -> None:
    """Run the background render, its frames on `task` (a nuke.ProgressTask); PluginError with
    its output when it fails or the artist cancels."""
    try:
        process = subprocess.Popen(render.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, universal_newlines=True)
    except OSError as exc:
        raise PluginError("cannot start {}: {}".format(render.command[0], exc.strerror or exc)) from None
    tail = []
    for line in process.stdout:
        tail = (tail + [line.rstrip()])[-20:]
        match = FRAME_LINE.search(line)
        if match:
            task.setProgress(int(100 * (int(match.group(2)) - 1) / max(1, int(match.group(3)))))
            task.setMessage("rendering the Source: frame {} ({} of {})".format(*match.groups()))
        if task.isCancelled():
            process.terminate()
            process.wait()
            _remove(render.copy)
            raise Cancelled("cancelled while rendering the Source")
    if process.wait() != 0:
        raise PluginError("rendering the Source in the background failed (exit {}; the comp it rendered: {}):\n{}"
                          .format(process.returncode, render.copy, "\n".join(tail)))
    _remove(render.copy)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
