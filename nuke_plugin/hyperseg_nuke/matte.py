"""The node's output: its internal Read (`MatteRead`) shows the matte sequence and its Copy
(`MatteCopy`) puts the chosen candidate into rgba.alpha. Main thread only."""

READ = "MatteRead"
COPY = "MatteCopy"


def candidate_channel(candidate: int) -> str:
    """The matte channel of candidate m: the alpha for the first, hyperseg.cM for the others
    (written by the bridge when the options ask for candidates)."""
    return "rgba.alpha" if candidate == 1 else "hyperseg.c{}".format(candidate)


def show_matte(node, pattern: str, first: int, last: int, candidate: int) -> None:
    """Point the Read at the matte sequence over first..last, reload it, copy `candidate`."""
    read = node.node(READ)
    read["file"].setValue(pattern)
    for name, frame in (("first", first), ("origfirst", first), ("last", last), ("origlast", last)):
        read[name].setValue(frame)
    read["reload"].execute()
    node.node(COPY)["from0"].setValue(candidate_channel(candidate))
