"""hyperseg-vfx: HyperSeg interactive segmentation for VFX shots.

The package is organised the way data flows:
frames -> features (cached per frame) -> network -> mattes -> files.
Heavy dependencies (torch, OpenImageIO) are imported lazily by the modules that need them,
so that `hyperseg-vfx --help` stays fast.
"""

__version__ = "0.1.0"
