"""DOS click simulation: margins, spacing, counts, strategies, presets, determinism."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import ndimage

from hyperseg_vfx.config import ConfigError
from hyperseg_vfx.training.dos import PRESETS, DosConfig, click_masks, dos_config, sample_clicks


def _mask() -> np.ndarray:
    mask = np.zeros((80, 100), dtype=bool)
    mask[20:60, 30:75] = True
    return mask


def _pixels(clicks, positive):
    return [(int(c.y), int(c.x)) for c in clicks if c.positive == positive]


def _spacing_ok(points, step):
    return all(np.hypot(a[0] - b[0], a[1] - b[1]) > step for a, b in itertools.combinations(points, 2))


@pytest.mark.parametrize("seed", range(6))
def test_strategy_1_respects_margins_band_spacing_and_counts(seed):
    config = DosConfig(positive=(1, 15), negative=(1, 15), margin=5, step=10, band=30, strategies=(1,))
    mask = _mask()
    clicks = sample_clicks(mask, np.random.default_rng(seed), config)
    inside, outside = ndimage.distance_transform_edt(mask), ndimage.distance_transform_edt(~mask)
    positives, negatives = _pixels(clicks, True), _pixels(clicks, False)
    assert 1 <= len(positives) <= 15 and 1 <= len(negatives) <= 15
    assert all(inside[p] > 5 for p in positives)
    assert all(5 < outside[p] < 30 for p in negatives)
    assert _spacing_ok(positives, 10) and _spacing_ok(negatives, 10)
    assert all(c.x % 1 == 0.5 and c.y % 1 == 0.5 for c in clicks)  # pixel centres


def test_counts_cover_their_range_and_stop_when_there_is_no_room():
    config = DosConfig(positive=(1, 3), negative=(2, 2), margin=0, step=0, strategies=(1,))
    counts = {len(_pixels(sample_clicks(_mask(), np.random.default_rng(s), config), True)) for s in range(40)}
    assert counts == {1, 2, 3}
    thin = np.zeros((30, 30), dtype=bool)
    thin[10:14, 5:25] = True  # 4 px thick: nothing lies more than 5 px inside
    clicks = sample_clicks(thin, np.random.default_rng(0), DosConfig(strategies=(1,)))
    assert _pixels(clicks, True) == []
    assert len(_pixels(clicks, False)) >= 1


def test_strategy_2_clicks_inside_the_other_objects():
    mask, others = _mask(), np.zeros((80, 100), dtype=bool)
    others[2:18, 2:28] = True
    clicks = sample_clicks(mask, np.random.default_rng(3), DosConfig(margin=2, step=4, strategies=(2,)), others)
    negatives = _pixels(clicks, False)
    assert negatives and all(ndimage.distance_transform_edt(others)[p] > 2 for p in negatives)


def test_strategy_2_is_skipped_without_other_objects():
    clicks = sample_clicks(_mask(), np.random.default_rng(1), DosConfig(strategies=(1, 2)))
    negatives = _pixels(clicks, False)
    assert negatives and not any(_mask()[p] for p in negatives)  # strategy 1 ran instead


def test_strategy_3_spreads_clicks_greedily_in_the_border_band():
    config = DosConfig(band_negative=(6, 6), border=20, strategies=(3,))
    mask = _mask()
    clicks = sample_clicks(mask, np.random.default_rng(2), config)
    negatives = _pixels(clicks, False)
    outside = ndimage.distance_transform_edt(~mask)
    assert len(negatives) == 6
    assert all(0 < outside[p] < 20 for p in negatives)
    # greedy: each click after the first is at the pixel farthest from the object, the far
    # background and the earlier clicks: mid-band, and as far apart as the band's half width
    assert all(abs(outside[p] - 10) <= 1.5 for p in negatives[1:])
    assert _spacing_ok(negatives, 9.5)


def test_same_seed_same_clicks_other_seed_other_clicks():
    draw = lambda seed: sample_clicks(_mask(), np.random.default_rng(seed), PRESETS["paper"])  # noqa: E731
    assert draw(7) == draw(7)
    assert draw(7) != draw(8)


def test_presets_and_overrides():
    assert (PRESETS["paper"].positive, PRESETS["paper"].negative, PRESETS["paper"].band) == ((1, 15), (1, 15), 40.0)
    intseg = PRESETS["intseg"]
    assert (intseg.positive, intseg.negative, intseg.band_negative, intseg.band) == ((1, 10), (1, 15), (15, 15), 0.0)
    assert (intseg.margin, intseg.step) == (5.0, 10.0)
    config = dos_config({"preset": "intseg", "margin": 3})
    assert config.margin == 3.0 and config.positive == (1, 10)
    assert dos_config(None) == PRESETS["paper"]
    with pytest.raises(ConfigError, match="preset"):
        dos_config({"preset": "nope"})
    with pytest.raises(ConfigError, match="clicks.spacing"):
        dos_config({"spacing": 3})
    with pytest.raises(ConfigError, match="positive"):
        dos_config({"positive": [5, 2]})


def test_click_masks_mark_the_clicked_pixels():
    clicks = sample_clicks(_mask(), np.random.default_rng(0), PRESETS["paper"])
    masks = click_masks(clicks, 80, 100)
    assert masks.shape == (2, 80, 100)
    assert masks[0].sum() == len(_pixels(clicks, True)) and masks[1].sum() == len(_pixels(clicks, False))
    assert all(masks[0][p] for p in _pixels(clicks, True))
