"""Random Walk and Graph Cut baselines on frames the tests draw."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from hyperseg_vfx.clicks import Click
from hyperseg_vfx.evaluation.baselines import BACKGROUND, FOREGROUND, GraphCut, RandomWalk, click_disks
from hyperseg_vfx.evaluation.metrics import iou


def easy_frame(size: int = 96, seed: int = 0):
    """An orange ellipse on a blue background with sensor noise: (sample with .rgb, truth)."""
    rows, cols = np.mgrid[0:size, 0:size] + 0.5
    truth = ((cols - 0.55 * size) / (0.3 * size)) ** 2 + ((rows - 0.45 * size) / (0.22 * size)) ** 2 <= 1
    rgb = np.where(truth[..., None], [0.9, 0.55, 0.2], [0.2, 0.3, 0.75])
    rgb = rgb + np.random.default_rng(seed).normal(0, 0.04, rgb.shape)
    return SimpleNamespace(rgb=np.clip(rgb, 0, 1).astype(np.float32)), truth


CLICKS = [Click(52.8, 43.2, True), Click(8.5, 88.5, False), Click(90.5, 6.5, False)]


@pytest.mark.parametrize("method", [RandomWalk(), GraphCut()], ids=lambda m: m.kind)
def test_baseline_segments_an_easy_frame(method):
    sample, truth = easy_frame()
    prob = method.predict(sample, CLICKS)
    assert prob.shape == truth.shape and prob.dtype == np.float32
    assert 0.0 <= prob.min() and prob.max() <= 1.0
    assert iou(prob > 0.5, truth) > 0.8
    assert np.array_equal(method.predict(sample, CLICKS), prob)  # deterministic


@pytest.mark.parametrize("method", [RandomWalk(), GraphCut()], ids=lambda m: m.kind)
def test_baseline_honours_click_seeds(method):
    # A negative click inside the object and a positive one in the background: hard seeds win
    # over colour, so both clicked pixels get their click's label.
    sample, truth = easy_frame()
    clicks = CLICKS + [Click(40.5, 40.5, False), Click(80.5, 80.5, True)]
    pred = method.predict(sample, clicks) > 0.5
    assert not pred[40, 40] and pred[80, 80]


def test_random_walk_with_one_label_answers_that_label_everywhere():
    sample, _ = easy_frame()
    assert RandomWalk().predict(sample, CLICKS[:1]).min() == 1.0
    assert RandomWalk().predict(sample, CLICKS[1:]).max() == 0.0


def test_graph_cut_with_positive_clicks_only_uses_the_frame_as_background_model():
    sample, truth = easy_frame()
    assert iou(GraphCut().predict(sample, CLICKS[:1]) > 0.5, truth) > 0.8


def test_click_disks_draw_later_clicks_over_earlier_and_keep_every_clicked_pixel():
    clicks = [Click(5.5, 5.5, True), Click(7.5, 5.5, False), Click(6.5, 5.5, True)]
    labels = click_disks(clicks, (12, 12), radius=2.0)
    assert labels[5, 7] == BACKGROUND  # clicked pixel of the negative click
    assert labels[5, 5] == FOREGROUND and labels[5, 6] == FOREGROUND
    assert labels[5, 8] == FOREGROUND  # inside the last disk only (1.5 px from its centre)
    assert labels[5, 9] == BACKGROUND  # inside the negative disk only
    assert labels[0, 0] == 0
    assert np.count_nonzero(click_disks([Click(3.2, 3.9, True)], (8, 8), radius=0.1)) == 1


def test_describe_names_the_kind_and_settings():
    assert RandomWalk().describe() == {"kind": "random_walk", "beta": 130.0, "seed_radius": 3.0, "mode": "bf", "tol": 1e-3}
    assert GraphCut(smoothness=10.0).describe()["smoothness"] == 10.0
