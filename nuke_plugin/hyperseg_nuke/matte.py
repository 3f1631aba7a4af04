"""The node's output. The matte the node shows lives in its hidden top-level knobs matte_file,
matte_first, matte_last and has_matte; the inner nodes read them by expression (so the matte
survives save, reopen, copy/paste and a `nuke -x` render of the comp, which all rebuild the
inner nodes from the .gizmo):

    MatteRead       file "[value parent.matte_file]", first/last {{parent.matte_first/last}}
    MatteCopy1..6   candidate m's channel -> rgba.alpha of the Source, disable {{!parent.has_matte}}
    CandidateSwitch which {{parent.candidate}} (the menu's index)
    ObjectLayers    Copy `channels all` from the MatteRead onto the Source, before the
                    candidate copies, disable {{!parent.object_layers}}: a matte of several
                    objects puts each object's layer <name>.alpha in the stream (its `A` is
                    their union, the node's alpha)

The matte EXR layout (hyperseg_vfx/io/exr.py): `A` (the alpha), and every candidate in layers
of at most four channels, as Nuke needs (Foundry: "Never use more than four channels per
layer"): hyperseg.c1..c4, hyperseg2.c5..c8, ... Main thread only."""

READ = "MatteRead"
SWITCH = "CandidateSwitch"
#: The Copy node putting every layer of a matte of several objects into the stream.
LAYERS = "ObjectLayers"
#: The Copy node of candidate m is COPY + str(m).
COPY = "MatteCopy"
#: Channels per layer in the matte files.
LAYER_SIZE = 4


def candidate_channel(candidate: int) -> str:
    """The Nuke channel of candidate m: the alpha for the first (equal to hyperseg.c1), else
    hyperseg.cM for M <= 4, hyperseg2.cM for 5..8 and so on."""
    if candidate == 1:
        return "rgba.alpha"
    layer = (candidate - 1) // LAYER_SIZE + 1
    return "hyperseg{}.c{}".format("" if layer == 1 else layer, candidate)


def show_matte(node, pattern: str, first: int, last: int, several: bool = False) -> None:
    """Show the matte sequence `pattern` over first..last (top-level knobs), reloading the
    inner Read so that new pixels under the same file name appear. several: a matte of several
    objects, whose layers go into the stream too."""
    node["object_layers"].setValue(bool(several))
    node["matte_file"].setValue(pattern.replace("\\", "/"))
    node["matte_first"].setValue(int(first))
    node["matte_last"].setValue(int(last))
    node["has_matte"].setValue(True)
    reload(node)


def reload(node) -> None:
    """Reload the inner Read: it reads the matte files again (Nuke keeps the frames a Read has
    read, black ones of missing files too, until its reload button)."""
    node.node(READ)["reload"].execute()
