"""Convolutional tessellation (paper section 2.3).

A w x h frame is resized to (tile * ceil(w / tile)) x (tile * ceil(h / tile)), cut into
T = ceil(w / tile) * ceil(h / tile) tiles that go through the backbone as a batch, and each
tile's features are put back in place; the mosaic is then resized to the frame with nearest
neighbour (the paper's upsampling). A 1920 x 1080 frame becomes 2016 x 1120 = 9 x 5 = 45 tiles.

Nearest-neighbour resizing only selects mosaic pixels, and every output pixel's source lies in
exactly one tile. `TileGrid.placement` gives, per tile, the output rectangle whose sources lie in
it and the tile-local source indices, so per-tile features can be written straight into the
frame-sized result without ever building the mosaic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


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
    indices to take for those output rows/cols (LongTensors).
    """

    rows: slice
    cols: slice
    src_rows: torch.Tensor
    src_cols: torch.Tensor


@dataclass(frozen=True)
class TileGrid:
    """The tile grid of a width x height frame.

    tessellate=False is the ablation 'no tessellation': one tile, the whole frame resized to it.
    extent: (w, h) frame pixels one tile should cover, or (0, 0) for the paper's grid
    (ceil(size / tile) tiles per axis). With an extent, each axis gets the whole number of tiles
    (at least 1) whose stretch is nearest the extent's in log scale: a model trained on 192x144
    frames in one 224 tile (extent (192, 144)) then sees a 256x144 frame as one tile stretched
    0.875x wide, closer to its training's 1.17x than the paper grid's two tiles at 1.75x.
    """

    width: int
    height: int
    tile: int = 224
    tessellate: bool = True
    extent: tuple[int, int] = (0, 0)

    @property
    def columns(self) -> int:
        return _tile_count(self.width, self.tile, self.extent[0]) if self.tessellate else 1

    @property
    def rows(self) -> int:
        return _tile_count(self.height, self.tile, self.extent[1]) if self.tessellate else 1

    @property
    def count(self) -> int:
        return self.rows * self.columns

    def tiles(self, frame: torch.Tensor) -> torch.Tensor:
        """(1, 3, height, width) -> (T, 3, tile, tile), row-major tile order.

        Bilinear resize to the grid (antialiased when the grid is smaller than the frame, which
        happens only without tessellation).
        """
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

    def placement(self, tile_index: int, feature_size: int) -> TilePlacement:
        """Placement of tile `tile_index` for features of feature_size x feature_size per tile."""
        row, col = divmod(tile_index, self.columns)
        rows, src_rows = _span(row, feature_size, self.rows * feature_size, self.height)
        cols, src_cols = _span(col, feature_size, self.columns * feature_size, self.width)
        return TilePlacement(rows, cols, src_rows, src_cols)


def _tile_count(size: int, tile: int, extent: int) -> int:
    """Tiles along an axis of `size` px: ceil(size / tile) (extent 0), else the whole number n >= 1
    of tiles of `extent` frame px each whose total n * extent is nearest `size` in log scale."""
    if extent <= 0:
        return math.ceil(size / tile)
    options = {max(1, math.floor(size / extent)), max(1, math.ceil(size / extent))}
    return min(sorted(options), key=lambda n: abs(math.log(n * extent / size)))


def _span(cell: int, size: int, mosaic_size: int, out_size: int) -> tuple[slice, torch.Tensor]:
    """Output range whose nearest source lies in mosaic cell `cell`, and its local indices."""
    source = nearest_indices(mosaic_size, out_size)
    inside = ((source >= cell * size) & (source < (cell + 1) * size)).nonzero().view(-1)
    if inside.numel() == 0:
        return slice(0, 0), source[:0]
    start, stop = int(inside[0]), int(inside[-1]) + 1
    return slice(start, stop), source[start:stop] - cell * size
