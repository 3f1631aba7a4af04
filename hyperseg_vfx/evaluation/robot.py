"""The next-click robot (RITM) and the two click protocols of `hyperseg-vfx evaluate`.

The robot looks at the current prediction (a bool mask) and the truth:

- false negatives (object pixels predicted background) and false positives (background pixels
  predicted object) are computed outside the void pixels;
- both error masks are padded by 1 px of "no error", so the frame edge counts as an edge of
  the error region, and distance-transformed (Euclidean, scipy.ndimage.distance_transform_edt);
- pixels clicked before are skipped (never the same pixel twice), and so is a label whose
  budget is spent;
- the click goes to the deepest remaining point of whichever error has the larger depth,
  positive for a false negative, negative for a false positive. Ties: between the two labels
  the negative one wins (as RITM: positive only when strictly deeper); between pixels the
  first in row-major order. The click sits at the pixel's centre (x = col + 0.5, y = row + 0.5).

With an empty prediction the first click is thus positive at the deepest point of the object.
When no allowed error is left (the prediction is exact, or only errors of a spent label remain)
the robot places no further click: the user would stop there.

Protocols:
- `fixed` (the paper's 10 clicks = 5 positive + 5 negative): the robot above with each label
  capped at 5; once a label has 5 clicks the robot clicks the largest error of the other label.
  A sample thus gets at most 5 + 5 clicks (fewer only when no allowed error is left).
- `robot` (NoC@85/90, mIoU@k): the robot without caps, up to 20 clicks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..clicks import Click


@dataclass(frozen=True)
class ClickProtocol:
    """How many clicks a sample gets. max_per_label: cap on each label's clicks (None: none)."""

    name: str
    max_clicks: int
    max_per_label: int | None = None

    @property
    def has_noc(self) -> bool:
        """NoC is defined for the uncapped robot only (a capped robot is not RITM's)."""
        return self.max_per_label is None


FIXED = ClickProtocol("fixed", max_clicks=10, max_per_label=5)
ROBOT = ClickProtocol("robot", max_clicks=20)
PROTOCOLS = {p.name: p for p in (FIXED, ROBOT)}


def _depth(error: np.ndarray) -> np.ndarray:
    """(H, W) Euclidean distance of each error pixel to the nearest non-error pixel, the frame
    border counting as non-error (1-px zero padding)."""
    return ndimage.distance_transform_edt(np.pad(error, 1))[1:-1, 1:-1]


def next_click(
    pred: np.ndarray,
    truth: np.ndarray,
    void: np.ndarray | None = None,
    clicked: np.ndarray | None = None,
    allow_positive: bool = True,
    allow_negative: bool = True,
) -> Click | None:
    """The robot's next click for prediction `pred` of `truth`, or None when no allowed error
    is left.

    pred, truth: (H, W) bool; void: (H, W) bool or None; clicked: (H, W) bool of pixels
    clicked before (never clicked again). allow_positive / allow_negative: whether that
    label may still be clicked.
    """
    counted = np.ones(truth.shape, dtype=bool) if void is None else ~void
    clickable = counted if clicked is None else counted & ~clicked
    best: tuple[float, int, bool] | None = None  # (depth, flat index, positive)
    for positive, allowed, error in ((False, allow_negative, pred & ~truth), (True, allow_positive, truth & ~pred)):
        if not allowed:
            continue
        depth = _depth(error & counted) * clickable
        index = int(np.argmax(depth))
        peak = float(depth.flat[index])
        if peak > 0 and (best is None or peak > best[0]):
            best = (peak, index, positive)
    if best is None:
        return None
    row, col = divmod(best[1], truth.shape[1])
    return Click(col + 0.5, row + 0.5, best[2])


class Clicker:
    """The robot's state for one sample under one protocol: the clicks so far and the pixels
    and label budgets they used.

        clicker = Clicker(truth, void, FIXED)
        pred = np.zeros_like(truth)
        while clicker.click(pred) is not None:
            pred = predict(clicker.clicks) > 0.5
    """

    def __init__(self, truth: np.ndarray, void: np.ndarray | None, protocol: ClickProtocol):
        self.truth = np.asarray(truth, dtype=bool)
        self.void = None if void is None else np.asarray(void, dtype=bool)
        self.protocol = protocol
        self.clicks: list[Click] = []
        self._clicked = np.zeros(self.truth.shape, dtype=bool)

    def _allowed(self, positive: bool) -> bool:
        cap = self.protocol.max_per_label
        return cap is None or sum(c.positive == positive for c in self.clicks) < cap

    def click(self, pred: np.ndarray) -> Click | None:
        """Add and return the next click for prediction `pred` ((H, W) bool); None when the
        protocol's clicks are used up or no allowed error is left."""
        if len(self.clicks) >= self.protocol.max_clicks:
            return None
        click = next_click(np.asarray(pred, dtype=bool), self.truth, self.void, self._clicked,
                           self._allowed(True), self._allowed(False))
        if click is not None:
            self.clicks.append(click)
            self._clicked[int(click.y), int(click.x)] = True
        return click
