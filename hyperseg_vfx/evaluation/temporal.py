"""Video metrics: DAVIS region J and contour F, and temporal stability (flicker, dtSSD).

J and F follow davisvideochallenge/davis2017-evaluation (davis2017/metrics.py):

- J (db_eval_iou) is the IoU of prediction and truth outside the void pixels, 1 for an empty
  union: metrics.iou, the same definition.
- F (f_measure) compares 1-px boundary maps (_seg2bmap: a pixel is on the boundary when it differs
  from its right, lower or lower-right neighbour; the last row and column compare along the edge
  only). Each map is dilated by a disc of radius ceil(0.008 * image diagonal) px; precision = the
  predicted boundary pixels within the dilated true boundary / all predicted boundary pixels,
  recall likewise the other way; F = 2PR / (P + R). Void pixels are removed from both masks
  first. Empty boundaries: none on either side gives P = R = 1; only the truth's gives P = 1,
  R = 0; only the prediction's P = 0, R = 1.

Temporal stability over a clip's frames t = 1..T-1, with alpha the soft matte in [0, 1]:

- flicker: mean |alpha_t - alpha_{t-1}| over the pixels whose truth did not change between t-1
  and t (a change there is the matte's, not the object's);
- dtSSD (Erofeev et al., 2015, as Robust Video Matting's evaluation computes it):
  sqrt(mean_p ((alpha_t - alpha_{t-1}) - (g_t - g_{t-1}))^2) per frame pair, g the truth.
Both are averaged over the T-1 frame pairs (RVM also averages a 0 for the first frame; we do not).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .metrics import iou

#: DAVIS's boundary match tolerance, as a fraction of the image diagonal.
DAVIS_BOUND_TH = 0.008


def region_j(pred: np.ndarray, truth: np.ndarray, void: np.ndarray | None = None) -> float:
    """DAVIS J: IoU outside void, 1 when both are empty."""
    return iou(pred, truth, void)


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool 1-px boundary of a mask, as DAVIS's _seg2bmap at full size."""
    seg = np.asarray(mask) != 0
    east, south, south_east = (np.zeros_like(seg) for _ in range(3))
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    boundary = (seg ^ east) | (seg ^ south) | (seg ^ south_east)
    boundary[-1, :] = seg[-1, :] ^ east[-1, :]
    boundary[:, -1] = seg[:, -1] ^ south[:, -1]
    boundary[-1, -1] = False
    return boundary


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    import cv2
    from skimage.morphology import disk

    return cv2.dilate(mask.astype(np.uint8), disk(radius).astype(np.uint8)) > 0


def contour_f(pred: np.ndarray, truth: np.ndarray, void: np.ndarray | None = None,
              bound_th: float = DAVIS_BOUND_TH) -> float:
    """DAVIS F: the boundary F-measure of `pred` against `truth` (see the module docstring)."""
    pred, truth = np.asarray(pred) != 0, np.asarray(truth) != 0
    if void is not None:
        keep = ~np.asarray(void, dtype=bool)
        pred, truth = pred & keep, truth & keep
    radius = int(bound_th if bound_th >= 1 else math.ceil(bound_th * math.hypot(*truth.shape)))
    pred_boundary, truth_boundary = boundary_map(pred), boundary_map(truth)
    n_pred, n_truth = int(pred_boundary.sum()), int(truth_boundary.sum())
    if n_pred == 0 or n_truth == 0:
        precision, recall = (1.0, 0.0) if n_truth else ((0.0, 1.0) if n_pred else (1.0, 1.0))
    else:
        precision = np.count_nonzero(pred_boundary & _dilate(truth_boundary, radius)) / n_pred
        recall = np.count_nonzero(truth_boundary & _dilate(pred_boundary, radius)) / n_truth
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def flicker(alphas: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> float:
    """Mean |alpha_t - alpha_{t-1}| over pixels whose truth did not change, averaged over frame
    pairs; 0.0 for fewer than two frames. alphas: (H, W) float in [0, 1]; truths: (H, W) bool."""
    values = []
    for t in range(1, len(alphas)):
        still = (np.asarray(truths[t]) != 0) == (np.asarray(truths[t - 1]) != 0)
        change = np.abs(np.asarray(alphas[t], np.float64) - np.asarray(alphas[t - 1], np.float64))
        values.append(float(change[still].mean()) if still.any() else 0.0)
    return float(np.mean(values)) if values else 0.0


def dtssd(alphas: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> float:
    """dtSSD averaged over frame pairs (see the module docstring); 0.0 for fewer than two frames.
    truths: (H, W) in [0, 1] (a bool mask counts as 0/1)."""
    values = []
    for t in range(1, len(alphas)):
        d_pred = np.asarray(alphas[t], np.float64) - np.asarray(alphas[t - 1], np.float64)
        d_true = np.asarray(truths[t], np.float64) - np.asarray(truths[t - 1], np.float64)
        values.append(math.sqrt(float(np.mean((d_pred - d_true) ** 2))))
    return float(np.mean(values)) if values else 0.0
