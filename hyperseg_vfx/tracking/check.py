"""Clicks checked against where the object is: what happens to a carried click on a frame.

The object's place on frame t is the matte of the frame it was carried from, warped into t with
the measured motion (motion.warp_mask). A click is checked for crossing the object's edge: the
matte's edge moved one way, the click another (an occlusion, a flow error). A click that was on
the wrong side of the matte already on the previous frame is the artist's correction of that
matte and is kept as it is.

- a positive that was on the object and is now off it is moved to the nearest pixel at least
  MARGIN px inside it when that is at most `max_move` px away, else dropped (`left_object`);
- a negative that was off the object and is now on it is moved, the same way, to the nearest
  pixel at least MARGIN px outside it, else dropped (`on_object`). The negatives a robot or an
  artist places sit just outside the object's edge, where the matte bled; the object's own
  motion brings them onto it, and moving them back keeps that edge held (dropping them let the
  matte bleed there again: measured in docs/tracking.md);
- a click carried out of the frame is dropped (`left_frame`).

Dropped clicks stay dropped for the rest of that propagation (the object they marked is gone
from under them). A frame keeps at least one positive click (a matte needs one): when every
positive would go, those that left the object (or the frame: kept at its edge) stay, marked
`unverified`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

#: Pixels a moved-back click lies inside (positive) or outside (negative) the object's edge.
MARGIN = 2

KEPT, MOVED, UNVERIFIED = "kept", "moved", "unverified"


@dataclass(frozen=True)
class Verdict:
    """What the check decided for one click: outcome kept | moved | unverified | a drop reason
    (shot.DROP_REASONS); (x, y) where the click now is."""

    outcome: str
    x: float
    y: float

    @property
    def dropped(self) -> bool:
        return self.outcome not in (KEPT, MOVED, UNVERIFIED)


def _inside(mask: np.ndarray, x: float, y: float) -> bool:
    return bool(mask[int(y), int(x)])


def _in_frame(shape: tuple[int, int], x: float, y: float) -> bool:
    return 0 <= x < shape[1] and 0 <= y < shape[0]


def on_object(mask: np.ndarray, x: float, y: float) -> bool:
    """Whether (x, y) lies on `mask` ((H, W) bool); a point off the frame is off the object (an
    artist key may sit off the frame on frames where its click does not count)."""
    return _in_frame(mask.shape, x, y) and _inside(mask, x, y)


def nearest_inside(mask: np.ndarray, x: float, y: float, max_move: float) -> tuple[float, float] | None:
    """Centre of the pixel nearest (x, y) that lies at least MARGIN px inside `mask` (or anywhere
    in it when it is too thin for that), None when it is farther than `max_move` px or the mask
    is empty. The frame's border counts as outside the mask (for a negative, `mask` is the
    object's outside: a click is not pushed against the frame edge)."""
    core = ndimage.binary_erosion(mask, iterations=MARGIN, border_value=0)
    target = core if core.any() else mask
    if not target.any():
        return None
    _, (rows, cols) = ndimage.distance_transform_edt(~target, return_indices=True)
    row, col = int(rows[int(y), int(x)]), int(cols[int(y), int(x)])
    nx, ny = col + 0.5, row + 0.5
    return (nx, ny) if np.hypot(nx - x, ny - y) <= max_move else None


def check_clicks(
    object_mask: np.ndarray, clicks: list[tuple[float, float, bool, bool]], max_move: float
) -> list[Verdict]:
    """Verdicts for carried clicks [(x, y, positive, was_inside)] on a frame whose object is
    `object_mask` ((H, W) bool), in the order given. was_inside: whether the click was on the
    object (the previous frame's matte) before it was carried."""
    verdicts = []
    for x, y, positive, was_inside in clicks:
        if not _in_frame(object_mask.shape, x, y):
            cx = min(max(x, 0.0), object_mask.shape[1] - 0.5)
            cy = min(max(y, 0.0), object_mask.shape[0] - 0.5)
            verdicts.append(Verdict("left_frame", cx, cy))
        elif was_inside != positive or _inside(object_mask, x, y) == positive:
            verdicts.append(Verdict(KEPT, x, y))  # on its side of the edge, or an artist's correction
        else:
            side = object_mask if positive else ~object_mask
            moved = nearest_inside(side, x, y, max_move)
            reason = "left_object" if positive else "on_object"
            verdicts.append(Verdict(reason, x, y) if moved is None else Verdict(MOVED, *moved))
    positives = [i for i, click in enumerate(clicks) if click[2]]
    if positives and all(verdicts[i].dropped for i in positives):
        for i in positives:
            if verdicts[i].outcome in ("left_object", "left_frame"):
                verdicts[i] = Verdict(UNVERIFIED, verdicts[i].x, verdicts[i].y)
    return verdicts
