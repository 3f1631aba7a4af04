"""Names and limits of the edge stage's settings (modeling/edges.py), in a module that imports
nothing, so that the CLI can offer them as choices without loading the model code at start-up."""

#: EdgesConfig.method: the matte as the network gives it, a graph cut by the network's
#: probability, a graph cut by colour models learned around the edge, or that cut followed by
#: the model's learned band refiner (modeling/band_refiner.py).
EDGE_METHODS = ("none", "graphcut", "grabcut", "learned")
#: options.edges of a shot, `--edges` of evaluate and bench: the model config's own choice
#: ("model") or one of EDGE_METHODS.
EDGES = ("model", *EDGE_METHODS)
#: Most runs of grabcut one model config may ask for (edges.grabcut_passes): each costs one band stage.
MAX_EDGE_PASSES = 4
#: Bounds of the learned refiner: channels per layer (its cost per band pixel grows with the
#: square) and its band's half-width in plate px (its cost grows with the band).
MAX_REFINER_WIDTH = 64
MAX_REFINER_BAND = 32.0
#: The learned refiner runs on plates at least this many times their working size: it learns the
#: edges that guided upsampling brings up (trained on 3.75x to 15x). On a plate near its working
#: size "learned" is grabcut: there the refiner lowered mBIOU by 0.05 (192x144 dev cells).
REFINER_MIN_FACTOR = 2.0
#: EdgesConfig.soft_edge: how grabcut gives alpha near its cut's edge. "posterior": the colour
#: models' posterior within soft_width px; "projection": each pixel's colour as a mix of the
#: nearest object and background colours beyond a zone (modeling/edges.py, _project_edge).
SOFT_EDGES = ("posterior", "projection")
#: "projection" runs on plates at least this many times their working size; nearer the working
#: size its zone is the object's own detail and it lowered 192x144 mIOU by 0.04-0.07 (dev states,
#: docs/notes/issue23-projection.md); there the soft edge is "posterior".
PROJECTION_MIN_FACTOR = 2.0
#: Most working px the projection zone may be (edges.projection_zone): its cost grows with it.
MAX_PROJECTION_ZONE = 2.0
