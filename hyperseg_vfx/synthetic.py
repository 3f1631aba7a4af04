"""Generated plates with known mattes: test data, Tucker fitting data and the demo shot.

A textured, star-shaped foreground object with a soft (anti-aliased) edge moves over a smooth
textured background with sensor noise. Everything is drawn from a seeded numpy Generator, so a
(seed, frame) pair always gives the same pixels. The object's centre is always inside it, which
gives callers a guaranteed positive click.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SyntheticFrame:
    """rgb: (H, W, 3) float32 in [0, 1]; alpha: (H, W) float32 in [0, 1], the true matte;
    center: (x, y) pixel position inside the object (alpha there is 1)."""

    rgb: np.ndarray
    alpha: np.ndarray
    center: tuple[float, float]


def _smooth_texture(rng: np.random.Generator, ys: np.ndarray, xs: np.ndarray, scale: float, waves: int) -> np.ndarray:
    """(H, W, 3) sum of random low-frequency sinusoids in [0, 1]."""
    out = np.zeros(ys.shape + (3,), dtype=np.float32)
    for _ in range(waves):
        freq = rng.uniform(0.5, 4.0, size=2) / scale
        phase = rng.uniform(0, 2 * np.pi)
        amp = rng.uniform(0.05, 0.2, size=3).astype(np.float32)
        out += np.sin(2 * np.pi * (freq[0] * xs + freq[1] * ys) + phase)[..., None] * amp
    return out + rng.uniform(0.25, 0.75, size=3).astype(np.float32)


def synthetic_frame(width: int, height: int, seed: int, frame: int = 0) -> SyntheticFrame:
    """Frame `frame` of the synthetic clip `seed` (the object translates and turns over time)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    short = min(width, height)
    background = _smooth_texture(rng, ys, xs, short, waves=6)
    foreground = _smooth_texture(rng, ys, xs, short / 3.0, waves=4)
    radius = rng.uniform(0.18, 0.28) * short
    harmonics = [(k, rng.uniform(0.0, 0.2 / k), rng.uniform(0, 2 * np.pi)) for k in range(2, 6)]
    start = np.array([rng.uniform(0.35, 0.65) * width, rng.uniform(0.35, 0.65) * height])
    velocity = rng.uniform(-0.01, 0.01, size=2) * short
    spin = rng.uniform(-0.05, 0.05)
    noise_rng = np.random.Generator(np.random.PCG64([seed, frame]))

    cx, cy = start + velocity * frame
    angle = np.arctan2(ys - cy, xs - cx) - spin * frame
    boundary = radius * (1.0 + sum(a * np.cos(k * angle + p) for k, a, p in harmonics))
    signed = boundary - np.hypot(xs - cx, ys - cy)  # > 0 inside, in pixels
    alpha = np.clip(signed + 0.5, 0.0, 1.0).astype(np.float32)  # 1-pixel anti-aliased edge
    rgb = background * (1 - alpha[..., None]) + foreground * alpha[..., None]
    rgb += noise_rng.normal(0.0, 0.02, size=rgb.shape).astype(np.float32)
    return SyntheticFrame(np.clip(rgb, 0, 1).astype(np.float32), alpha, (float(cx), float(cy)))
