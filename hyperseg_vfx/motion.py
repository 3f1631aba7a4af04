"""Motion measured on the plates: dense optical flow (OpenCV's DIS) and what is done with it:
carrying clicks (tracking) and moving mattes between frames (tracking's checks, temporal
smoothing).

A flow field is (H, W, 2) float32: flow[y, x] = (dx, dy) is where the pixel at (x, y) of the
source frame went in the destination frame, in pixels. DIS (Kroeger et al., ECCV 2016,
cv2.DISOpticalFlow) runs on 8-bit grey images, so plates (display-referred RGB in [0, 1], as the
model sees them) are converted with the Rec. 601 luma weights first.
"""

from __future__ import annotations

import hashlib
from typing import Callable

import numpy as np

from .errors import HypersegError

#: flow(source_rgb, destination_rgb) -> (H, W, 2) float32 flow from source to destination.
FlowEstimator = Callable[[np.ndarray, np.ndarray], np.ndarray]

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class FlowError(HypersegError, ValueError):
    """Motion cannot be measured on these plates (too small for DIS's patches)."""


def grey8(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) float RGB in [0, 1] -> (H, W) uint8 luma, C-contiguous (what DIS takes)."""
    luma = np.clip(np.asarray(rgb, dtype=np.float32) @ _LUMA, 0.0, 1.0)
    return np.ascontiguousarray(np.rint(luma * 255.0).astype(np.uint8))


def dis_flow(source_rgb: np.ndarray, destination_rgb: np.ndarray) -> np.ndarray:
    """DIS optical flow (OpenCV, `medium` preset) from source to destination, (H, W, 2) float32.

    The preset's defaults: 8 px patches, 3 px stride, variational refinement on; deterministic
    for the same pair of images."""
    import cv2

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    try:
        return dis.calc(grey8(source_rgb), grey8(destination_rgb), None)
    except cv2.error:
        height, width = source_rgb.shape[:2]
        raise FlowError(f"cannot measure motion on {width}x{height} plates (DIS optical flow needs about 12 px "
                        "on each side)") from None


class SharedFlows:
    """A FlowEstimator that computes each (source, destination) pair's flow once and serves it
    again, for tracking several objects over the same plates (tracking.objects): the flows
    depend on the plates only, and each object's pass needs the same ones.

    Pairs are keyed by the plates' pixels (a blake2b digest of each RGB array: a few ms at 2K,
    against about 0.25 s for one DIS flow). Flows are kept until max_bytes are held; later pairs
    are computed and not kept. The objects are tracked one after the other in the same frame
    order, so an LRU would evict every flow just before the next object asks for it; keeping
    the first ones serves at least those. `computed` counts the flows actually computed.
    """

    def __init__(self, flow: FlowEstimator, max_bytes: int):
        self.flow = flow
        self.max_bytes = max_bytes
        self.computed = 0
        self._kept: dict[tuple[bytes, bytes], np.ndarray] = {}
        self._bytes = 0

    def __call__(self, source_rgb: np.ndarray, destination_rgb: np.ndarray) -> np.ndarray:
        key = (_digest(source_rgb), _digest(destination_rgb))
        kept = self._kept.get(key)
        if kept is not None:
            return kept
        flow = self.flow(source_rgb, destination_rgb)
        self.computed += 1
        if self._bytes + flow.nbytes <= self.max_bytes:
            flow.setflags(write=False)  # served to every object: nobody may change it
            self._kept[key] = flow
            self._bytes += flow.nbytes
        return flow


def _digest(rgb: np.ndarray) -> bytes:
    """A digest of an image's pixels, shape and dtype."""
    rgb = np.ascontiguousarray(rgb)
    digest = hashlib.blake2b(repr((rgb.shape, rgb.dtype.str)).encode(), digest_size=16)
    digest.update(rgb.data)
    return digest.digest()


def sample_flow(flow: np.ndarray, x: float, y: float) -> tuple[float, float]:
    """Bilinear (dx, dy) of `flow` at pixel coordinates (x, y) (origin top-left, pixel centres
    at +0.5); positions beyond the frame take the nearest edge pixel's flow."""
    height, width = flow.shape[:2]
    fx = min(max(x - 0.5, 0.0), width - 1.0)
    fy = min(max(y - 0.5, 0.0), height - 1.0)
    x0, y0 = int(fx), int(fy)
    x1, y1 = min(x0 + 1, width - 1), min(y0 + 1, height - 1)
    ax, ay = fx - x0, fy - y0
    top = (1 - ax) * flow[y0, x0] + ax * flow[y0, x1]
    bottom = (1 - ax) * flow[y1, x0] + ax * flow[y1, x1]
    dx, dy = (1 - ay) * top + ay * bottom
    return float(dx), float(dy)


def carry_point(flow: np.ndarray, x: float, y: float) -> tuple[float, float]:
    """(x, y) moved by `flow` (source -> destination) to where it is in the destination frame."""
    dx, dy = sample_flow(flow, x, y)
    return x + dx, y + dy


def warp_image(values: np.ndarray, flow_back: np.ndarray, outside: float | None = 0.0) -> np.ndarray:
    """A source frame's (H, W) float image moved into the destination frame, (H, W) float32.

    flow_back: flow from the destination to the source, so that destination pixel p takes the
    source value at p + flow_back[p] (backward warping: no holes), bilinear. Pixels that come from
    beyond the frame take `outside`, or the nearest edge pixel's value when it is None."""
    import cv2

    height, width = values.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    border = cv2.BORDER_REPLICATE if outside is None else cv2.BORDER_CONSTANT
    return cv2.remap(np.asarray(values, dtype=np.float32), xs + flow_back[..., 0], ys + flow_back[..., 1],
                     interpolation=cv2.INTER_LINEAR, borderMode=border, borderValue=0.0 if outside is None else outside)


def warp_mask(mask: np.ndarray, flow_back: np.ndarray) -> np.ndarray:
    """A source frame's (H, W) bool mask moved into the destination frame (warp_image, > 0.5).
    Pixels that come from beyond the frame are outside the mask."""
    return warp_image(np.asarray(mask, dtype=np.float32), flow_back) > 0.5
