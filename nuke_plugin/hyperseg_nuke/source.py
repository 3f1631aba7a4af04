"""The Source (the node's input): its size and range, and its frames rendered to EXR files
for the bridge by the node's internal Write (`SourceWrite`: float, linear, unconverted, no
metadata, disabled except while it renders). Main thread only: nuke.execute renders here.

When the Source is a plain Read of EXR files (an absolute path, linear or raw, no time offset),
ranges and the farm read its files directly instead: the bridge reads EXRs as linear, as that
Read does.
"""

import filecmp
import os
from typing import NamedTuple, Optional

import nuke

from hyperseg_nuke import paths
from hyperseg_nuke.errors import PluginError

WRITE = "SourceWrite"
#: A Read's colour spaces that leave linear EXR pixels as they are in the file.
LINEAR_NAMES = ("linear", "scene_linear", "default (linear)", "default (scene_linear)")


class SourceInfo(NamedTuple):
    """width, height: the full-resolution format; first, last: the frame range; plates: the
    Read's file pattern when the bridge may read its files directly, else None."""

    width: int
    height: int
    first: int
    last: int
    plates: Optional[str]

    def frames(self) -> range:
        return range(self.first, self.last + 1)


def source_info(node) -> SourceInfo:
    """The node's Source; PluginError when nothing is connected."""
    source = node.input(0)
    if source is None:
        raise PluginError("Connect the HyperSeg node's input (Source) to the plate.")
    fmt = source.format()
    return SourceInfo(fmt.width(), fmt.height(), int(source.firstFrame()), int(source.lastFrame()),
                      _plate_pattern(source))


def _plate_pattern(source) -> Optional[str]:
    """The Read's file pattern when its pixels are the file's: EXR, linear or raw, no time offset."""
    if source.Class() != "Read":
        return None
    pattern = source["file"].value()
    linear = source["raw"].value() or source["colorspace"].value() in LINEAR_NAMES
    plain = pattern.lower().endswith(".exr") and linear and not source["frame"].value().strip()
    return pattern if plain and os.path.isabs(pattern) else None


def render_range(node, pattern: str, first: int, last: int) -> None:
    """Render Source frames first..last to `pattern` (`####`) with the internal Write."""
    os.makedirs(os.path.dirname(pattern), exist_ok=True)
    write = node.node(WRITE)
    write["file"].setValue(pattern)
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
    """Render Source frame `frame` to its file in `pattern`, keeping the file there (and so its
    date, which keys the bridge's feature cache) when the pixels did not change. Its path."""
    staging = os.path.join(os.path.dirname(pattern), "render", os.path.basename(pattern))
    render_range(node, staging, frame, frame)
    rendered, final = paths.frame_file(staging, frame), paths.frame_file(pattern, frame)
    if os.path.isfile(final) and filecmp.cmp(rendered, final, shallow=False):
        os.remove(rendered)
    else:
        os.replace(rendered, final)
    return final
