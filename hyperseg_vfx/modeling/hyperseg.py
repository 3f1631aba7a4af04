"""The complete HyperSeg model: frame -> tessellated VGG-19 hypercolumns -> Tucker -> network.

Two feature paths compute the same thing:

literal_features   the paper as written: every tap's mosaic resized to the frame (1472 channels at
                   full resolution), projected by the Tucker factors to D_phi = 736 channels, then
                   layer 1. About 12 GB of float32 and 4.5 TFLOP for the projection at 2K.
                   Kept as the reference that tests compare against on small frames.
project_frame      the path used everywhere: resizing, Tucker projection and layer 1's feature
                   weights are all linear per pixel and nearest resizing only selects pixels, so
                   each tap is multiplied by its folded weight W1_k U_k^T (70 x C_k) at its own
                   resolution, per batch of tiles, and written straight into a frame-sized
                   70-channel result. Nothing wider than 70 channels exists at full resolution.

The projected features depend only on the frame, so callers cache them per frame; a new set of
clicks then costs only `forward_projected` (the paper's interactive loop).
"""

from __future__ import annotations

import contextlib
import time
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..clicks import Click
from ..config import CONTEXT_CHANNELS, ModelConfig
from .backbone import TAP_STRIDE, VGG19Taps
from .band_refiner import BandRefiner
from .context import context_channels
from .network import HyperSegNet
from .refine import refine_candidates
from .tessellation import TileGrid


