# Issue 23 lab (session 14): the projection below 2x the working size; see docs/notes/issue23-projection.md.
"""`hyperseg-vfx` with edge_methods.PROJECTION_MIN_FACTOR patched.

    python docs/experiments/projection_min_factor.py MIN evaluate --data clips:DIR --methods hyperseg --edges model --report R
"""
import sys

import hyperseg_vfx.edge_methods as methods
import hyperseg_vfx.modeling.edges as edges
from hyperseg_vfx.cli import main

edges.PROJECTION_MIN_FACTOR = methods.PROJECTION_MIN_FACTOR = float(sys.argv[1])
sys.argv = ["hyperseg-vfx"] + sys.argv[2:]
main()
