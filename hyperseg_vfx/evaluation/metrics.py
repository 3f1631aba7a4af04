"""Segmentation metrics: pure functions of boolean masks and of per-click IoU arrays.

Masks are (H, W) arrays, true inside the object (anything else is converted with `!= 0`).
`void` is an optional (H, W) bool array of pixels that count for nothing (DAVIS 255): they are
left out of every intersection and union. Every IoU is 1.0 when its union is empty (both sides
empty), as DAVIS's J.

Per-click arrays: `ious[..., k]` is the IoU after click k + 1 (one row per sample), the form
the evaluation harness saves, so NoC and mIoU@k are derived from saved numbers only.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

_SQUARE = np.ones((3, 3), dtype=bool)


def _masked_iou(a: np.ndarray, b: np.ndarray, void: np.ndarray | None) -> float:
    """IoU of two bool masks outside `void`; 1.0 for an empty union."""
    if void is not None:
        keep = ~np.asarray(void, dtype=bool)
        a, b = a & keep, b & keep
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


def _bool(mask: np.ndarray) -> np.ndarray:
    return np.asarray(mask) != 0


def iou(pred: np.ndarray, truth: np.ndarray, void: np.ndarray | None = None) -> float:
    """Intersection over union of two (H, W) masks, void pixels excluded (the paper's IOU)."""
    return _masked_iou(_bool(pred), _bool(truth), void)


def inner_boundary(mask: np.ndarray, width: int) -> np.ndarray:
    """(H, W) bool: the pixels of `mask` within `width` px (chessboard distance) of its outside.

    The mask is eroded `width` times by a 3x3 square with everything beyond the frame counted
    as outside, so an object cut by the frame edge has a boundary there too (as in Cheng et
    al.'s reference code, which pads with zeros before eroding). width >= 1.
    """
    mask = _bool(mask)
    return mask & ~ndimage.binary_erosion(mask, _SQUARE, iterations=width, border_value=0)


def boundary_iou_1px(pred: np.ndarray, truth: np.ndarray, void: np.ndarray | None = None) -> float:
    """The paper's mBIOU term for one mask pair: IoU of the 1-pixel-dilated boundary contours.

    Contour = mask XOR (mask eroded once by a 3x3 square), i.e. the 1-px inner boundary,
    frame edge included (see `inner_boundary`); each contour is then dilated by 1 px (3x3
    square) and the IoU of the two dilated contours is taken, void pixels excluded.
    """
    contours = (ndimage.binary_dilation(inner_boundary(m, 1), _SQUARE) for m in (pred, truth))
    return _masked_iou(*contours, void)


def boundary_width(height: int, width: int, dilation_ratio: float) -> int:
    """Cheng et al.'s band width d = round(ratio * image diagonal), at least 1 px."""
    return max(1, int(round(dilation_ratio * float(np.hypot(height, width)))))


def boundary_iou(
    pred: np.ndarray, truth: np.ndarray, dilation_ratio: float = 0.02, void: np.ndarray | None = None
) -> float:
    """Boundary IoU (Cheng et al., CVPR 2021): IoU of the inner boundary bands of width
    d = `boundary_width(H, W, dilation_ratio)` of both masks (bands = G_d ∩ G and P_d ∩ P),
    void pixels excluded. 1.0 when both bands are empty (both masks empty)."""
    d = boundary_width(*np.shape(truth), dilation_ratio)
    return _masked_iou(inner_boundary(pred, d), inner_boundary(truth, d), void)


def noc(ious: np.ndarray, threshold: float, max_clicks: int = 20) -> np.ndarray:
    """Number of clicks to reach IoU >= `threshold` (RITM's NoC), per sample.

    ious: (..., K) per-click IoUs. Only the first `max_clicks` clicks count; a sample that never
    reaches the threshold scores `max_clicks`. Returns an int array of shape (...,).
    """
    reached = np.asarray(ious, dtype=np.float64)[..., :max_clicks] >= threshold
    return np.where(reached.any(axis=-1), reached.argmax(axis=-1) + 1, max_clicks)


def miou_at_k(ious: np.ndarray) -> np.ndarray:
    """(N, K) per-click IoUs of N samples -> (K,): entry k - 1 is the mean IoU after k clicks."""
    return np.asarray(ious, dtype=np.float64).mean(axis=0)


#: Rhemann et al.'s gradient error uses first-order Gaussian derivative filters of this sigma.
GRADIENT_SIGMA = 1.4


def matting_band(truth_alpha: np.ndarray, width: int) -> np.ndarray:
    """(H, W) bool: where matting errors are measured. The truth's soft pixels (0 < alpha < 1)
    and every pixel within `width` px (chessboard) of its 0.5 contour, on both sides: the
    region a trimap's unknown band covers in Rhemann et al.'s benchmark."""
    alpha = np.asarray(truth_alpha, dtype=np.float64)
    inside = alpha > 0.5
    # the contour between inside and outside pixels only: the frame's edge is no matte edge here
    contour = inside ^ ndimage.binary_erosion(inside, _SQUARE, border_value=1)
    contour |= ~inside ^ ndimage.binary_erosion(~inside, _SQUARE, border_value=1)
    near = ndimage.binary_dilation(contour, _SQUARE, iterations=max(1, width))
    return near | ((alpha > 0) & (alpha < 1))


def matting_errors(pred_alpha: np.ndarray, truth_alpha: np.ndarray, band: np.ndarray) -> dict[str, float]:
    """Rhemann et al. (CVPR 2009, alphamatting.com) errors of a soft matte inside `band`:

    sad: sum |alpha - truth| / 1000; mse: mean (alpha - truth)^2; gradient: sum over the band of
    (|grad alpha| - |grad truth|)^2 / 1000, gradients by first-order Gaussian derivative filters
    (sigma 1.4) over the whole frame. Alphas in [0, 1]; 0 for an empty band.
    """
    pred = np.asarray(pred_alpha, dtype=np.float64)
    truth = np.asarray(truth_alpha, dtype=np.float64)
    band = np.asarray(band, dtype=bool)
    if not band.any():
        return {"sad": 0.0, "mse": 0.0, "gradient": 0.0}
    difference = (pred - truth)[band]
    magnitude = (ndimage.gaussian_gradient_magnitude(a, GRADIENT_SIGMA) for a in (pred, truth))
    gradient = np.subtract(*magnitude)[band]
    return {"sad": float(np.abs(difference).sum() / 1000), "mse": float(np.mean(difference**2)),
            "gradient": float(np.sum(gradient**2) / 1000)}
