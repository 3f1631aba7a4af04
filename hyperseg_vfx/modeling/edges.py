"""Edges decided at the plate's resolution: a graph cut in a narrow band around the matte's edge.

A model with a working size runs its network at a small size (144 px short side for the bundled
model) and brings the matte to the plate by guided upsampling. Guided upsampling moves a soft
transition towards colour edges but cannot place it within a pixel of a 2K or 4K plate's edge:
its coefficients come from a working pixel 7-15 plate pixels wide. This stage takes that matte
and decides, on the full-resolution plate and from the plate's own pixels, which side of the
edge each pixel near it lies on:

1. band: the pixels within `half_width` plate pixels of the matte's 0.5 contour, found on a grid
   `factor` times coarser (the working grid: cheap at 4K) and brought up by repetition, plus a
   disk around every click. Only band pixels are ever changed; the cost is bounded by the
   band's size, not the frame's.
2. a graph cut over the band pixels only, solved with PyMaxflow: 4-connected pairwise terms
   lambda * exp(-beta |I_p - I_q|^2) with beta = 1 / (2 mean |I_p - I_q|^2) over the band
   (Boykov and Jolly, ICCV 2001), the pixels just outside the band fixed to the matte's own label
   (their pairwise terms become terminal terms), and the clicks' disks as hard constraints (a
   positive click's pixels are always inside the result, a negative click's outside). The unary
   terms depend on the method:
   - "graphcut": -log p and -log(1 - p) of the matte (the network's probability);
   - "grabcut": -log of the pixel's colour under Gaussian mixtures of the foreground and the
     background learned around the band by OpenCV's GrabCut (modeling/colour_models.py). The
     network decides where the band lies and which colours are whose; the plate decides the edge;
   - "learned": grabcut, then the model's learned band refiner (modeling/band_refiner.py).
3. the band's pixels get 1 inside the cut and 0 outside; then "grabcut" gives the pixels near the
   cut's edge a soft alpha (where the plate's colours are mixed: motion blur, defocus,
   antialiasing), by `soft_edge`:
   - "posterior": the pixels within `soft_width` px of the cut's edge get the colour models'
     posterior p(fg) / (p(fg) + p(bg)), smoothed by a Gaussian of 1 px;
   - "projection" (plates at least PROJECTION_MIN_FACTOR times the working size): the pixels
     within `projection_zone` px get alpha from the compositing equation I = a F + (1 - a) B,
     F and B the mean colours of the object's and the background's nearest pixels just beyond
     the zone (Porter and Duff's model, as Chuang et al.'s Bayesian matting solves it for a
     pixel given F and B), solved in linear light: the plate is display-referred sRGB, and a
     mix of two colours is linear in light, not in sRGB code values (solved on the code values,
     the dev clips' edges sat up to 1 px inside the object). A mixed pixel's alpha then follows
     its own colour, so the 0.5 crossing lands where the plate's edge is, to a fraction of a
     pixel; the posterior of two colour models leans to the broader one (a mixed colour lies in
     neither's core) and to the sRGB curve, which moved the dev clips' edge by about 1 px.
   The rest of the matte is returned unchanged, soft values included.
4. "grabcut" with `grabcut_passes` > 1 runs steps 1-3 again on its result: the next band lies
   around the edge the previous pass found, so an edge up to passes x half_width from the
   network's can be reached, and the colour models are learned again from the better labels.

All arrays are numpy, on the CPU: the stage runs after the matte has left the model's device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import maxflow
import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from ..clicks import Click
from ..config import EdgesConfig
from ..edge_methods import PROJECTION_MIN_FACTOR, REFINER_MIN_FACTOR
from ..srgb import srgb_to_linear
from . import colour_models

if TYPE_CHECKING:
    from .band_refiner import BandRefiner

_HARD = 1e9  # terminal capacity of a hard constraint
_EPS = 1e-4  # probabilities are clipped to [_EPS, 1 - _EPS] before the logarithm
#: "projection": the colour samples are a ring this many px wide beyond a gap of twice the
#: zone; each zone pixel's F and B are the means of its nearest this-many ring pixels per side
#: (chosen on dev edge states: 2 to 4 px, 8 to 24 neighbours moved mBIOU by at most 0.01).
_PROJECTION_RING = 3
_PROJECTION_NEIGHBOURS = 8
#: "projection" keeps the cut's 0/1 where the object's and the background's colours differ by
#: less than this (linear RGB distance): there the equation says nothing.
_MIN_COLOUR_SEPARATION = 0.02
#: sin^2 of the angle between F and B (linear RGB) under which _mix_alpha's brightness-free fit
#: is not used: nearly one direction (grey on grey) leaves it no colour to go by.
_MIN_DIRECTION_SEPARATION = 0.05


@dataclass(frozen=True)
class BandCut:
    """Settings of one band stage call (see EdgesConfig for the model-config form).

    half_width: band half-width in plate pixels; factor: the coarse grid's cell in plate pixels
    (plate size / working size, at least 1); smoothness: "graphcut"'s lambda; click_radius: radius
    (plate px) of a click's hard-constraint disk; soft_width: "grabcut"'s soft edge half-width in
    plate px (0: a hard 0/1 edge); colour_smoothness: "grabcut"'s lambda.
    """

    half_width: float
    factor: int
    smoothness: float
    click_radius: float
    soft_width: float = 0.0
    colour_smoothness: float = 50.0
    projection_zone: int = 0


def settings_for(config: EdgesConfig, factor: float) -> BandCut:
    """The BandCut of `config` for a plate `factor` times the working size (1: native)."""
    factor = max(1.0, factor)
    project = config.soft_edge == "projection" and factor >= PROJECTION_MIN_FACTOR
    return BandCut(half_width=max(2.0, config.band * factor), factor=max(1, int(round(factor))),
                   smoothness=config.smoothness, click_radius=config.click_radius * factor,
                   soft_width=config.soft_width, colour_smoothness=config.grabcut_smoothness,
                   projection_zone=max(1, int(round(config.projection_zone * factor))) if project else 0)


def decide_edges(candidates: np.ndarray, plate: np.ndarray, clicks: Sequence[Click], config: EdgesConfig,
                 factor: float, refiner: "BandRefiner | None" = None) -> np.ndarray:
    """candidates (K, H, W) float32, plate (H, W, 3) RGB, clicks in plate px -> (K, H, W): each
    candidate through cut_band ("graphcut", once) or grabcut_band ("grabcut" and "learned",
    config.grabcut_passes times, each pass on the previous pass's result), then for "learned"
    through `refiner` (the model's BandRefiner, modeling/band_refiner.py: its input is the
    candidate and grabcut's result) where `factor` >= REFINER_MIN_FACTOR, or `candidates`
    itself ("none")."""
    if config.method == "none":
        return candidates
    if config.method == "learned" and refiner is None:
        raise ValueError("edges.method learned needs the model's band refiner")
    settings = settings_for(config, factor)
    cut, passes = (cut_band, 1) if config.method == "graphcut" else (grabcut_band, config.grabcut_passes)
    refine = config.method == "learned" and factor >= REFINER_MIN_FACTOR
    decided = []
    for candidate in candidates:
        edge = candidate
        for _ in range(passes):
            edge = cut(edge, plate, clicks, settings)
        if refine:
            edge = refiner.refine(candidate, edge, plate, clicks, config.refiner_band, settings.click_radius)
        decided.append(edge)
    return np.stack(decided)


def band_mask(alpha: np.ndarray, factor: int, half_width: float) -> np.ndarray:
    """(H, W) alpha -> (H, W) bool: pixels within about `half_width` px of the 0.5 contour.

    The contour is found on the grid of every factor-th pixel (cells of factor x factor plate
    pixels): a cell is on the edge when its label differs from a 4-neighbour's; edge cells are
    dilated by ceil(half_width / factor) cells and repeated back to plate pixels, so the band
    always holds the plate pixels within half_width of the contour (to a cell's accuracy).
    """
    height, width = alpha.shape
    edge = label_edges(alpha[factor // 2 :: factor, factor // 2 :: factor] > 0.5)
    cells = int(np.ceil(half_width / factor))
    if cells > 0 and edge.any():
        edge = ndimage.binary_dilation(edge, np.ones((3, 3), bool), iterations=cells)
    band = np.repeat(np.repeat(edge, factor, axis=0), factor, axis=1)
    padded = np.zeros((height, width), bool)
    h, w = min(height, band.shape[0]), min(width, band.shape[1])
    padded[:h, :w] = band[:h, :w]
    if band.shape[0] < height:
        padded[h:] = padded[h - 1 : h]
    if band.shape[1] < width:
        padded[:, w:] = padded[:, w - 1 : w]
    return padded


def label_edges(inside: np.ndarray) -> np.ndarray:
    """(h, w) bool labels -> (h, w) bool: the cells whose label differs from a 4-neighbour's
    (both sides of every boundary; the frame's border is no boundary)."""
    edge = np.zeros_like(inside)
    for axis in (0, 1):
        differs = np.diff(inside, axis=axis)
        lead, trail = [slice(None)] * 2, [slice(None)] * 2
        lead[axis], trail[axis] = slice(None, -1), slice(1, None)
        edge[tuple(lead)] |= differs
        edge[tuple(trail)] |= differs
    return edge


def click_disks(shape: tuple[int, int], clicks: Sequence[Click], radius: float) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) bool masks of the positive and of the negative clicks' disks (radius in px,
    centres at click.x, click.y; the clicked pixel is always inside its disk)."""
    positive, negative = np.zeros(shape, bool), np.zeros(shape, bool)
    r = max(0.5, radius)
    for click in clicks:
        target = positive if click.positive else negative
        col, row = int(np.clip(np.floor(click.x), 0, shape[1] - 1)), int(np.clip(np.floor(click.y), 0, shape[0] - 1))
        top, bottom = max(0, int(np.floor(click.y - r))), min(shape[0], int(np.ceil(click.y + r)) + 1)
        left, right = max(0, int(np.floor(click.x - r))), min(shape[1], int(np.ceil(click.x + r)) + 1)
        ys, xs = np.mgrid[top:bottom, left:right]
        target[top:bottom, left:right] |= (xs + 0.5 - click.x) ** 2 + (ys + 0.5 - click.y) ** 2 <= r * r
        target[row, col] = True
    return positive, negative


def cut_band(alpha: np.ndarray, plate: np.ndarray, clicks: Sequence[Click], settings: BandCut) -> np.ndarray:
    """alpha (H, W) float32 in [0, 1], plate (H, W, 3) float32 RGB, clicks in plate px ->
    (H, W) float32: alpha with the band's pixels replaced by the graph cut's 0/1 decision, the
    network's probability as unary terms ("graphcut").

    Pixels outside the band (edge band plus click disks) are returned unchanged, bit for bit.
    """
    band, positive, negative = _band_and_disks(alpha, clicks, settings)
    result = np.array(alpha, dtype=np.float32, copy=True)
    if not band.any():
        return result
    probability = np.clip(alpha[band].astype(np.float64), _EPS, 1 - _EPS)
    # A working pixel's probability says which side a factor x factor block lies on, not where in
    # the block the edge runs: each plate pixel's unary counts 1 / factor.
    to_background = -np.log(1 - probability) / settings.factor
    to_foreground = -np.log(probability) / settings.factor
    result[band] = _cut(alpha, plate, band, positive, negative, to_background, to_foreground, settings.smoothness)
    return result


def grabcut_band(alpha: np.ndarray, plate: np.ndarray, clicks: Sequence[Click], settings: BandCut) -> np.ndarray:
    """As cut_band, with the unary terms from colour models of the foreground and background
    learned around the band (colour_models.learn), and a soft edge: the projection within
    settings.projection_zone px when that is above 0, else the posterior within
    settings.soft_width px ("grabcut"). Where the models cannot be learned (fewer than
    colour_models.MIN_SAMPLES pixels of a label near the band), this is cut_band.

    Pixels outside the band (edge band plus click disks) are returned unchanged, bit for bit;
    click disks are 1 (positive) or 0 (negative).
    """
    band, positive, negative = _band_and_disks(alpha, clicks, settings)
    result = np.array(alpha, dtype=np.float32, copy=True)
    if not band.any():
        return result
    edge_band = band & ~(positive | negative)
    models = None if not edge_band.any() else colour_models.learn(
        plate, alpha, edge_band, margin=int(np.ceil(3 * settings.half_width)), stride=max(1, settings.factor // 2))
    if models is None:
        return cut_band(alpha, plate, clicks, settings)
    to_foreground, to_background = models.costs(plate[band])
    result[band] = _cut(alpha, plate, band, positive, negative, to_background, to_foreground,
                        settings.colour_smoothness)
    if settings.projection_zone > 0:
        _project_edge(result, band, plate, settings.projection_zone)
    elif settings.soft_width > 0:
        _soften(result, band, to_foreground - to_background, settings.soft_width)
    result[positive], result[negative] = 1.0, 0.0
    return result


def _band_and_disks(alpha: np.ndarray, clicks: Sequence[Click], settings: BandCut
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(band, positive disks, negative disks), each (H, W) bool; the band includes the disks."""
    positive, negative = click_disks(alpha.shape, clicks, settings.click_radius)
    return band_mask(alpha, settings.factor, settings.half_width) | positive | negative, positive, negative


def _cut(alpha: np.ndarray, plate: np.ndarray, band: np.ndarray, positive: np.ndarray, negative: np.ndarray,
         to_background: np.ndarray, to_foreground: np.ndarray, smoothness: float) -> np.ndarray:
    """The band's graph cut: (N,) float32 1 (foreground) or 0 for the N band pixels (row-major).

    to_background / to_foreground: (N,) the unary cost of each band pixel taking that label.
    Pixels just outside the band keep the matte's label (alpha > 0.5); click disks are hard.
    """
    count = int(np.count_nonzero(band))
    index = np.full(alpha.shape, -1, dtype=np.int64)
    index[band] = np.arange(count)
    pairs = _neighbour_pairs(band, plate)
    weights = smoothness * np.exp(-_beta(pairs) * pairs.squared)
    inside_pair = pairs.second_in_band
    graph = maxflow.Graph[float](count, int(np.count_nonzero(inside_pair)))
    graph.add_nodes(count)
    first = index.ravel()[pairs.first]
    second = index.ravel()[pairs.second]
    graph.add_edges(first[inside_pair], second[inside_pair], weights[inside_pair], weights[inside_pair])
    # A band pixel next to a fixed outside pixel pays the pair's weight for disagreeing with it.
    boundary = ~inside_pair
    fixed_fg = (alpha > 0.5).ravel()[pairs.second[boundary]]
    nodes, w = first[boundary], weights[boundary]
    source = to_background + np.bincount(nodes[fixed_fg], w[fixed_fg], minlength=count)  # paid as background
    sink = to_foreground + np.bincount(nodes[~fixed_fg], w[~fixed_fg], minlength=count)  # paid as foreground
    source[positive[band]] = _HARD
    sink[negative[band]] = _HARD
    graph.add_grid_tedges(np.arange(count), source, sink)
    graph.maxflow()
    return (~graph.get_grid_segments(np.arange(count))).astype(np.float32)


def _soften(result: np.ndarray, band: np.ndarray, log_ratio: np.ndarray, soft_width: float) -> None:
    """In place: band pixels within `soft_width` px (city-block, rounded) of the cut's edge pixels
    (either side of the 0/1 labels in `result`) get the colour models' posterior
    p(fg) / (p(fg) + p(bg)), averaged with a 1 px Gaussian over the zone's own pixels.

    log_ratio: (N,) -log p(colour | fg) + log p(colour | bg) of the N band pixels (row-major), as
    the cut scored them. Works on the band's bounding box, padded so that the edge test, the
    dilation and the Gaussian (4 px) see every neighbour they use.
    """
    reach = int(round(soft_width))
    box = padded_box(band, reach + 5)
    local_band = band[box]
    edge = label_edges(result[box] > 0.5)
    zone = (ndimage.binary_dilation(edge, iterations=reach) if reach > 0 else edge) & local_band
    if not zone.any():
        return
    ratio = np.zeros(local_band.shape)
    ratio[local_band] = log_ratio  # the box holds every band pixel, in the band's own order
    posterior = np.where(zone, 1.0 / (1.0 + np.exp(np.clip(ratio, -50.0, 50.0))), 0.0)
    weight = ndimage.gaussian_filter(zone.astype(np.float64), 1.0, truncate=4.0)
    smoothed = ndimage.gaussian_filter(posterior, 1.0, truncate=4.0) / np.maximum(weight, 1e-12)
    result[box][zone] = smoothed[zone].astype(np.float32)


def _project_edge(result: np.ndarray, band: np.ndarray, plate: np.ndarray, zone_width: int) -> None:
    """In place: band pixels within `zone_width` px (chessboard) of the cut's edge pixels (either
    side of the 0/1 labels in `result`) get their alpha from the compositing equation
    I = a F + (1 - a) B (_mix_alpha), with I, F and B in linear light (the sRGB plate decoded).

    F and B, per zone pixel: the mean (linear) colour of its _PROJECTION_NEIGHBOURS nearest pixels
    inside (F) and outside (B) the cut, taken from a ring _PROJECTION_RING px wide that starts
    2 * zone_width px beyond the zone, so that the colours are the object's and the
    background's own, not the mix the zone holds. Where a side has too few ring pixels the cut's
    0/1 stays. result (H, W) float32, band (H, W) bool, plate (H, W, 3) float32 sRGB. Works on
    the band's bounding box, padded so that the ring is whole; the colours are searched with a
    k-d tree over the ring pixels only, so the cost follows the edge's length, not the box's area.
    """
    gap = 2 * zone_width
    box = padded_box(band, zone_width + gap + _PROJECTION_RING + 1)
    inside = result[box] > 0.5
    edge = label_edges(inside)
    near_edge = chessboard_dilation(edge, zone_width)
    zone = near_edge & band[box]
    if not zone.any():
        return
    excluded = chessboard_dilation(near_edge, gap)
    ring = chessboard_dilation(excluded, _PROJECTION_RING) & ~excluded
    local_plate = plate[box]
    rows, cols = np.nonzero(zone)
    points = np.column_stack([rows, cols])
    means = [_nearest_mean(local_plate, ring & side, points) for side in (inside, ~inside)]
    if means[0] is None or means[1] is None:
        return
    colour = srgb_to_linear(local_plate[rows, cols].astype(np.float64))
    alpha = _mix_alpha(colour, *means, inside[rows, cols])
    local = result[box]
    local[rows, cols] = alpha.astype(np.float32)


def _mix_alpha(colour: np.ndarray, foreground: np.ndarray, background: np.ndarray, was_inside: np.ndarray
               ) -> np.ndarray:
    """colour, foreground, background (N, 3) linear RGB, was_inside (N,) bool (the cut's labels) ->
    (N,) alpha in [0, 1].

    alpha = (I - B).(F - B) / |F - B|^2 (the projection on the line from B to F). Shading on the
    object (F darker near its edge: a stripe, a crease) also lies off F, and the projection can
    read it as a mix. So a second fit frees each colour's brightness, I ~ a F + b B with a, b >= 0
    (least squares): shading moves a, not the side a > b. Where the two fits put the pixel on
    different sides of one half, or F and B differ by less than _MIN_COLOUR_SEPARATION, the pixel
    keeps the cut's label. The second fit is skipped where F and B have nearly one direction in
    RGB (sin^2 of their angle under _MIN_DIRECTION_SEPARATION): there brightness is all it has.
    """
    difference = foreground - background
    separation = (difference * difference).sum(axis=1)
    alpha = np.clip(((colour - background) * difference).sum(axis=1) / np.maximum(separation, 1e-12), 0.0, 1.0)
    ff, bb = (foreground * foreground).sum(axis=1), (background * background).sum(axis=1)
    fb = (foreground * background).sum(axis=1)
    fi, bi = (foreground * colour).sum(axis=1), (background * colour).sum(axis=1)
    determinant = ff * bb - fb * fb
    directions_differ = determinant > _MIN_DIRECTION_SEPARATION * ff * bb
    safe = np.where(directions_differ, determinant, 1.0)
    a = np.maximum((bb * fi - fb * bi) / safe, 0.0)
    b = np.maximum((ff * bi - fb * fi) / safe, 0.0)
    sides_differ = directions_differ & (a + b > 0) & ((a > b) != (alpha > 0.5))
    keep_cut = sides_differ | (separation < _MIN_COLOUR_SEPARATION**2)
    return np.where(keep_cut, was_inside.astype(np.float64), alpha)


def _nearest_mean(plate: np.ndarray, samples: np.ndarray, points: np.ndarray) -> np.ndarray | None:
    """plate (h, w, 3) sRGB, samples (h, w) bool, points (N, 2) rows and cols -> (N, 3): the mean
    linear colour of each point's _PROJECTION_NEIGHBOURS nearest sample pixels, or None when
    there are fewer samples than that. Only the sample pixels are decoded."""
    rows, cols = np.nonzero(samples)
    if rows.size < _PROJECTION_NEIGHBOURS:
        return None
    _, nearest = cKDTree(np.column_stack([rows, cols])).query(points, k=_PROJECTION_NEIGHBOURS)
    return srgb_to_linear(plate[rows, cols].astype(np.float64))[nearest].mean(axis=1)


def padded_box(mask: np.ndarray, pad: int) -> tuple[slice, slice]:
    """The bounding box of `mask`'s pixels grown by `pad` px on every side (within the frame)."""
    rows, cols = np.nonzero(mask)
    return (slice(max(0, rows.min() - pad), rows.max() + pad + 1),
            slice(max(0, cols.min() - pad), cols.max() + pad + 1))


def chessboard_dilation(mask: np.ndarray, reach: int) -> np.ndarray:
    """(h, w) bool -> (h, w) bool: the pixels within `reach` px (chessboard) of a mask pixel; one
    separable maximum filter, whatever the reach."""
    return ndimage.maximum_filter(mask.view(np.uint8), size=2 * reach + 1).astype(bool)


@dataclass(frozen=True)
class _Pairs:
    """4-neighbour pairs with the first pixel in the band: flat indices, squared colour
    differences and whether the second pixel is in the band too."""

    first: np.ndarray
    second: np.ndarray
    squared: np.ndarray
    second_in_band: np.ndarray


def _neighbour_pairs(band: np.ndarray, plate: np.ndarray) -> _Pairs:
    """Every (band pixel, 4-neighbour) pair, each band-band pair once."""
    height, width = band.shape
    rows, cols = np.nonzero(band)
    flat = rows * width + cols
    firsts, seconds = [], []
    for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)):
        r, c = rows + dr, cols + dc
        valid = (r >= 0) & (r < height) & (c >= 0) & (c < width)
        r, c, f = r[valid], c[valid], flat[valid]
        other_in = band[r, c]
        # band-band pairs only from the forward directions; band-outside pairs from all four
        keep = ~other_in if (dr, dc) in ((0, -1), (-1, 0)) else np.ones_like(other_in)
        firsts.append(f[keep])
        seconds.append((r * width + c)[keep])
    first, second = np.concatenate(firsts), np.concatenate(seconds)
    pixels = plate.reshape(-1, 3)
    squared = ((pixels[first].astype(np.float64) - pixels[second]) ** 2).sum(axis=1)
    return _Pairs(first, second, squared, band.ravel()[second])


def _beta(pairs: _Pairs) -> float:
    """Boykov and Jolly's contrast scale 1 / (2 <|I_p - I_q|^2>) over the band's pairs."""
    mean = float(pairs.squared.mean()) if pairs.squared.size else 0.0
    return 0.0 if mean <= 0 else 1.0 / (2.0 * mean)
