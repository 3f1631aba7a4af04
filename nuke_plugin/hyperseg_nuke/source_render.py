"""The background Nuke's part of a Source render (hyperseg_nuke.background), run as

    nuke [-i] [--nukex] -t source_render.py COPY SCRIPT SOURCE PATTERN FIRST LAST

COPY: the comp saved beside the artist's script; SCRIPT: that script's path, given to the Root
so that `[value root.name]` and nuke.script_directory() are the comp's; SOURCE: the full name
of the node the HyperSeg node reads (`Blur1`, `Group1.Blur1`), found by name, never by position.
A Write (16-bit half EXR, raw: the script's working space, no metadata) on that node, in its
group, renders FIRST..LAST of the first view, one frame at a time with a `Frame N (i of n)` line
before each. Exit status 1 with `ERROR: ...` on failure. Standard library and `nuke` only.
"""

import sys

import nuke

#: The Write's knobs, in order (datatype and metadata exist once file_type is exr).
WRITE_KNOBS = (("file_type", "exr"), ("datatype", "16 bit half"), ("channels", "rgb"), ("raw", True),
               ("metadata", "no metadata"))


def render(copy: str, original: str, source_name: str, pattern: str, first: int, last: int) -> None:
    nuke.scriptOpen(copy)
    nuke.root()["name"].setValue(original)
    source = nuke.toNode(source_name)
    if source is None:
        raise RuntimeError("no node {} in {}".format(source_name, copy))
    group = nuke.toNode(source_name.rpartition(".")[0]) if "." in source_name else nuke.root()
    with group:
        write = nuke.nodes.Write()
    write["file"].setValue(pattern)
    for name, value in WRITE_KNOBS:
        write[name].setValue(value)
    write.setInput(0, source)
    views = nuke.views()[:1]
    count = last - first + 1
    for index, frame in enumerate(range(first, last + 1), 1):
        print("Frame {} ({} of {})".format(frame, index, count))
        sys.stdout.flush()
        nuke.execute(write, frame, frame, 1, views)


def main(argv) -> int:
    copy, original, source_name, pattern, first, last = argv
    try:
        render(copy, original, source_name, pattern, int(first), int(last))
    except Exception as exc:  # noqa: BLE001 - the error goes back to the artist through our output
        print("ERROR: {}".format(exc))
        sys.stdout.flush()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
