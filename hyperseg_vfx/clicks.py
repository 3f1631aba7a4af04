"""User clicks: the interactive input of HyperSeg.

A click is a point in pixel coordinates of the full frame: origin at the top-left corner of the
display window, x to the right, y down. Pixel (row i, column j) covers [j, j+1) x [i, i+1), so its
centre is (j + 0.5, i + 0.5). This module is free of torch so that light tools (shot validation,
the bridge's request checks) can use it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Iterable, Sequence


@dataclass(frozen=True)
class Click:
    """One click: position (x, y) in pixels, origin top-left, and its label."""

    x: float
    y: float
    positive: bool

    @property
    def label(self) -> str:
        return "positive" if self.positive else "negative"


def scale_clicks(clicks: Iterable[Click], factor: float) -> list[Click]:
    """Clicks for a frame resized by `factor` (pixel coordinates scale with the frame)."""
    return [Click(c.x * factor, c.y * factor, c.positive) for c in clicks]


def clicks_hash(clicks: Sequence[Click]) -> str:
    """A short, stable hash of a click set (order-independent), stored in matte metadata."""
    canonical = sorted((round(c.x, 4), round(c.y, 4), c.positive) for c in clicks)
    return hashlib.sha256(json.dumps(canonical).encode()).hexdigest()[:16]
