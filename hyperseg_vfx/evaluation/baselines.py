"""Classical interactive baselines of the paper's Table 1, driven by exactly the robot's clicks.

Both turn clicks into hard seeds: a disk of `seed_radius` px around each click (pixels whose
centres lie within the radius; the clicked pixel always). Disks are drawn in click order, later
clicks over earlier ones, then every clicked pixel gets its own label, so a click is always a
seed of its label.

- `RandomWalk`: Grady's random walker (scikit-image `random_walker`, colour input); the output
  is the probability that a walker from a pixel first reaches a foreground seed.
- `GraphCut`: Boykov & Jolly (ICCV 2001) with PyMaxflow: seeds as hard constraints (t-links of
  weight K = 1 + the largest possible sum of a pixel's n-links), a region term
  -log P(colour | label) from smoothed RGB histograms of the pixels around the clicks of each
  label, and 8-connected n-links smoothness * exp(-beta |Ip - Iq|^2) / dist(p, q) with
  beta = 1 / (2 mean |Ip - Iq|^2) over all neighbour pairs (GrabCut's choice). The output is
  the binary cut as 0/1.

With clicks of one label only, the random walker has nothing to compete with and returns that
label everywhere; the graph cut takes the other label's colour model from the whole frame.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
from scipy import ndimage

from ..clicks import Click

BACKGROUND, FOREGROUND = 1, 2  # seed labels; 0 = unlabelled


def click_disks(clicks: Sequence[Click], shape: tuple[int, int], radius: float) -> np.ndarray:
    """(H, W) uint8 seed labels (0 none, 1 background, 2 foreground) of `clicks` drawn as
    disks of `radius` px (see the module docstring for overlaps)."""
    height, width = shape
    labels = np.zeros(shape, dtype=np.uint8)
    rows, cols = np.ogrid[0:height, 0:width]
    for click in clicks:
        disk = (cols + 0.5 - click.x) ** 2 + (rows + 0.5 - click.y) ** 2 <= radius**2
        labels[disk] = FOREGROUND if click.positive else BACKGROUND
    for click in clicks:
        labels[min(int(click.y), height - 1), min(int(click.x), width - 1)] = FOREGROUND if click.positive else BACKGROUND
    return labels


def _one_label(labels: np.ndarray) -> np.ndarray | None:
    """The constant answer when the seeds hold one label only (or none), else None."""
    has_fg, has_bg = (labels == FOREGROUND).any(), (labels == BACKGROUND).any()
    if has_fg and has_bg:
        return None
    return np.full(labels.shape, 1.0 if has_fg else 0.0, dtype=np.float32)


class Baseline:
    """What the two baselines share: a `kind` and a description of their settings."""

    kind: str

    def describe(self) -> dict:
        """{"kind": ..., setting: value, ...} for the report."""
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True)
class RandomWalk(Baseline):
    """Random walker segmentation (Grady 2006) from click seeds.

    beta: scikit-image's edge penalty (Grady's 130; scikit-image divides it by 10 x the image's
    standard deviation itself). mode: scikit-image's solver; 'bf' solves the linear system
    exactly (sparse LU: fast on small frames, slow and memory-hungry at 2K, where 'cg_j' with
    tolerance `tol` is the practical choice, at the price of an approximate answer).
    """

    beta: float = 130.0
    seed_radius: float = 3.0
    mode: str = "bf"
    tol: float = 1e-3

    kind = "random_walk"

    def predict(self, sample, clicks: Sequence[Click]) -> np.ndarray:
        """(H, W) float32 foreground probability for `sample.rgb` ((H, W, 3) float in [0, 1])."""
        from skimage.segmentation import random_walker

        labels = click_disks(clicks, sample.rgb.shape[:2], self.seed_radius)
        constant = _one_label(labels)
        if constant is not None:
            return constant
        probabilities = random_walker(sample.rgb, labels, beta=self.beta, mode=self.mode, tol=self.tol,
                                      channel_axis=-1, return_full_prob=True)
        return probabilities[FOREGROUND - 1].astype(np.float32)


#: Neighbour offsets (drow, dcol) covering each undirected 8-connected pair once.
_OFFSETS = ((0, 1), (1, 0), (1, 1), (1, -1))


def neighbour_differences(rgb: np.ndarray) -> tuple[list[np.ndarray], int]:
    """For each offset in _OFFSETS, (H, W) |I(p) - I(p + offset)|^2 (0 where p + offset is
    outside the frame), and the number of neighbour pairs inside the frame."""
    height, width = rgb.shape[:2]
    out, pairs = [], 0
    for dr, dc in _OFFSETS:
        src = (slice(0, height - dr), slice(max(0, -dc), width - max(0, dc)))
        dst = (slice(dr, height), slice(max(0, dc), width - max(0, -dc)))
        diff = np.zeros((height, width), dtype=np.float64)
        diff[src] = ((rgb[src] - rgb[dst]) ** 2).sum(axis=-1)
        out.append(diff)
        pairs += diff[src].size
    return out, pairs


def colour_cells(rgb: np.ndarray, bins: int) -> np.ndarray:
    """(H, W) int index of each pixel's cell in a bins^3 RGB histogram (rgb in [0, 1])."""
    cells = np.clip((rgb * bins).astype(np.int64), 0, bins - 1)
    return np.ravel_multi_index(np.moveaxis(cells, -1, 0), (bins,) * 3)


