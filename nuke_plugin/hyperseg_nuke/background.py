"""Rendering a Source range in a background Nuke (`nuke -x`), so that Segment range, Submit to
farm and Open preview never render on the main thread.

Main thread (prepare): the nodes above the HyperSeg node are written with nuke.nodeCopy to a
script of their own in the node's work folder, with the script's colour settings and a Write of
the frames (16-bit half EXR, raw: the working space, as the node's own Write renders). Worker
thread (run): `nuke -x -X <Write> -F first-last script` with this Nuke's executable
(nuke.EXE_PATH), its frame lines ("Frame 1001 (1 of 24)") on the progress bar, the bar's cancel
button ending it. Needs a render licence on the machine, as any `nuke -x`.
"""

import os
import re
import subprocess
from typing import List, NamedTuple

import nuke

from hyperseg_nuke import paths
from hyperseg_nuke.errors import Cancelled, PluginError

WRITE = "HyperSegSourceWrite"
#: Root knobs the background Nuke needs to render the same pixels.
ROOT_KNOBS = ("colorManagement", "OCIO_config", "workingSpaceLUT", "format", "first_frame", "last_frame")
FRAME_LINE = re.compile(r"Frame (\d+) \((\d+) of (\d+)\)")


class SourceRender(NamedTuple):
    """A prepared background render: its command and the pattern its frames go to."""

    command: List[str]
    pattern: str
    frames: int


def prepare(node, pattern: str, first: int, last: int) -> SourceRender:
    """Write the Source's upstream nodes and a Write to `pattern` into a script next to the
    frames; the command that renders it. Main thread (nodeCopy); the selection is restored."""
    folder = os.path.dirname(pattern)
    os.makedirs(folder, exist_ok=True)
    script_file = paths.forward(os.path.join(folder, "source_render.nk"))
    upstream = _upstream(node.input(0))
    selected = [n for n in nuke.allNodes() if n["selected"].value()]
    try:
        for other in selected:
            other["selected"].setValue(False)
        for other in upstream:
            other["selected"].setValue(True)
        nuke.nodeCopy(script_file)
    finally:
        for other in upstream:
            other["selected"].setValue(False)
        for other in selected:
            other["selected"].setValue(True)
    with open(script_file, encoding="utf-8") as handle:
        nodes = handle.read()
    root = "\n".join(" {} {}".format(name, nuke.root()[name].toScript()) for name in ROOT_KNOBS
                     if nuke.root().knob(name) is not None)
    write = ('push ${}\nWrite {{\n inputs 1\n file "{}"\n file_type exr\n datatype "16 bit half"\n channels rgb\n'
             ' raw true\n metadata "no metadata"\n name {}\n}}\n').format(
                 _stack_name(nodes), paths.forward(pattern), WRITE)
    with open(script_file, "w", encoding="utf-8") as handle:
        handle.write("Root {{\n inputs 0\n{}\n}}\n{}{}".format(root, nodes, write))
    command = [nuke.EXE_PATH, "-x", "-X", WRITE, "-F", "{}-{}".format(first, last), script_file]
    return SourceRender(command, pattern, last - first + 1)


def _upstream(source) -> list:
    """`source` and every node above it, inputs before the nodes that use them."""
    order, seen = [], set()

    def visit(current):
        if current is None or id(current) in seen:
            return
        seen.add(id(current))
        for i in range(current.inputs()):
            visit(current.input(i))
        order.append(current)

    visit(source)
    return order


def _stack_name(text: str) -> str:
    """The variable the copied script set last (`set N12 [stack 0]`): the Source node."""
    names = re.findall(r"^set (\S+) \[stack 0\]", text, flags=re.M)
    if not names:
        raise PluginError("cannot render the Source in the background: nodeCopy wrote no nodes")
    return names[-1]


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
            raise Cancelled("cancelled while rendering the Source")
    if process.wait() != 0:
        raise PluginError("rendering the Source in the background failed (exit {}):\n{}".format(
            process.returncode, "\n".join(tail)))
