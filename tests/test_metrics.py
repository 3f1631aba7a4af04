"""Metrics on hand-made masks with hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from hyperseg_vfx.evaluation.metrics import (
    boundary_iou, boundary_iou_1px, boundary_width, inner_boundary, iou, miou_at_k, noc,
)


def square(size: int, top: int, left: int, side: int) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    mask[top : top + side, left : left + side] = True
    return mask


def test_iou_hand_computed():
    truth = square(10, 2, 2, 4)  # 16 px
    pred = square(10, 2, 4, 4)   # 16 px, overlap 4 x 2 = 8
    assert iou(pred, truth) == pytest.approx(8 / 24)
    assert iou(truth, truth) == 1.0
    assert iou(np.zeros_like(truth), truth) == 0.0


def test_iou_of_two_empty_masks_is_one():
    empty = np.zeros((5, 5), dtype=bool)
    assert iou(empty, empty) == 1.0
    assert boundary_iou_1px(empty, empty) == 1.0
    assert boundary_iou(empty, empty) == 1.0


def test_iou_leaves_void_pixels_out():
    truth = square(10, 2, 2, 4)
    pred = square(10, 2, 4, 4)
    void = np.zeros_like(truth)
    void[:, 6:] = True  # the 8 pred-only pixels (columns 6, 7)
    assert iou(pred, truth, void) == pytest.approx(8 / 16)
    assert iou(pred, truth, np.ones_like(truth)) == 1.0  # everything void: empty union


def test_inner_boundary_is_the_ring_and_the_frame_edge_counts():
    mask = square(8, 1, 1, 4)
    ring = inner_boundary(mask, 1)
    assert ring.sum() == 16 - 4 and not ring[2:4, 2:4].any()
    corner = square(8, 0, 0, 4)  # touches the top and left frame edges
    assert inner_boundary(corner, 1)[0, :4].all() and inner_boundary(corner, 1)[:4, 0].all()
    assert inner_boundary(corner, 1).sum() == 12


def test_boundary_iou_1px_hand_computed():
    # One pixel apart: 3x3 squares at (2,2) and (2,3) in a 9x9 frame. Each contour is the
    # 8-pixel ring; dilated by 1 px it becomes the 5x5 block around the square (centre
    # included): truth rows/cols 1..5, pred rows 1..5, cols 2..6. Intersection 5x4 = 20,
    # union 5x6 = 30.
    truth = square(9, 2, 2, 3)
    pred = square(9, 2, 3, 3)
    assert boundary_iou_1px(pred, truth) == pytest.approx(20 / 30)
    assert boundary_iou_1px(truth, truth) == 1.0


def test_boundary_iou_1px_far_from_perfect_when_iou_is_high():
    truth = square(64, 8, 8, 40)
    pred = square(64, 11, 11, 40)  # shifted by 3 px: IoU 37*37 / (3200 - 1369) ~ 0.75
    assert iou(pred, truth) > 0.7
    assert boundary_iou_1px(pred, truth) < 0.15


def test_boundary_iou_width_follows_the_diagonal():
    assert boundary_width(100, 100, 0.02) == 3  # 0.02 * 141.4 = 2.83
    assert boundary_width(10, 10, 0.02) == 1    # at least 1 px
    assert boundary_width(1080, 1920, 0.02) == 44


def test_boundary_iou_hand_computed():
    # 12x12 frame, ratio so that d = 2 (0.12 * 16.97 = 2.04). Truth: 6x6 at rows/cols 3..8;
    # band = 36 - the 2x2 inner block (rows 5..6, cols 5..6) = 32 px. Pred: 6x6 at rows 3..8,
    # cols 4..9; band = 32 px (inner block rows 5..6, cols 6..7). Both bands, within the common
    # columns 4..8: rows 3, 4, 7, 8 entirely (4 x 5 = 20) and rows 5, 6 at columns 4 and 8
    # (truth's band there is 3, 4, 7, 8, pred's 4, 5, 8, 9): 4. Intersection 24, union
    # 32 + 32 - 24 = 40.
    truth = square(12, 3, 3, 6)
    pred = square(12, 3, 4, 6)
    assert boundary_width(12, 12, 0.12) == 2
    assert boundary_iou(pred, truth, dilation_ratio=0.12) == pytest.approx(24 / 40)
    # Void rows 3..4 take 12 px from each band, 10 of them common: 14 / (20 + 20 - 14).
    void = np.zeros_like(truth)
    void[3:5, :] = True
    assert boundary_iou(pred, truth, dilation_ratio=0.12, void=void) == pytest.approx(14 / 26)


def test_noc_counts_clicks_to_threshold_and_caps_failures():
    ious = np.array([
        [0.5, 0.86, 0.91, 0.95],  # 85 at click 2, 90 at click 3
        [0.9, 0.92, 0.93, 0.95],  # both at click 1
        [0.1, 0.2, 0.3, 0.84],    # never
    ])
    assert noc(ious, 0.85, max_clicks=4).tolist() == [2, 1, 4]
    assert noc(ious, 0.90, max_clicks=4).tolist() == [3, 1, 4]
    assert noc(ious, 0.95, max_clicks=3).tolist() == [3, 3, 3]  # clicks beyond the cap do not count
    assert int(noc(ious[0], 0.85)) == 2
    assert int(noc(ious[2], 0.85)) == 20


def test_miou_at_k_is_the_column_mean():
    ious = np.array([[0.2, 0.4, 0.6], [0.4, 0.8, 1.0]])
    assert miou_at_k(ious) == pytest.approx([0.3, 0.6, 0.8])


def test_matting_errors_against_hand_computations():
    """SAD and MSE of two changed pixels; the gradient error of two ramps (a Gaussian derivative
    filter returns a ramp's slope: sum over the band of (0.03 - 0.01)^2 / 1000) and of a constant
    offset (no gradient error, SAD = offset x pixels / 1000)."""
    from hyperseg_vfx.evaluation.metrics import matting_errors

    truth = np.zeros((6, 6))
    pred = truth.copy()
    pred[2, 3], pred[4, 1] = 0.5, 0.25
    errors = matting_errors(pred, truth, np.ones((6, 6), bool))
    assert errors["sad"] == pytest.approx(0.75 / 1000)
    assert errors["mse"] == pytest.approx((0.25 + 0.0625) / 36)
    columns = np.arange(40, dtype=np.float64)
    truth_ramp, pred_ramp = np.tile(0.01 * columns, (40, 1)), np.tile(0.03 * columns, (40, 1))
    band = np.zeros((40, 40), bool)
    band[10:30, 10:30] = True  # 400 pixels away from the frame's edge
    ramp = matting_errors(pred_ramp, truth_ramp, band)
    assert ramp["gradient"] == pytest.approx(400 * 0.02 ** 2 / 1000, rel=1e-3)
    assert ramp["mse"] == pytest.approx(np.mean((0.02 * columns[10:30]) ** 2))
    offset = matting_errors(truth_ramp + 0.1, truth_ramp, band)
    assert offset["gradient"] == pytest.approx(0, abs=1e-12) and offset["sad"] == pytest.approx(400 * 0.1 / 1000)
    assert matting_errors(pred, truth, np.zeros((6, 6), bool)) == {"sad": 0.0, "mse": 0.0, "gradient": 0.0}


def test_matting_band_covers_the_soft_edge_and_not_the_frame_border():
    """A vertical edge between columns 9 and 10 with one soft column: the band is columns 8-11 for
    width 2 around the contour plus the soft column 14 (a soft pixel far from the contour); the
    frame's own border is no edge."""
    from hyperseg_vfx.evaluation.metrics import matting_band

    alpha = np.zeros((20, 30))
    alpha[:, :10] = 1.0
    alpha[:, 14] = 0.3
    band = matting_band(alpha, 2)
    expected = np.zeros((20, 30), bool)
    expected[:, 7:13] = True  # contour columns 9 and 10, each dilated by 2
    expected[:, 14] = True
    np.testing.assert_array_equal(band, expected)
