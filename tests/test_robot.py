"""The next-click robot and the two protocols on hand-made masks."""

from __future__ import annotations

import numpy as np

from hyperseg_vfx.clicks import Click
from hyperseg_vfx.evaluation.robot import FIXED, ROBOT, Clicker, next_click


def box(shape: tuple[int, int], rows: slice, cols: slice) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[rows, cols] = True
    return mask


def test_first_click_is_positive_at_the_deepest_point_of_the_object():
    truth = box((16, 24), slice(3, 12), slice(5, 14))  # 9x9: centre pixel (row 7, col 9)
    clicker = Clicker(truth, None, FIXED)
    assert clicker.click(np.zeros_like(truth)) == Click(9.5, 7.5, True)


def test_later_click_goes_to_the_largest_error_with_its_label():
    truth = box((32, 32), slice(2, 30), slice(2, 16))
    pred = truth.copy()
    pred[4:7, 4:7] = False                # 3x3 false negative (depth 2)
    pred[10:19, 20:29] = True             # 9x9 false positive (depth 5), centre (14, 24)
    assert next_click(pred, truth) == Click(24.5, 14.5, False)
    pred[10:19, 20:29] = False
    assert next_click(pred, truth) == Click(5.5, 5.5, True)


def test_frame_border_counts_as_an_edge_of_an_error():
    truth = box((20, 20), slice(8, 15), slice(6, 13))   # 7x7 object
    pred = box((20, 20), slice(0, 5), slice(0, 20))     # 5-row false positive along the top edge
    # Padded, the strip is 3 px deep at most (row 2) and the missed 7x7 object 4 px deep
    # (centre row 11, col 9); unpadded, the strip would be 5 px deep at row 0 and win.
    assert next_click(pred, truth) == Click(9.5, 11.5, True)


def test_void_errors_are_never_clicked():
    truth = box((20, 20), slice(2, 18), slice(2, 10))
    void = box((20, 20), slice(0, 20), slice(0, 10))    # the whole missed object is void
    pred = box((20, 20), slice(5, 8), slice(14, 17))    # a 3x3 false positive outside the void
    assert next_click(pred, truth, void) == Click(15.5, 6.5, False)
    assert next_click(np.zeros_like(truth), truth, void) is None


def test_the_robot_never_clicks_a_pixel_twice():
    truth = box((12, 12), slice(2, 10), slice(2, 10))
    clicker = Clicker(truth, None, ROBOT)
    empty = np.zeros_like(truth)
    while clicker.click(empty) is not None:  # the prediction never improves
        pass
    positions = [(c.x, c.y) for c in clicker.clicks]
    assert len(positions) == ROBOT.max_clicks == 20
    assert len(set(positions)) == 20
    assert all(c.positive and truth[int(c.y), int(c.x)] for c in clicker.clicks)


def test_fixed_protocol_caps_each_label_at_five():
    truth = box((40, 40), slice(0, 40), slice(0, 20))
    pred = box((40, 40), slice(0, 40), slice(10, 24))    # misses a 40x10 strip, adds a 40x4 strip
    clicker = Clicker(truth, None, FIXED)
    while clicker.click(pred) is not None:
        pass
    labels = [c.positive for c in clicker.clicks]
    # The missed strip is deeper, so the robot spends the 5 positive clicks first, then
    # clicks the false positives although the false negatives are still deeper.
    assert labels == [True] * 5 + [False] * 5
    assert all(20 <= c.x < 24 for c in clicker.clicks[5:])
    assert clicker.click(pred) is None


def test_the_robot_stops_when_nothing_is_left_to_correct():
    truth = box((10, 10), slice(2, 8), slice(2, 8))
    clicker = Clicker(truth, None, ROBOT)
    assert clicker.click(truth) is None and clicker.clicks == []


def test_the_robot_is_deterministic():
    rng = np.random.default_rng(0)
    truth = rng.random((24, 24)) > 0.5
    pred = rng.random((24, 24)) > 0.5
    runs = []
    for _ in range(2):
        clicker = Clicker(truth, None, ROBOT)
        for _ in range(8):
            clicker.click(pred)
        runs.append(clicker.clicks)
    assert runs[0] == runs[1] and len(runs[0]) == 8
