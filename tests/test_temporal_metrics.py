"""DAVIS J and F and the temporal metrics against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hyperseg_vfx.evaluation.temporal import boundary_map, contour_f, dtssd, flicker, region_j


def square(size: int, top: int, left: int, side: int) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    mask[top:top + side, left:left + side] = True
    return mask


def test_boundary_map_is_davis_seg2bmap_one_pixel_towards_the_origin():
    expected = np.zeros((5, 5), dtype=bool)
    for row, col in ((0, 0), (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (2, 2)):
        expected[row, col] = True  # worked out by hand: right, lower or lower-right neighbour differs
    assert np.array_equal(boundary_map(square(5, 1, 1, 2)), expected)
    assert boundary_map(square(30, 5, 5, 20)).sum() == 80  # 4 * side, as for the 2 x 2 square's 8


def test_contour_f_hand_computed():
    truth = square(100, 10, 10, 20)  # 80 boundary pixels
    blob = square(100, 70, 70, 5)  # 20 boundary pixels, far beyond the tolerance of ceil(0.008 * 141.4) = 2 px
    # precision 80 / 100, recall 1: F = 2 * 0.8 / 1.8
    assert contour_f(truth | blob, truth) == pytest.approx(2 * 0.8 / 1.8)
    assert contour_f(truth | blob, truth, void=square(100, 65, 65, 15)) == 1.0  # the blob is void
    assert contour_f(square(100, 12, 10, 20), truth) == 1.0  # 2 px off: within the disc of radius 2
    assert contour_f(square(100, 12, 11, 20), truth) < 1.0  # (2, 1) px off: corners are sqrt(5) px from a match
    assert contour_f(square(100, 13, 10, 20), truth) < 1.0  # 3 px off: the top and bottom edges miss
    assert contour_f(square(100, 60, 60, 20), truth) == 0.0
    empty = np.zeros((100, 100), dtype=bool)
    assert contour_f(empty, truth) == 0.0 and contour_f(truth, empty) == 0.0 and contour_f(empty, empty) == 1.0


def test_region_j_is_iou_with_void_and_empty_union():
    truth = square(10, 0, 0, 4)  # 16 px
    pred = square(10, 0, 0, 2) | square(10, 8, 8, 2)  # 4 px inside, 4 outside
    assert region_j(pred, truth) == pytest.approx(4 / 20)
    assert region_j(pred, truth, void=square(10, 8, 8, 2)) == pytest.approx(4 / 16)
    assert region_j(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0


def test_flicker_and_dtssd_hand_computed():
    alphas = [np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[0.5, 0.0], [1.0, 0.2]])]
    truths = [np.array([[0, 0], [1, 1]], bool), np.array([[0, 0], [1, 0]], bool)]
    # the truth changed at (1, 1): flicker over the other three pixels = (0.5 + 0 + 0) / 3
    assert flicker(alphas, truths) == pytest.approx(0.5 / 3)
    # d_pred - d_true = [[0.5, 0], [0, -0.8 + 1]] -> sqrt((0.25 + 0.04) / 4)
    assert dtssd(alphas, truths) == pytest.approx(math.sqrt(0.29 / 4))
    # a third frame equal to the second adds a pair with 0 of both: the means halve
    assert flicker(alphas + alphas[1:], truths + truths[1:]) == pytest.approx(0.5 / 3 / 2)
    assert dtssd(alphas + alphas[1:], truths + truths[1:]) == pytest.approx(math.sqrt(0.29 / 4) / 2)
    assert flicker(alphas[:1], truths[:1]) == 0.0 and dtssd(alphas[:1], truths[:1]) == 0.0
