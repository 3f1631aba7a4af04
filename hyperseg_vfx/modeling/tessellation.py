"""Convolutional tessellation (paper section 2.3).

A w x h frame is resized to (tile * ceil(w / tile)) x (tile * ceil(h / tile)), cut into
T = ceil(w / tile) * ceil(h / tile) tiles that go through the backbone as a batch, and each
tile's features are put back in place; the mosaic is then resized to the frame with nearest
neighbour (the paper's upsampling). A 1920 x 1080 frame becomes 2016 x 1120 = 9 x 5 = 45 tiles.

Nearest-neighbour resizing only selects mosaic pixels, and every output pixel's source lies in
exactly one tile. `TileGrid.placement` gives, per tile, the output rectangle whose sources lie in
it and the tile-local source indices, so per-tile features can be written straight into the
frame-sized result without ever building the mosaic.

Overlapping tiles (overlap 'nearest' or 'blend'): instead of resizing the frame to a whole number
of tiles, each tile is a crop of exactly `extent` frame px (the tile size without an extent)
resized to tile x tile, so every tile is stretched exactly as a training frame was; ceil(size /
extent) crops per axis are spaced evenly, so neighbours overlap instead of meeting at a seam that
the model never saw. An axis that the extent rule fits in one tile stays one tile, as without
overlap. A tile's features come back to its crop by nearest resizing; an output pixel takes them
from the tile whose centre is nearest ('nearest': still exactly one tile per pixel), or blends
the two tiles that hold it with weights linear across the overlap ('blend').
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..tile_layouts import TILE_OVERLAPS


def nearest_indices(source_size: int, target_size: int) -> torch.Tensor:
    """Source index of each target index under F.interpolate(mode='nearest-exact'), shape (target,).

    Computed with F.interpolate itself so that it matches the literal resize bit for bit.
    """
    ramp = torch.arange(source_size, dtype=torch.float64).view(1, 1, source_size)
    return F.interpolate(ramp, size=target_size, mode="nearest-exact").view(-1).long()


@dataclass(frozen=True)
class TilePlacement:
    """Where one tile's features land in the frame-sized output (for a tap of stride s).

    rows/cols: output slice [start, stop) of the frame; src_rows/src_cols: tile-local feature
    indices to take for those output rows/cols (LongTensors). weights: None when the tile's
    features replace what is there (every output pixel comes from exactly one tile); else a
    (len(rows), len(cols)) float tensor to multiply them by and add (overlap 'blend': the
    weights of all tiles sum to 1 at every output pixel).
    """

    rows: slice
    cols: slice
    src_rows: torch.Tensor
    src_cols: torch.Tensor
    weights: torch.Tensor | None = None


@dataclass(frozen=True)
class TileGrid:
    """The tile grid of a width x height frame.

    tessellate=False is the ablation 'no tessellation': one tile, the whole frame resized to it.
    extent: (w, h) frame pixels one tile should cover, or (0, 0) for the paper's grid
    (ceil(size / tile) tiles per axis). With an extent, each axis gets the whole number of tiles
    (at least 1) whose stretch is nearest the extent's in log scale: a model trained on 192x144
    frames in one 224 tile (extent (192, 144)) then sees a 256x144 frame as one tile stretched
    0.875x wide, closer to its training's 1.17x than the paper grid's two tiles at 1.75x.
    overlap: 'none' (the above), or overlapping crops of exactly the extent (the tile size
    without one), 'nearest' or 'blend' (see the module docstring): a 344x144 frame with extent
    (192, 144) is two 192x144 crops at x = 0 and 152, each stretched 224/192 wide as in training.
    """

    width: int
    height: int
    tile: int = 224
    tessellate: bool = True
    extent: tuple[int, int] = (0, 0)
    overlap: str = "none"
    _axes: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.overlap not in TILE_OVERLAPS:
            raise ValueError(f"tile overlap {self.overlap!r}: expected one of {TILE_OVERLAPS}")
        axes = None
        if self.overlaps:
            axes = tuple(_overlap_axis(size, self.tile, extent)
                         for size, extent in ((self.height, self.extent[1]), (self.width, self.extent[0])))
        object.__setattr__(self, "_axes", axes)

    @property
    def overlaps(self) -> bool:
        """Whether tiles are overlapping crops (overlap 'nearest' or 'blend', with tessellation)."""
        return self.tessellate and self.overlap != "none"

    @property
    def columns(self) -> int:
        if self.overlaps:
            return len(self._axes[1].starts)
        return _tile_count(self.width, self.tile, self.extent[0]) if self.tessellate else 1

    @property
    def rows(self) -> int:
        if self.overlaps:
            return len(self._axes[0].starts)
        return _tile_count(self.height, self.tile, self.extent[1]) if self.tessellate else 1

    @property
    def count(self) -> int:
        return self.rows * self.columns

    def tiles(self, frame: torch.Tensor) -> torch.Tensor:
        """(1, 3, height, width) -> (T, 3, tile, tile), row-major tile order.

        Bilinear resize to the grid (antialiased when the grid is smaller than the frame, which
        happens only without tessellation); with overlap, each crop is resized on its own.
        """
        if self.overlaps:
            return self._overlapping_tiles(frame)
        grid_h, grid_w = self.rows * self.tile, self.columns * self.tile
        shrinking = grid_h < self.height or grid_w < self.width
        resized = F.interpolate(
            frame, size=(grid_h, grid_w), mode="bilinear", align_corners=False, antialias=shrinking
        )
        tiles = resized.view(3, self.rows, self.tile, self.columns, self.tile)
        return tiles.permute(1, 3, 0, 2, 4).reshape(self.count, 3, self.tile, self.tile)

    def mosaic(self, tile_features: torch.Tensor) -> torch.Tensor:
        """(T, C, t, t) per-tile features -> (1, C, rows * t, columns * t), tiles put back in place."""
        count, channels, size, _ = tile_features.shape
        grid = tile_features.reshape(self.rows, self.columns, channels, size, size)
        return grid.permute(2, 0, 3, 1, 4).reshape(1, channels, self.rows * size, self.columns * size)

    def assemble(self, tile_features: torch.Tensor) -> torch.Tensor:
        """(T, C, t, t) per-tile features -> (1, C, height, width): the literal construction.

        Without overlap: the mosaic resized to the frame (nearest). With overlap: each tile's
        features resized (nearest) onto its crop of a frame-sized canvas, and the canvases combined
        with per-pixel weights: one-hot on the crop whose centre is nearest (2D distance;
        'nearest'), or the product of each axis's piecewise-linear tent ('blend', _tent).
        The reference that `placement` (which never builds a canvas) is tested against.
        """
        if not self.overlaps:
            mosaic = self.mosaic(tile_features)
            return F.interpolate(mosaic, size=(self.height, self.width), mode="nearest-exact")
        crops = self.crops()
        ys = np.arange(self.height) + 0.5
        xs = np.arange(self.width) + 0.5
        weights = np.zeros((len(crops), self.height, self.width))
        for index, (rows, cols) in enumerate(crops):
            row, col = divmod(index, self.columns)
            if self.overlap == "blend":
                weights[index] = np.outer(_tent(self._axes[0], row, ys), _tent(self._axes[1], col, xs))
            else:
                centre_y, centre_x = (rows.start + rows.stop) / 2, (cols.start + cols.stop) / 2
                weights[index] = -((ys[:, None] - centre_y) ** 2 + (xs[None, :] - centre_x) ** 2)
        if self.overlap == "nearest":
            weights = np.eye(len(crops))[weights.argmax(axis=0)].transpose(2, 0, 1)
        weights = torch.from_numpy(weights)
        out = tile_features.new_zeros(1, tile_features.shape[1], self.height, self.width)
        for index, (rows, cols) in enumerate(crops):
            size = (rows.stop - rows.start, cols.stop - cols.start)
            canvas = F.interpolate(tile_features[index : index + 1], size=size, mode="nearest-exact")
            out[:, :, rows, cols] += canvas * weights[index, rows, cols].to(canvas)
        return out

    def placement(self, tile_index: int, feature_size: int) -> TilePlacement:
        """Placement of tile `tile_index` for features of feature_size x feature_size per tile."""
        row, col = divmod(tile_index, self.columns)
        if self.overlaps:
            return self._overlap_placement(row, col, feature_size)
        rows, src_rows = _span(row, feature_size, self.rows * feature_size, self.height)
        cols, src_cols = _span(col, feature_size, self.columns * feature_size, self.width)
        return TilePlacement(rows, cols, src_rows, src_cols)

    def crops(self) -> list[tuple[slice, slice]]:
        """Frame (rows, cols) each overlapping tile is cut from, row-major (overlap only)."""
        (heights, widths) = self._axes
        return [(slice(top, top + heights.length), slice(left, left + widths.length))
                for top in heights.starts for left in widths.starts]

    def _overlapping_tiles(self, frame: torch.Tensor) -> torch.Tensor:
        crops = torch.cat([frame[:, :, rows, cols] for rows, cols in self.crops()])
        heights, widths = self._axes
        shrinking = heights.length > self.tile or widths.length > self.tile
        return F.interpolate(crops, size=(self.tile, self.tile), mode="bilinear", align_corners=False,
                             antialias=shrinking)

    def _overlap_placement(self, row: int, col: int, feature_size: int) -> TilePlacement:
        heights, widths = self._axes
        blend = self.overlap == "blend"
        rows, src_rows, row_weights = heights.span(row, feature_size, blend)
        cols, src_cols, col_weights = widths.span(col, feature_size, blend)
        weights = torch.outer(row_weights, col_weights) if blend else None
        return TilePlacement(rows, cols, src_rows, src_cols, weights)


def _tile_count(size: int, tile: int, extent: int) -> int:
    """Tiles along an axis of `size` px: ceil(size / tile) (extent 0), else the whole number n >= 1
    of tiles of `extent` frame px each whose total n * extent is nearest `size` in log scale."""
    if extent <= 0:
        return math.ceil(size / tile)
    options = {max(1, math.floor(size / extent)), max(1, math.ceil(size / extent))}
    return min(sorted(options), key=lambda n: abs(math.log(n * extent / size)))


@dataclass(frozen=True)
class _OverlapAxis:
    """One axis of overlapping tiles: crops [start, start + length) of an axis of `size` px."""

    size: int
    length: int
    starts: tuple[int, ...]

    def span(self, index: int, feature_size: int, blend: bool) -> tuple[slice, torch.Tensor, torch.Tensor | None]:
        """Output range of crop `index`, its tile-local feature indices, and (blend) its weights.

        nearest: the pixels (centres x + 0.5) whose nearest crop centre is this crop's (ties go to
        the earlier crop); blend: the whole crop, weighted 1 outside overlaps and linearly down to
        0 across each overlap with a neighbour, so neighbours' weights sum to 1.
        """
        start = self.starts[index]
        local = nearest_indices(feature_size, self.length)
        centres = (torch.arange(self.size, dtype=torch.float64) + 0.5).view(-1, 1)
        if not blend:
            crop_centres = torch.tensor(self.starts, dtype=torch.float64) + self.length / 2
            owned = ((centres - crop_centres).abs().argmin(dim=1) == index).nonzero().view(-1)
            first, stop = int(owned[0]), int(owned[-1]) + 1
            return slice(first, stop), local[first - start : stop - start], None
        x = centres.view(-1)[start : start + self.length]
        weight = torch.ones(self.length, dtype=torch.float64)
        end = start + self.length
        previous_end = self.starts[index - 1] + self.length if index > 0 else start
        following = self.starts[index + 1] if index + 1 < len(self.starts) else end
        if previous_end > start:  # rising across the overlap with the previous crop
            weight = weight.minimum(((x - start) / (previous_end - start)).clamp(max=1))
        if following < end:  # falling across the overlap with the next crop
            weight = weight.minimum(((end - x) / (end - following)).clamp(max=1))
        return slice(start, start + self.length), local, weight.float()


def _tent(axis: _OverlapAxis, index: int, centres: np.ndarray) -> np.ndarray:
    """Blend weight of crop `index` at pixel centres: 0 outside it, linear from 0 to 1 across an
    overlap with a neighbour (np.interp through the overlap's ends), 1 elsewhere inside it."""
    start, end = axis.starts[index], axis.starts[index] + axis.length
    knots, values = [start], [1.0]
    if index > 0 and axis.starts[index - 1] + axis.length > start:
        knots, values = [start, axis.starts[index - 1] + axis.length], [0.0, 1.0]
    if index + 1 < len(axis.starts) and axis.starts[index + 1] < end:
        knots, values = knots + [axis.starts[index + 1], end], values + [1.0, 0.0]
    else:
        knots, values = knots + [end], values + [1.0]
    inside = (centres > start) & (centres < end)
    return np.where(inside, np.interp(centres, knots, values), 0.0)


def _overlap_axis(size: int, tile: int, extent: int) -> _OverlapAxis:
    """Overlapping crops along an axis of `size` px for a tile extent (0: the tile size, unstretched).

    An axis that the whole-tile rule (_tile_count) fits in one tile stays one crop, the whole axis
    stretched as overlap 'none' does (a 16:9 working frame: measured better than two crops);
    otherwise ceil(size / extent) crops of exactly `extent` px, spaced evenly from 0 to the far edge.
    """
    if _tile_count(size, tile, extent) == 1:
        return _OverlapAxis(size, size, (0,))
    length = extent or tile
    count = math.ceil(size / length)
    starts = (0,) if count == 1 else tuple(round(i * (size - length) / (count - 1)) for i in range(count))
    return _OverlapAxis(size, length, starts)


def _span(cell: int, size: int, mosaic_size: int, out_size: int) -> tuple[slice, torch.Tensor]:
    """Output range whose nearest source lies in mosaic cell `cell`, and its local indices."""
    source = nearest_indices(mosaic_size, out_size)
    inside = ((source >= cell * size) & (source < (cell + 1) * size)).nonzero().view(-1)
    if inside.numel() == 0:
        return slice(0, 0), source[:0]
    start, stop = int(inside[0]), int(inside[-1]) + 1
    return slice(start, stop), source[start:stop] - cell * size
