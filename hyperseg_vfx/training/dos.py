"""Training clicks: the click simulation of DOS (Xu et al., CVPR 2016), as its open
implementations run it (isl-org/Intseg's genIntSegPairs, the ITIS band).

Positive clicks: n ~ U{positive}; each is drawn uniformly among object pixels more than `margin`
from the background and more than `step` from earlier positive clicks.
Negative clicks, one strategy drawn uniformly per sample among those that apply:
  1. n ~ U{negative} background pixels more than `margin` from the object (and, when `band` > 0,
     less than `band` from it), more than `step` from earlier negative clicks;
  2. (when other objects are labelled) n ~ U{negative} clicks inside the other objects, with the
     positive rule applied to each other object;
  3. n ~ U{band_negative} clicks in the band 0 < distance < `border` around the object: the first
     uniformly, each next one greedily at the pixel farthest from the object, from the background
     beyond the band and from the earlier clicks.
A draw stops early when no pixel satisfies the constraints, so counts never exceed their range
and are smaller only when the mask leaves no room. Distances are Euclidean, in pixels.
Clicks lie at pixel centres.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import ndimage

from ..clicks import Click
from ..config import ConfigError, dataclass_from_dict


@dataclass
class DosConfig:
    """Click counts are inclusive [min, max] ranges; lengths are pixels (see the module docstring)."""

    positive: tuple[int, ...] = (1, 15)
    negative: tuple[int, ...] = (1, 15)
    band_negative: tuple[int, ...] = (1, 15)
    margin: float = 5.0
    step: float = 10.0
    band: float = 40.0
    border: float = 40.0
    strategies: tuple[int, ...] = field(default=(1, 2, 3))

    def validate(self) -> "DosConfig":
        for name in ("positive", "negative", "band_negative"):
            low_high = getattr(self, name)
            if len(low_high) != 2 or not 0 <= low_high[0] <= low_high[1]:
                raise ConfigError(f"clicks.{name}: expected [min, max] with 0 <= min <= max, got {list(low_high)}")
        if not self.strategies or not set(self.strategies) <= {1, 2, 3}:
            raise ConfigError(f"clicks.strategies: expected a non-empty subset of [1, 2, 3], got {list(self.strategies)}")
        if self.margin < 0 or self.step < 0 or self.band < 0 or self.border <= 0:
            raise ConfigError("clicks: margin, step and band must be >= 0, border > 0")
        return self


#: `paper`: the seed's 1-15 positive and 1-15 negative clicks, DOS distances, ITIS band of 40 px.
#: `intseg`: isl-org/Intseg: 1-10 positive, 1-15 negative without an outer limit, 1-10 per other
#: object, 15 greedy band clicks.
PRESETS = {
    "paper": DosConfig(),
    "intseg": DosConfig(positive=(1, 10), negative=(1, 15), band_negative=(15, 15), band=0.0),
}


def dos_config(data: dict[str, Any] | None) -> DosConfig:
    """A DosConfig from a YAML mapping: `preset` (default `paper`) plus fields overriding it."""
    data = dict(data or {})
    preset = data.pop("preset", "paper")
    if preset not in PRESETS:
        raise ConfigError(f"clicks.preset: unknown preset {preset!r} (known: {sorted(PRESETS)})")
    base = PRESETS[preset]
    overrides = dataclass_from_dict(DosConfig, data, "clicks.")
    changed = {k: getattr(overrides, k) for k in data}
    return replace(base, **changed).validate()


def _draw_spaced(candidates: np.ndarray, count: int, spacing: float, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Up to `count` (row, col) drawn uniformly from the True pixels of `candidates`, each more than
    `spacing` from the earlier ones."""
    available = candidates.copy()
    rows, cols = np.indices(available.shape)
    chosen = []
    for _ in range(count):
        flat = np.flatnonzero(available)
        if flat.size == 0:
            break
        row, col = np.unravel_index(flat[rng.integers(flat.size)], available.shape)
        chosen.append((int(row), int(col)))
        available &= (rows - row) ** 2 + (cols - col) ** 2 > spacing**2
    return chosen


def _inside(mask: np.ndarray, margin: float) -> np.ndarray:
    """Pixels of `mask` more than `margin` from its outside."""
    return ndimage.distance_transform_edt(mask) > margin


def _greedy_band(mask: np.ndarray, count: int, border: float, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Strategy 3: the first click uniform in the band, the next ones farthest from the object,
    the outside of the band and the earlier clicks."""
    distance = ndimage.distance_transform_edt(~mask)
    band = (distance > 0) & (distance < border)
    if count == 0 or not band.any():
        return []
    first = _draw_spaced(band, 1, 0.0, rng)
    blocked = ~band
    chosen = []
    for row, col in first:
        chosen.append((row, col))
        blocked[row, col] = True
    for _ in range(count - 1):
        room = ndimage.distance_transform_edt(~blocked)
        row, col = np.unravel_index(int(room.argmax()), room.shape)
        if room[row, col] == 0:
            break
        chosen.append((int(row), int(col)))
        blocked[row, col] = True
    return chosen


def sample_clicks(mask: np.ndarray, rng: np.random.Generator, config: DosConfig, others: np.ndarray | None = None) -> list[Click]:
    """DOS clicks for a (H, W) bool truth mask; `others` (H, W) bool marks other labelled objects.

    Returns the positive clicks, then the negative ones.
    """
    mask = np.asarray(mask, dtype=bool)
    positives = _draw_spaced(_inside(mask, config.margin), int(rng.integers(config.positive[0], config.positive[1] + 1)),
                             config.step, rng)
    strategies = [s for s in config.strategies if s != 2 or (others is not None and others.any())]
    strategy = strategies[rng.integers(len(strategies))]
    if strategy == 1:
        distance = ndimage.distance_transform_edt(~mask)
        allowed = distance > config.margin
        if config.band > 0:
            allowed &= distance < config.band
        count = int(rng.integers(config.negative[0], config.negative[1] + 1))
        negatives = _draw_spaced(allowed, count, config.step, rng)
    elif strategy == 2:
        count = int(rng.integers(config.negative[0], config.negative[1] + 1))
        negatives = _draw_spaced(_inside(others, config.margin), count, config.step, rng)
    else:
        count = int(rng.integers(config.band_negative[0], config.band_negative[1] + 1))
        negatives = _greedy_band(mask, count, config.border, rng)
    return [Click(c + 0.5, r + 0.5, True) for r, c in positives] + [Click(c + 0.5, r + 0.5, False) for r, c in negatives]


def click_masks(clicks: list[Click], height: int, width: int) -> np.ndarray:
    """S_p, S_n of eq. 5: (2, H, W) bool with True at the pixel each click lies in."""
    masks = np.zeros((2, height, width), dtype=bool)
    for click in clicks:
        row = min(max(int(click.y), 0), height - 1)
        col = min(max(int(click.x), 0), width - 1)
        masks[0 if click.positive else 1, row, col] = True
    return masks
