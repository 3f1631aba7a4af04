"""Temporal smoothing of mattes (a shot's `options.temporal_smoothing`): each frame's matte
averaged with its neighbours' mattes, moved onto the frame by the motion measured on the plates,
so that the matte stops chattering from frame to frame where the picture does not change.

For frame t and each neighbour u in {t-1, t+1} whose plate exists, per candidate plane:

    moved_u = frame u's matte warped into frame t (backward, DIS flow from t to u)
    w_u     = exp(-((moved_u - alpha_t) / AGREEMENT)^2)
    alpha_t' = (alpha_t + sum_u w_u moved_u) / (1 + sum_u w_u)

The weight lets a neighbour count only where its moved matte agrees with frame t's own, so where
the flow is wrong (occlusions, fast motion) or the object really changed, frame t keeps its own
matte. Frame t's result depends only on the raw (unsmoothed) mattes of t-1, t and t+1, never on a
smoothed one: a shot renders the same in one run and in any chunking (render reads the
neighbours' plates as it reads a previous frame). Not in the HyperSeg paper; the same idea as
the "reduce chatter" of compositing tools' roto mattes. Measured in docs/tracking.md.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .motion import FlowEstimator, dis_flow, warp_image

#: Alpha difference at which a moved neighbour's weight falls to 1/e.
AGREEMENT = 0.3


def smooth_candidates(
    candidates: np.ndarray, rgb: np.ndarray, neighbours: Sequence[tuple[np.ndarray, np.ndarray]],
    flow: FlowEstimator = dis_flow,
) -> np.ndarray:
    """candidates (M, H, W) float32 of frame t; rgb (H, W, 3) its plate; neighbours: (candidates_u
    (M, H, W), rgb_u (H, W, 3)) of the frames t-1 and t+1 that exist -> (M, H, W) float32 in [0, 1]."""
    total = candidates.astype(np.float64)
    weights = np.ones_like(total)
    for neighbour, neighbour_rgb in neighbours:
        flow_back = flow(rgb, neighbour_rgb)  # pixel p of frame t lies at p + flow_back[p] in frame u
        for plane in range(candidates.shape[0]):
            moved = warp_image(neighbour[plane], flow_back, outside=None).astype(np.float64)
            weight = np.exp(-np.square((moved - candidates[plane]) / AGREEMENT))
            total[plane] += weight * moved
            weights[plane] += weight
    return np.clip(total / weights, 0.0, 1.0).astype(np.float32)


def smooth_sequence(mattes: Sequence[np.ndarray], rgbs: Sequence[np.ndarray],
                    flow: FlowEstimator = dis_flow) -> list[np.ndarray]:
    """Every matte of a sequence of consecutive frames smoothed with its neighbours in the
    sequence, as render smooths a shot whose plates are exactly these frames. mattes: (H, W) or
    (M, H, W) float32 each; rgbs: (H, W, 3) each."""
    planes = [m[None] if m.ndim == 2 else m for m in mattes]
    smoothed = []
    for t, (matte, rgb) in enumerate(zip(planes, rgbs)):
        neighbours = [(planes[u], rgbs[u]) for u in (t - 1, t + 1) if 0 <= u < len(planes)]
        result = smooth_candidates(matte, rgb, neighbours, flow)
        smoothed.append(result[0] if mattes[t].ndim == 2 else result)
    return smoothed
