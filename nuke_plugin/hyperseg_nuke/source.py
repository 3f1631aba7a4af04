"""The Source (the node's input): its size, range and colour space, and the files the bridge
reads for it. Main thread only: nuke.execute renders here.

When the Source is a Read of EXR files (possibly through Dots and disabled nodes, which keep its
pixels; no time offset), the bridge reads the Read's own files, in the Read's colour space. Else
the node's internal Write (`SourceWrite`: 16-bit half EXR, raw, so in the script's working
space, no metadata, disabled except while it renders) renders the frames, and a frame is
rendered again only when its upstream state (the knobs of every node above, the dates of the
files they read) changed since its last render in this session.
"""

import filecmp
import os
from typing import Dict, NamedTuple, Optional, Tuple

import nuke

from hyperseg_nuke import colour, paths
from hyperseg_nuke.errors import PluginError

WRITE = "SourceWrite"
#: Node classes that pass their input's pixels unchanged.
PASS_THROUGH = ("Dot",)
#: (pattern, frame) -> the upstream state its file was rendered from, this session.
_rendered: Dict[Tuple[str, int], str] = {}


class SourceInfo(NamedTuple):
    """width, height: the full-resolution format; first, last: the frame range; plates: the
    Read's file pattern when the bridge may read its files directly, else None; colorspace: the
    colour space of the files the bridge gets (the Read's, or the script's working space);
    ocio_config: the OCIO config that names it (colour.ocio_config; None: the bridge's own)."""

    width: int
    height: int
    first: int
    last: int
    plates: Optional[str]
    colorspace: str
    ocio_config: Optional[str] = None

    def frames(self) -> range:
        return range(self.first, self.last + 1)


def source_info(node, colorspace: str = "") -> SourceInfo:
    """The node's Source; `colorspace` (the node's knob) overrides the one found. PluginError
    when nothing is connected."""
    source = node.input(0)
    if source is None:
        raise PluginError("Connect the HyperSeg node's input (Source) to the plate.")
    fmt = source.format()
    read = _plate_read(source)
    plates = _plate_pattern(read) if read is not None else None
    found = _read_colorspace(read) if plates else working_space()
    return SourceInfo(fmt.width(), fmt.height(), int(source.firstFrame()), int(source.lastFrame()), plates,
                      colorspace or found, colour.ocio_config())


def working_space() -> str:
    """The script's working colour space (Project Settings > Color): `linear` in Nuke's default
    colour management, the OCIO config's scene_linear space (ACEScg in an ACES project)."""
    knob = nuke.root().knob("workingSpaceLUT")
    return (knob.value() if knob is not None else "") or "scene_linear"


def _plate_read(source):
    """The Read whose pixels `source` shows unchanged (through Dots and disabled nodes), or None."""
    while source is not None and source.Class() != "Read":
        if source.Class() not in PASS_THROUGH and not source["disable"].value():
            return None
        source = source.input(0)
    return source


def _plate_pattern(read) -> Optional[str]:
    """The Read's file pattern (TCL expanded, forward slashes) when the bridge can read it: EXR,
    absolute, no time offset."""
    pattern = paths.forward(nuke.tcl("subst", read["file"].value()) if "[" in read["file"].value()
                            else read["file"].value())
    plain = pattern.lower().endswith(".exr") and not read["frame"].value().strip()
    return pattern if plain and paths.is_absolute(pattern) else None


def _read_colorspace(read) -> str:
    """The colour space of a Read's files: the working space when raw, else its colorspace knob
    (`default (linear)` -> `linear`)."""
    if read["raw"].value():
        return working_space()
    name = read["colorspace"].value().strip()
    if name.startswith("default (") and name.endswith(")"):
        name = name[len("default ("):-1]
    return name or working_space()


def upstream_state(node, frame: int) -> str:
    """A fingerprint of what the Source shows at `frame`: every upstream node's class, name and
    knobs (as the script would save them), and the date of each Read's file at that frame. Nodes
    are told apart by full name (each call gives a new Python object for a node)."""
    parts, todo, seen = [], [node.input(0)], set()
    while todo:
        current = todo.pop()
        if current is None or current.fullName() in seen:
            continue
        seen.add(current.fullName())
        knobs = current.knobs()
        parts.append("{} {} {}".format(current.Class(), current.name(), sorted(
            (name, knob.toScript()) for name, knob in knobs.items() if hasattr(knob, "toScript"))))
        if current.Class() == "Read":
            path = paths.frame_file(paths.forward(current["file"].value()), frame)
            parts.append(str(os.stat(path).st_mtime_ns) if os.path.isfile(path) else "missing")
        todo.extend(current.input(i) for i in range(current.inputs()))
    return "\n".join(parts)


def render_range(node, pattern: str, first: int, last: int) -> None:
    """Render Source frames first..last to `pattern` (`####`) with the internal Write."""
    os.makedirs(os.path.dirname(pattern), exist_ok=True)
    write = node.node(WRITE)
    write["file"].setValue(paths.forward(pattern))
    write["disable"].setValue(False)
    node.begin()
    try:
        nuke.execute(write, first, last)
    except RuntimeError as exc:  # Nuke's render errors: a missing plate, a broken upstream node
        raise PluginError("Rendering the Source (frames {}-{}) failed: {}".format(first, last, exc)) from None
    finally:
        node.end()
        write["disable"].setValue(True)


def render_frame(node, pattern: str, frame: int) -> str:
    """Source frame `frame` in its file of `pattern`, rendered only when the upstream state
    changed since it was last rendered there. An unchanged result keeps the file there (and so
    its date, which keys the bridge's feature cache). Its path."""
    final = paths.frame_file(pattern, frame)
    state = upstream_state(node, frame)
    if _rendered.get((pattern, frame)) == state and os.path.isfile(final):
        return final
    staging = paths.forward(os.path.join(os.path.dirname(pattern), "render", os.path.basename(pattern)))
    render_range(node, staging, frame, frame)
    rendered = paths.frame_file(staging, frame)
    if os.path.isfile(final) and filecmp.cmp(rendered, final, shallow=False):
        os.remove(rendered)
    else:
        os.replace(rendered, final)
    _rendered[(pattern, frame)] = state
    return final