def colour_model(cells: np.ndarray, where: np.ndarray, bins: int) -> np.ndarray:
    """(bins^3,) probability of each colour cell among the pixels `where`, smoothed by a
    1-cell Gaussian and floored so that no colour is impossible."""
    counts = np.bincount(cells[where], minlength=bins**3).reshape((bins,) * 3).astype(np.float64)
    histogram = ndimage.gaussian_filter(counts, 1.0).ravel()
    histogram = histogram / histogram.sum() + 1e-6
    return histogram / histogram.sum()


@dataclass(frozen=True)
class GraphCut(Baseline):
    """Boykov-Jolly interactive graph cut from click seeds (see the module docstring).

    model_radius: colour models use the pixels within this fraction of the frame's short side
    of the clicks of each label; bins: histogram cells per channel; smoothness: weight of the
    n-links against the -log-likelihood region term (GrabCut's 50).
    """

    seed_radius: float = 3.0
    model_radius: float = 0.05
    bins: int = 16
    smoothness: float = 50.0

    kind = "graph_cut"

    def region_costs(self, rgb: np.ndarray, clicks: Sequence[Click]) -> tuple[np.ndarray, np.ndarray]:
        """(H, W) -log P(I_p | foreground) and -log P(I_p | background); a label without
        clicks takes its model from the whole frame."""
        radius = max(self.seed_radius, self.model_radius * min(rgb.shape[:2]))
        cells = colour_cells(rgb, self.bins)
        costs = []
        for positive in (True, False):
            near = click_disks([c for c in clicks if c.positive == positive], cells.shape, radius) > 0
            model = colour_model(cells, near if near.any() else np.ones_like(near), self.bins)
            costs.append(-np.log(model[cells]))
        return costs[0], costs[1]

    def predict(self, sample, clicks: Sequence[Click]) -> np.ndarray:
        """(H, W) float32 0/1 cut (1 = foreground) for `sample.rgb` ((H, W, 3) float in [0, 1])."""
        import maxflow

        rgb = np.asarray(sample.rgb, dtype=np.float64)
        labels = click_disks(clicks, rgb.shape[:2], self.seed_radius)
        differences, pairs = neighbour_differences(rgb)
        beta = 1.0 / (2.0 * max(sum(d.sum() for d in differences) / max(pairs, 1), 1e-12))
        graph = maxflow.Graph[float]()
        nodes = graph.add_grid_nodes(rgb.shape[:2])
        for (dr, dc), difference in zip(_OFFSETS, differences):
            structure = np.zeros((3, 3))
            structure[1 + dr, 1 + dc] = 1.0
            weights = self.smoothness * np.exp(-beta * difference) / np.hypot(dr, dc)
            graph.add_grid_edges(nodes, weights=weights, structure=structure, symmetric=True)
        fg_cost, bg_cost = self.region_costs(rgb, clicks)
        hard = 1.0 + 8.0 * self.smoothness  # > any pixel's n-link sum
        source = np.where(labels == FOREGROUND, hard, np.where(labels == BACKGROUND, 0.0, bg_cost))
        sink = np.where(labels == BACKGROUND, hard, np.where(labels == FOREGROUND, 0.0, fg_cost))
        graph.add_grid_tedges(nodes, source, sink)
        graph.maxflow()
        return (~graph.get_grid_segments(nodes)).astype(np.float32)
