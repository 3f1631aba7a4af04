"""Names of the tile overlaps (modeling/tessellation.py), in a module that imports nothing, so
that the CLI can offer them as choices without loading the config or model code at start-up."""

#: BackboneConfig.tile_overlap: whole tiles meeting at seams ("none", the paper's and the
#: default), or overlapping crops of the tile extent, each output pixel from the crop whose
#: centre is nearest ("nearest") or blended linearly across the overlap ("blend").
TILE_OVERLAPS = ("none", "nearest", "blend")