class StageTimes(dict):
    """Seconds spent per named stage; `stage` synchronises CUDA so the times are real."""

    @contextlib.contextmanager
    def stage(self, name: str, device: torch.device) -> Iterator[None]:
        _synchronize(device)
        start = time.perf_counter()
        yield
        _synchronize(device)
        self[name] = self.get(name, 0.0) + time.perf_counter() - start


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class HyperSeg(nn.Module):
    """Frozen backbone + Tucker factors (buffers) + trainable network, and the edge stage's
    learned band refiner where the config has one (edges.refiner_width > 0; trained apart from
    the network, by training/band_refiner.py)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config.validate()
        self.backbone = VGG19Taps(config.backbone.taps, config.backbone.weights)
        for index, (channels, rank) in enumerate(zip(config.tap_channels, config.compressed_channels)):
            factor = torch.eye(channels) if not config.tucker.enabled else torch.zeros(channels, rank)
            self.register_buffer(f"tucker_{index}", factor)
        self.network = HyperSegNet(config.network, sum(config.compressed_channels))
        width = config.edges.refiner_width
        self.band_refiner = BandRefiner(width).eval() if width else None

    @property
    def tucker_factors(self) -> list[torch.Tensor]:
        """One (C_k, r_k) factor per tap, orthonormal columns."""
        return [getattr(self, f"tucker_{i}") for i in range(len(self.config.backbone.taps))]

    def set_tucker_factors(self, factors: Sequence[torch.Tensor]) -> None:
        for index, factor in enumerate(factors):
            getattr(self, f"tucker_{index}").copy_(factor)

    def tile_grid(self, height: int, width: int) -> TileGrid:
        """The tessellation of an H x W frame under this model's config."""
        b = self.config.backbone
        return TileGrid(width, height, b.tile_size, b.tessellate, b.tile_extent, b.tile_overlap)

    def backbone_tiles(self, frame: torch.Tensor) -> Iterator[tuple[int, list[torch.Tensor]]]:
        """Yield (first tile index, per-tap features (b, C_k, t/s_k, t/s_k)) per batch of tiles."""
        tiles = self.tile_grid(frame.shape[2], frame.shape[3]).tiles(frame)
        step = self.config.backbone.max_tiles_per_batch
        for start in range(0, tiles.shape[0], step):
            batch = tiles[start : start + step].contiguous(memory_format=torch.channels_last)
            yield start, self.backbone(batch)

    def folded_weights(self) -> list[torch.Tensor]:
        """Layer 1's feature weights folded into each tap's Tucker factor: (width, C_k) per tap."""
        weight = self.network.feature_weight
        folded, offset = [], 0
        for factor in self.tucker_factors:
            rank = factor.shape[1]
            folded.append(weight[:, offset : offset + rank] @ factor.T)
            offset += rank
        return folded

    def project_frame(self, frame: torch.Tensor, times: StageTimes | None = None) -> torch.Tensor:
        """The efficient feature path. frame (1, 3, H, W) in [0, 1] -> (1, width, H, W) float32.

        Equals network.project_features(literal_features(frame)), computed per batch of tiles
        with layer 1's weights folded into the Tucker factors (see project_tiles). The result is
        a channels_last tensor.
        """
        times = StageTimes() if times is None else times
        _, _, height, width = frame.shape
        grid = self.tile_grid(height, width)
        folded = self.folded_weights()
        out = self._projection_buffer(height, width, frame.device, grid)
        batches = self.backbone_tiles(frame)
        while True:
            with times.stage("backbone", frame.device):
                item = next(batches, None)
            if item is None:
                break
            start, taps = item
            with times.stage("projection", frame.device):
                self.project_tiles(taps, folded, grid, start, out)
        return out.permute(2, 0, 1).unsqueeze(0)

    def compress_taps(self, taps: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Tucker-compress backbone taps: (T, C_k, h, w) -> (T, r_k, h, w) per tap (U_k^T f).

        These are the paper's compressed hypercolumns at tile resolution, what training caches.
        """
        return [torch.einsum("tchw,cr->trhw", tap, factor.to(tap.dtype)) for tap, factor in zip(taps, self.tucker_factors)]

    def feature_weights_per_tap(self) -> list[torch.Tensor]:
        """Layer 1's feature weights split by tap: (width, r_k) per tap (differentiable)."""
        return list(torch.split(self.network.feature_weight, list(self.config.compressed_channels), dim=1))

    def project_compressed(self, compressed: Sequence[torch.Tensor], height: int, width: int) -> torch.Tensor:
        """Layer 1's feature part from cached compressed taps of all T tiles of an H x W frame.

        compressed: compress_taps() of every tile, (T, r_k, h_k, w_k) per tap. Returns
        (1, width, H, W), differentiable w.r.t. the network's layer 1: the training path.
        """
        grid = self.tile_grid(height, width)
        out = self._projection_buffer(height, width, compressed[0].device, grid)
        self.project_tiles(compressed, self.feature_weights_per_tap(), grid, 0, out)
        return out.permute(2, 0, 1).unsqueeze(0)

    def project_tiles(
        self, taps: Sequence[torch.Tensor], weights: Sequence[torch.Tensor], grid: TileGrid, start: int, out: torch.Tensor
    ) -> None:
        """Project a batch of tiles and write it into `out` (H, W, width).

        taps: per tap (b, C_k, h_k, w_k) for tiles start..start+b-1; weights: per tap
        (width, C_k). Each tap is projected at its own resolution, the taps are summed coarse to
        fine with exact integer upsampling (nearest from a tap's mosaic to the frame equals
        nearest from the finest tap's mosaic after repeating the coarse pixels), and each tile's
        sum is written once into the frame (with overlap 'blend': added, times its weights).
        """
        strides = [TAP_STRIDE[t] for t in self.config.backbone.taps]
        projected = [tap.permute(0, 2, 3, 1) @ w.T.to(tap.dtype) for tap, w in zip(taps, weights)]
        merged = _sum_coarse_to_fine(projected, strides)  # (b, h, w, width) at the finest tap
        for offset in range(merged.shape[0]):
            place = grid.placement(start + offset, merged.shape[1])
            features = merged[offset][place.src_rows][:, place.src_cols]
            if place.weights is None:
                out[place.rows, place.cols] = features
            else:
                out[place.rows, place.cols] += features * place.weights.to(features)[:, :, None]

    def _projection_buffer(self, height: int, width: int, device: torch.device, grid: TileGrid) -> torch.Tensor:
        """(H, W, width) float32: uninitialised when every pixel is written once, zeros when tiles add."""
        allocate = torch.zeros if grid.overlap == "blend" and grid.overlaps else torch.empty
        return allocate(height, width, self.config.network.width, device=device, dtype=torch.float32)

    def literal_features(self, frame: torch.Tensor) -> torch.Tensor:
        """The paper's path, for reference: (1, 3, H, W) -> compressed hypercolumns (1, D_phi, H, W).

        Each tap's tiles are assembled at the frame's size (TileGrid.assemble: the mosaic resized
        to the frame, or overlapping tiles combined on frame-sized canvases), then compressed.
        """
        _, _, height, width = frame.shape
        grid = self.tile_grid(frame.shape[2], frame.shape[3])
        per_tap: list[list[torch.Tensor]] = [[] for _ in self.config.backbone.taps]
        for _start, taps in self.backbone_tiles(frame):
            for store, tap in zip(per_tap, taps):
                store.append(tap.contiguous())
        compressed = []
        for store, factor in zip(per_tap, self.tucker_factors):
            hypercolumns = grid.assemble(torch.cat(store))
            compressed.append(torch.einsum("nchw,cr->nrhw", hypercolumns, factor.to(hypercolumns.dtype)))
        return torch.cat(compressed, dim=1)

    def forward(
        self,
        frame: torch.Tensor,
        prev_frame: torch.Tensor,
        clicks: Sequence[Click],
        projected: torch.Tensor | None = None,
        times: StageTimes | None = None,
        output_frame: torch.Tensor | None = None,
        output_count: int | None = None,
    ) -> torch.Tensor:
        """frame, prev_frame (1, 3, H, W) in [0, 1]; clicks in frame pixels -> (1, M, H, W) in [0, 1].

        projected: this frame's project_frame result when the caller has it cached. times:
        collects the stages ("network" includes the click maps). output_frame: the plate at full
        resolution (1, 3, H', W') when `frame` is its working-size copy; the result is then
        (1, output_count or M, H', W'), guided-upsampled (see segment_projected).
        """
        return self.forward_objects(frame, prev_frame, [clicks], projected, times, output_frame, output_count)

    def forward_objects(
        self,
        frame: torch.Tensor,
        prev_frame: torch.Tensor,
        clicks_per_object: Sequence[Sequence[Click]],
        projected: torch.Tensor | None = None,
        times: StageTimes | None = None,
        output_frame: torch.Tensor | None = None,
        output_count: int | None = None,
    ) -> torch.Tensor:
        """forward() for N objects of one frame at once -> (N, M or output_count, H, W).

        The projected features depend only on the frame: they are computed (or taken) once and
        shared by all N objects, whose context channels differ only in the click maps; the
        network runs on the N contexts as one batch (see segment_projected).
        """
        times = StageTimes() if times is None else times
        if projected is None:
            projected = self.project_frame(frame, times)
        with times.stage("network", frame.device):
            context = torch.cat([context_channels(frame, prev_frame, clicks, self.config.context)
                                 for clicks in clicks_per_object])
            context = context.contiguous(memory_format=torch.channels_last)
        return self.segment_projected(projected, context, times, output_frame, output_count)

    def segment_projected(
        self, projected: torch.Tensor, context: torch.Tensor, times: StageTimes | None = None,
        output_frame: torch.Tensor | None = None, output_count: int | None = None,
    ) -> torch.Tensor:
        """projected (1, width, H, W) layer 1's feature part, context (N, 10, H, W) -> (N, M, H, W).

        N > 1: N objects of one frame (forward_objects); the network runs on the batch with the
        projected features broadcast (not copied), the refinement per object.

        The network, then the configured refinement (none by default) guided by X_t, the
        context's first three channels. Inference and training both run this, so the losses see
        what users get. output_frame (1, 3, H', W'): X_t at full resolution; the refinement's
        coefficients fitted at H x W are applied to it (guided upsampling), giving (1, M, H', W'),
        or only the first output_count candidates (the others are not upsampled). times: collects
        the "network" and "refine" stages.
        """
        times = StageTimes() if times is None else times
        with times.stage("network", context.device):
            candidates = self.network.forward_projected(projected.to(context.dtype), context)
        with times.stage("refine", context.device):
            refined = [refine_candidates(candidates[i : i + 1], context[i : i + 1, :3], self.config.refine,
                                         output_frame, output_count) for i in range(candidates.shape[0])]
            return refined[0] if len(refined) == 1 else torch.cat(refined)

    def flops(self, height: int, width: int) -> dict[str, float]:
        """Floating-point operations (2 per multiply-add) of each stage for an H x W frame.

        Keys: backbone, projection (efficient path), network, literal_projection (the paper's
        full-resolution Tucker projection + layer 1 feature part, for comparison).
        """
        cfg = self.config
        tile = cfg.backbone.tile_size
        grid = self.tile_grid(height, width)
        backbone, size = 0.0, tile
        for layer in self.backbone.features:
            if isinstance(layer, nn.MaxPool2d):
                size //= 2
            elif isinstance(layer, nn.Conv2d):
                backbone += 2.0 * layer.in_channels * layer.out_channels * 9 * size * size
        net_width = cfg.network.width
        projection = sum(
            2.0 * grid.count * (tile // TAP_STRIDE[t]) ** 2 * c * net_width
            for t, c in zip(cfg.backbone.taps, cfg.tap_channels)
        )
        pixels = float(height * width)
        skip = CONTEXT_CHANNELS if cfg.network.context_skips else 0
        network = 2.0 * pixels * CONTEXT_CHANNELS * net_width
        network += len(cfg.network.dilations) * 2.0 * pixels * 9 * (net_width + skip) * net_width
        network += 2.0 * pixels * 9 * (net_width + skip) * cfg.network.candidates
        literal = 2.0 * pixels * sum(c * r for c, r in zip(cfg.tap_channels, cfg.compressed_channels))
        literal += 2.0 * pixels * sum(cfg.compressed_channels) * net_width
        return {
            "backbone": backbone * grid.count,
            "projection": projection,
            "network": network,
            "literal_projection": literal,
        }


def _sum_coarse_to_fine(projected: list[torch.Tensor], strides: list[int]) -> torch.Tensor:
    """Sum per-tap (b, h_k, w_k, C) maps at the finest tap's resolution.

    Taps are visited from the largest stride to the smallest; the running sum is repeated by the
    integer stride ratio (nearest upsampling, done as a broadcast add without materialising the
    repeat) and added in place to the next finer tap's map.
    """
    order = sorted(range(len(strides)), key=lambda i: -strides[i])
    total, total_stride = None, None
    for index in order:
        current = projected[index]
        if total is not None:
            factor = total_stride // strides[index]
            b, h, w, c = total.shape
            current = current.view(b, h, factor, w, factor, c).add_(total.view(b, h, 1, w, 1, c))
            current = current.view(b, h * factor, w * factor, c)
        total, total_stride = current, strides[index]
    return total
