# Issue 23 projection lab (session 12): soft edges by the compositing equation, screened on the
# edge stage's recorded inputs; see docs/notes/issue23-projection.md.
"""Score soft-edge variants on recorded edge-stage inputs (edge_lab_dump.py writes them).

    PYTHONPATH=.:docs/experiments python docs/experiments/projection_lab.py DIR VARIANT...

Variants: posterior (session 10's shipped stage: grabcut twice, posterior soft edge), projection
(the package's soft_edge "projection", both passes), projection_srgb (the same solved on sRGB code
values instead of linear light), projection_last (posterior on the first pass, projection on the
second), projection_k4 (4 neighbours instead of 8), and l1_zZ_gG_kK: the first lab version, a
city-block zone of Z px, colour samples beyond a gap of G px, K neighbours, on sRGB code values,
no shading guard.
"""
import sys

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

import edge_lab
from edge_lab import E, VARIANTS, gc, run


def passes(d, first: dict, second: dict):
    return gc(dict(d, alpha=gc(d, method="grabcut", **first)), method="grabcut", **second)


PROJECTION = dict(soft_edge="projection", projection_zone=0.25)
VARIANTS["posterior"] = lambda d: passes(d, {}, {})
VARIANTS["projection"] = lambda d: passes(d, PROJECTION, PROJECTION)
VARIANTS["projection_last"] = lambda d: passes(d, {}, PROJECTION)


def patched(name, value, variant):
    def run_patched(d):
        old = getattr(E, name)
        setattr(E, name, value)
        try:
            return VARIANTS[variant](d)
        finally:
            setattr(E, name, old)
    return run_patched


VARIANTS["projection_srgb"] = patched("srgb_to_linear", lambda values: values, "projection")
VARIANTS["projection_k4"] = patched("_PROJECTION_NEIGHBOURS", 4, "projection")


def l1_projection(hard, plate, zone, gap, neighbours, ring=3):
    """The first lab version: zone, gap and ring by city-block dilation, sRGB code values."""
    inside = hard > 0.5
    edge = (inside ^ ndimage.binary_erosion(inside, border_value=1)) | (~inside ^ ndimage.binary_erosion(~inside, border_value=1))
    zone_mask = ndimage.binary_dilation(edge, iterations=zone)
    excluded = ndimage.binary_dilation(zone_mask, iterations=gap)
    outer = ndimage.binary_dilation(excluded, iterations=ring) & ~excluded
    rows, cols = np.nonzero(zone_mask)
    means = []
    for side in (outer & inside, outer & ~inside):
        r, c = np.nonzero(side)
        if r.size < neighbours:
            return hard
        _, nearest = cKDTree(np.column_stack([r, c])).query(np.column_stack([rows, cols]), k=neighbours)
        means.append(plate[r[nearest], c[nearest]].mean(axis=1))
    fg, bg = means
    diff = fg - bg
    sep = (diff * diff).sum(-1)
    alpha = np.clip(((plate[rows, cols] - bg) * diff).sum(-1) / np.maximum(sep, 1e-12), 0, 1)
    out = hard.copy()
    ok = sep > 0.02**2
    out[rows[ok], cols[ok]] = alpha[ok]
    return out


def l1_variant(zone, gap, neighbours):
    def variant(d):
        a = d["alpha"]
        for _ in range(2):
            a = l1_projection(gc(dict(d, alpha=a), method="grabcut", soft_width=0.0), d["rgb"], zone, gap, neighbours)
            positive, negative = E.click_disks(a.shape, d["clicks"], d["factor"])
            a[positive], a[negative] = 1, 0
        return a
    return variant


for _zone, _gap, _k in ((2, 2, 8), (2, 4, 8), (2, 4, 16), (3, 3, 8), (4, 8, 16)):
    VARIANTS[f"l1_z{_zone}_g{_gap}_k{_k}"] = l1_variant(_zone, _gap, _k)

if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2:])
