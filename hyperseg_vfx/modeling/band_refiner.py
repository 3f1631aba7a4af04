"""A small learned refiner of the edge at the plate's resolution (edges.method "learned").

grabcut (modeling/edges.py) decides the edge from colour models of the object and its
background. Where the two share colours, or the plate is grainy and the edge soft, that decision
can sit a few pixels off. The refiner, five dilated 3x3 convolutions and a 1x1 head (10,033
weights at width 16), looks, for every pixel within `half_width` plate px of grabcut's edge, at
the plate's own pixels, the network's upsampled matte and grabcut's matte, and gives that pixel
its alpha.
It is in the spirit of Background Matting V2's refiner (Lin et al., CVPR 2021): a cheap network
at full resolution, run only on the blocks of the frame the edge passes through, so its cost is
bounded by the band. It is trained on recorded edge-stage inputs (training/band_refiner.py).

Tensor layout: refiner inputs are (5, H, W) float32: the plate's RGB - 0.5, the network's matte
- 0.5 and grabcut's matte - 0.5. The network maps (B, 5, h, w) to (B, 1, h, w) logits of alpha,
with `h, w` any size (zero padding); only the centre of each block, REACH px from its sides,
is used, so every used pixel saw its whole receptive field.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..clicks import Click
from .edges import chessboard_dilation, click_disks, label_edges, padded_box

#: Dilations of the 3x3 layers; their sum is the receptive field's radius in plate px.
DILATIONS = (1, 2, 4, 8, 1)
REACH = sum(DILATIONS)
#: Side (plate px) of the blocks the band is cut into; each runs with REACH px of context around it.
BLOCK = 32
#: Blocks per forward pass: bounds the activations' memory (about 70 MB at width 16).
BLOCKS_PER_BATCH = 128
#: The logit added per unit of grabcut's matte - 0.5: where the refiner has nothing to say it
#: keeps grabcut's decision, so training starts from grabcut and learns the corrections.
EDGE_PRIOR = 6.0
INPUT_CHANNELS = 5


class BandRefiner(nn.Module):
    """(B, 5, h, w) refiner inputs -> (B, 1, h, w) alpha logits; `width` channels per layer."""

    def __init__(self, width: int):
        super().__init__()
        layers: list[nn.Module] = []
        channels = INPUT_CHANNELS
        for dilation in DILATIONS:
            layers += [nn.Conv2d(channels, width, 3, padding=dilation, dilation=dilation), nn.ReLU(inplace=True)]
            channels = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(width, 1, 1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(inputs)) + EDGE_PRIOR * inputs[:, 4:5]

    @torch.inference_mode()
    def refine(self, network_alpha: np.ndarray, edge_alpha: np.ndarray, plate: np.ndarray, clicks: Sequence[Click],
               half_width: float, click_radius: float) -> np.ndarray:
        """network_alpha, edge_alpha (H, W) float32, plate (H, W, 3) float32 RGB, clicks in plate px
        -> (H, W) float32: edge_alpha with the pixels within `half_width` px of its 0.5 contour
        (outside the click disks of `click_radius` px) given the refiner's alpha.

        Pixels outside that band are returned unchanged, bit for bit. Runs on the refiner's device.
        """
        band = refiner_band(edge_alpha, half_width)
        positive, negative = click_disks(edge_alpha.shape, clicks, click_radius)
        band &= ~(positive | negative)
        result = np.array(edge_alpha, dtype=np.float32, copy=True)
        if not band.any():
            return result
        rows, cols = np.nonzero(band)
        box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
        local_band = band[box]
        inputs = padded_inputs(plate[box], network_alpha[box], edge_alpha[box], REACH, REACH + BLOCK)
        refined = self._refined_blocks(inputs, local_band)
        result[box][local_band] = refined[local_band]
        return result

    def _refined_blocks(self, inputs: np.ndarray, band: np.ndarray) -> np.ndarray:
        """inputs (5, REACH + h + REACH + BLOCK, ...) from padded_inputs, band (h, w) bool ->
        (h, w) float32 alpha, computed on the BLOCK x BLOCK cells holding a band pixel (0 elsewhere)."""
        rows, cols = _blocks_touching(band)
        device = next(self.parameters()).device
        side = BLOCK + 2 * REACH
        refined = np.zeros(band.shape, np.float32)
        for first in range(0, len(rows), BLOCKS_PER_BATCH):
            chosen = list(zip(rows[first : first + BLOCKS_PER_BATCH], cols[first : first + BLOCKS_PER_BATCH]))
            batch = np.stack([inputs[:, r * BLOCK : r * BLOCK + side, c * BLOCK : c * BLOCK + side] for r, c in chosen])
            logits = self(torch.from_numpy(batch).to(device))[:, 0, REACH : REACH + BLOCK, REACH : REACH + BLOCK]
            alphas = torch.sigmoid(logits.float()).cpu().numpy()
            for (r, c), alpha in zip(chosen, alphas):
                target = refined[r * BLOCK : (r + 1) * BLOCK, c * BLOCK : (c + 1) * BLOCK]
                target[...] = alpha[: target.shape[0], : target.shape[1]]
        return refined


def refiner_band(edge_alpha: np.ndarray, half_width: float) -> np.ndarray:
    """(H, W) alpha -> (H, W) bool: the pixels within `half_width` px (chessboard, rounded) of a
    pixel whose alpha > 0.5 label differs from a 4-neighbour's (either side of the contour)."""
    edge = label_edges(edge_alpha > 0.5)
    reach = int(round(half_width))
    if reach <= 0 or not edge.any():
        return edge
    box = padded_box(edge, reach)
    band = np.zeros_like(edge)
    band[box] = chessboard_dilation(edge[box], reach)
    return band


def padded_inputs(plate: np.ndarray, network_alpha: np.ndarray, edge_alpha: np.ndarray, before: int,
                  after: int) -> np.ndarray:
    """(5, before + H + after, before + W + after) float32 refiner inputs, the frame's border
    pixels repeated outwards (so a block at the border sees a plausible neighbourhood)."""
    stacked = np.concatenate([np.asarray(plate, np.float32), network_alpha[..., None], edge_alpha[..., None]], axis=-1) - 0.5
    return np.pad(stacked.transpose(2, 0, 1), ((0, 0), (before, after), (before, after)), mode="edge")


def _blocks_touching(band: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the BLOCK x BLOCK cells of the frame that hold at least one band pixel."""
    height, width = band.shape
    cells_y, cells_x = -(-height // BLOCK), -(-width // BLOCK)
    padded = np.zeros((cells_y * BLOCK, cells_x * BLOCK), bool)
    padded[:height, :width] = band
    return np.nonzero(padded.reshape(cells_y, BLOCK, cells_x, BLOCK).any(axis=(1, 3)))
