"""Names and limits of the edge stage's settings (modeling/edges.py), in a module that imports
nothing, so that the CLI can offer them as choices without loading the model code at start-up."""

#: EdgesConfig.method: the matte as the network gives it, a graph cut by the network's
#: probability, or a graph cut by colour models learned around the edge.
EDGE_METHODS = ("none", "graphcut", "grabcut")
#: options.edges of a shot, `--edges` of evaluate and bench: the model config's own choice
#: ("model") or one of EDGE_METHODS.
EDGES = ("model", *EDGE_METHODS)
#: Most runs of grabcut one model config may ask for (edges.grabcut_passes): each costs one band stage.
MAX_EDGE_PASSES = 4
