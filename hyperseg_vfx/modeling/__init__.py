"""The HyperSeg model: backbone, tessellation, Tucker compression, context maps and network."""
