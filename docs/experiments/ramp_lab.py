# Issue 23 ramp lab (session 14): the projection's soft edge grown across wide motion-blur ramps;
# screened on the edge stage's recorded inputs; see docs/notes/issue23-projection.md.
"""Score "grow" variants of the shipped projection on recorded edge-stage inputs.

    PYTHONPATH=.:docs/experiments python docs/experiments/ramp_lab.py DIR VARIANT...

Variants: projection (shipped), grow_S (after the zone's projection, the alpha is grown outwards
S px at most, one chessboard step at a time: each new pixel takes the F and B of its neighbour
that was solved last, and is kept only while the alpha keeps falling away from the cut outside it
or rising inside it and its source lay strictly inside (LO, HI)); growz_S: the same, S times
the zone's width.
"""
import sys

import numpy as np
from scipy import ndimage

import projection_lab  # noqa: F401  (registers the shipped "projection" variant)
from edge_lab import E, VARIANTS, run
from hyperseg_vfx.srgb import srgb_to_linear

LO, HI = 0.05, 0.95
SHIPPED_PROJECT, NEAREST_MEAN = E._project_edge, E._nearest_mean


def project_and_grow(result, band, plate, zone_width, steps):
    """The shipped _project_edge, then the growth: the zone's F and B are caught from its
    _nearest_mean calls (the points are the zone pixels, in its box's coordinates)."""
    caught = []

    def catching(local_plate, samples, points):
        mean = NEAREST_MEAN(local_plate, samples, points)
        caught.append((points, mean))
        return mean

    box = E.padded_box(band, 3 * zone_width + E._PROJECTION_RING + 1)
    inside = result[box] > 0.5  # the cut's labels, before the projection changes them
    E._nearest_mean = catching
    try:
        SHIPPED_PROJECT(result, band, plate, zone_width)
    finally:
        E._nearest_mean = NEAREST_MEAN
    if len(caught) < 2 or caught[0][1] is None or caught[1][1] is None:
        return
    (points, fg_table), (_, bg_table) = caught
    local, local_band, local_plate = result[box], band[box], plate[box]
    rows, cols = points[:, 0], points[:, 1]
    solved = np.zeros(inside.shape, bool)
    solved[rows, cols] = True
    source = np.full(inside.shape, -1, np.int64)
    source[rows, cols] = np.arange(rows.size)
    value = np.full(inside.shape, np.nan)
    value[rows, cols] = local[rows, cols]
    frontier = solved & (value > LO) & (value < HI)
    for _ in range(steps):
        candidates = E.chessboard_dilation(frontier, 1) & ~solved & local_band
        if not candidates.any():
            break
        # each candidate's source: its nearest frontier pixel
        _, (ir, ic) = ndimage.distance_transform_edt(~frontier, return_indices=True)
        cr, cc = np.nonzero(candidates)
        sr, sc = ir[cr, cc], ic[cr, cc]
        k = source[sr, sc]
        a = E._mix_alpha(srgb_to_linear(local_plate[cr, cc].astype(np.float64)), fg_table[k], bg_table[k],
                         inside[cr, cc])
        prev = value[sr, sc]
        monotone = np.where(inside[cr, cc], a >= prev - 1e-6, a <= prev + 1e-6)
        cr, cc, a, k = cr[monotone], cc[monotone], a[monotone], k[monotone]
        local[cr, cc], value[cr, cc], source[cr, cc], solved[cr, cc] = a, a, k, True
        frontier = np.zeros_like(frontier)
        frontier[cr, cc] = (a > LO) & (a < HI)


def grow_variant(steps, scale=False):
    def patched(result, band, plate, zone_width):
        s = steps * zone_width if scale else steps
        return project_and_grow(result, band, plate, zone_width, s)

    def variant(d):
        old = E._project_edge
        E._project_edge = patched
        try:
            return VARIANTS["projection"](d)
        finally:
            E._project_edge = old
    return variant


for _s in (2, 4, 8):
    VARIANTS[f"grow_{_s}"] = grow_variant(_s)
for _s in (1, 2, 3):
    VARIANTS[f"growz_{_s}"] = grow_variant(_s, scale=True)

if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2:])
