"""The inference API: one Segmenter per model and device, used by every front end.

The renderer, the bridge, the farm jobs and the evaluator all call `Segmenter.segment`. It keeps
each frame's projected features (the expensive backbone part) in a byte-bounded LRU keyed by
the caller's frame identity, so a new set of clicks on the same frame runs only the network.
With a matte cache (matte_cache_bytes, the bridge's interactive Segmenter), an object whose
inputs have not changed since a recent call is not computed again: when the artist edits one
object of a several-object shot, only that object's network and edge stage run.

    segmenter = Segmenter.from_checkpoint("hyperseg.pt", device="auto")
    matte = segmenter.segment(rgb, prev_rgb, [Click(812, 440.5, True)], frame_key=("sh010", 1001))
    matte.alpha       # (H, W) float32 in [0, 1], candidate 1
    matte.candidates  # (M, H, W) float32 in [0, 1]
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Hashable, Sequence

import numpy as np
import torch

from .cache import ByteLRU
from .checkpoint import load_checkpoint
from .clicks import Click
from .config import EDGE_METHODS, EdgesConfig
from .errors import HypersegError
from .devices import DEFAULT_PRECISION, check_precision, compute_dtype, precision_context, resolve_device, to_device_image
from .modeling.edges import decide_edges
from .modeling.hyperseg import HyperSeg, StageTimes
from .modeling.resize import resize_image

DEFAULT_CACHE_BYTES = 2 * 1024**3

#: The matte cache of an interactive Segmenter (the bridge's): the objects of a frame whose
#: clicks did not change are not segmented again (about 60 objects' candidate 1 at 2K, 8 MB each).
INTERACTIVE_MATTE_CACHE_BYTES = 512 * 1024**2

#: Bytes of network activations that one batch of objects may take (segment_objects): a
#: working-size model runs every object of a frame in one batch, a native 2K model a few at a time.
OBJECT_BATCH_BYTES = 2 * 1024**3


@dataclass
class Matte:
    """The result for one frame.

    candidates: (M, H, W) float32 in [0, 1], ranked (candidate 1 is the model's best); (1, H, W)
        when segment() was asked for candidate 1 only.
    features_cached: whether the frame's features came from the cache (network only).
    timings: seconds per stage (features, network, refine, total, ...).
    reused: the candidates came from the matte cache (nothing was computed for this object).
    """

    candidates: np.ndarray
    features_cached: bool
    timings: dict[str, float] = field(default_factory=dict)
    reused: bool = False

    @property
    def alpha(self) -> np.ndarray:
        """Candidate 1, (H, W)."""
        return self.candidates[0]

    def coverage(self) -> float:
        """Fraction of the frame inside the matte (alpha > 0.5)."""
        return np.count_nonzero(self.alpha > 0.5) / self.alpha.size


class SegmentError(HypersegError, ValueError):
    """Inputs to segment() are inconsistent; the message says which."""


class EdgeMethodError(SegmentError):
    """The edge stage asked for is unknown, or this model cannot run it (`learned` without a
    band refiner): the shot's or request's options.edges."""

    field = "options.edges"


class Segmenter:
    """A model on a device, with a per-frame feature cache."""

    def __init__(
        self,
        model: HyperSeg,
        device: str = "auto",
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        metadata: dict[str, Any] | None = None,
        precision: str = DEFAULT_PRECISION,
        matte_cache_bytes: int = 0,
    ):
        self.device = resolve_device(device)
        check_precision(self.device, precision)
        self.precision = precision
        self.model = model.eval().to(self.device, memory_format=torch.channels_last)
        self.metadata = dict(metadata or {})
        self.cache = ByteLRU(cache_bytes)
        self.mattes = ByteLRU(matte_cache_bytes)  # one object's candidates by everything they depend on

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, device: str = "auto", cache_bytes: int = DEFAULT_CACHE_BYTES,
        backbone_weights: str | None = None, precision: str = DEFAULT_PRECISION, matte_cache_bytes: int = 0,
    ) -> "Segmenter":
        model, metadata = load_checkpoint(path, backbone_weights)
        metadata = {"checkpoint": str(path)} | metadata
        return cls(model, device=device, cache_bytes=cache_bytes, metadata=metadata, precision=precision,
                   matte_cache_bytes=matte_cache_bytes)

    def with_caches(self, cache_bytes: int, matte_cache_bytes: int = 0) -> "Segmenter":
        """The same model (not a copy), device, metadata and precision with new, empty caches:
        the bridge's job segmenter (none), tracking several objects (features), a benchmark
        holding one frame's features, or one timing the bridge's interactive case (mattes too)."""
        return Segmenter(self.model, device=str(self.device), cache_bytes=cache_bytes, metadata=self.metadata,
                         precision=self.precision, matte_cache_bytes=matte_cache_bytes)

    @property
    def feature_dtype(self) -> torch.dtype:
        """dtype of cached features at the default precision: the network's compute dtype."""
        return compute_dtype(self.precision)

    @property
    def model_name(self) -> str:
        return str(self.metadata.get("name", Path(self.metadata.get("checkpoint", "untitled")).stem))

    @torch.inference_mode()
    def segment(
        self,
        frame: np.ndarray,
        prev_frame: np.ndarray | None = None,
        clicks: Sequence[Click] = (),
        *,
        frame_key: Hashable | None = None,
        scale: float = 1.0,
        all_candidates: bool = True,
        precision: str | None = None,
        edges: str | None = None,
        prev_frame_key: Hashable | None = None,
    ) -> Matte:
        """Segment one frame.

        frame, prev_frame: (H, W, 3) float32 RGB in [0, 1], display-referred; prev_frame None (a
        shot's first frame) means the frame itself. clicks: in pixels of this frame, origin
        top-left. frame_key: the caller's identity of the frame pixels (e.g. (path, mtime));
        None hashes the pixels. scale: segment a frame resized by this factor and resize the
        matte back (fast previews); on a model with a working_short_side it scales the working
        size instead, and the matte comes back by guided upsampling (see working_size).
        all_candidates: False returns candidate 1 only (Matte.candidates (1, H, W)); at a working
        size the other candidates are then never brought to the plate's resolution, which is most
        of a click update's cost on a 2K plate. precision: float32 | float16 (a shot's
        options.precision; default the Segmenter's), see hyperseg_vfx.devices: PrecisionError
        where this device cannot compute it. edges: how the edge is decided at the plate's
        resolution (modeling/edges.py): "none", "graphcut", or None for the model config's
        `edges.method` ("none" for native models and older checkpoints). prev_frame_key: the
        caller's identity of prev_frame's pixels; with frame_key, it lets the matte cache serve
        a repeated call (without it, a call with a prev_frame is always computed).
        """
        return self.segment_objects(frame, prev_frame, [clicks], frame_key=frame_key, scale=scale,
                                    all_candidates=all_candidates, precision=precision, edges=edges,
                                    prev_frame_key=prev_frame_key)[0]

    @torch.inference_mode()
    def segment_objects(
        self,
        frame: np.ndarray,
        prev_frame: np.ndarray | None,
        clicks_per_object: Sequence[Sequence[Click]],
        *,
        frame_key: Hashable | None = None,
        scale: float = 1.0,
        all_candidates: bool = True,
        precision: str | None = None,
        edges: str | None = None,
        prev_frame_key: Hashable | None = None,
    ) -> list[Matte]:
        """segment() for several objects of one frame: one Matte per click list, in order.

        The frame's features are computed once (or taken from the cache) for all objects; the
        network then runs on the objects' context channels in batches (of as many objects as
        OBJECT_BATCH_BYTES of activations hold). Each Matte equals segment() of its clicks
        alone up to the batched convolutions' rounding. The Mattes share one timings dict (the
        frame's stages, all objects together). An object that the matte cache holds (the same
        frame, previous frame, clicks, working size, precision, candidates and edges as a recent
        call: see _matte_key) is returned from it, read-only, and only the others are computed.
        """
        height, width = self._check_inputs(frame, prev_frame, scale)
        edge_config = self.edge_config(edges)
        precision = self.precision if precision is None else precision
        check_precision(self.device, precision)
        start = time.perf_counter()
        times = StageTimes()
        target = self.working_size(height, width, scale)
        frame_id = frame_key if frame_key is not None else _pixels_key(frame)
        keys = [self._matte_key(frame_id, prev_frame, prev_frame_key, target, precision, all_candidates,
                                edge_config, clicks) for clicks in clicks_per_object]
        results = [None if key is None else self.mattes.get(key) for key in keys]
        todo = [i for i, result in enumerate(results) if result is None]
        cached = True
        if todo:
            computed, cached = self._compute_objects(
                frame, prev_frame, [clicks_per_object[i] for i in todo], target, (frame_id, target, precision),
                precision, all_candidates, edge_config, times)
            for i, result in zip(todo, computed):
                if keys[i] is not None:
                    result = np.array(result)  # its own memory (not a view of the batch), read-only
                    result.setflags(write=False)
                    self.mattes.put(keys[i], result)
                results[i] = result
        times["total"] = time.perf_counter() - start
        fresh = set(todo)
        return [Matte(result, cached, dict(times), reused=i not in fresh) for i, result in enumerate(results)]

    def _compute_objects(
        self, frame: np.ndarray, prev_frame: np.ndarray | None, clicks_per_object: Sequence[Sequence[Click]],
        target: tuple[int, int], feature_key: Hashable, precision: str, all_candidates: bool,
        edge_config: EdgesConfig, times: StageTimes,
    ) -> tuple[list[np.ndarray], bool]:
        """The (K, H, W) candidates of each object, computed, and whether the frame's features
        came from the feature cache (see segment_objects)."""
        height, width = frame.shape[:2]
        full = to_device_image(np.ascontiguousarray(frame, dtype=np.float32), self.device)
        x, x_prev = full, full if prev_frame is None else to_device_image(np.ascontiguousarray(prev_frame, dtype=np.float32), self.device)
        resized = target != (height, width)
        guided = resized and self.model.config.working_short_side is not None
        if resized:
            with times.stage("resize", self.device):
                x, x_prev = (resize_image(t, target) for t in (x, x_prev))
        per_object = [[Click(c.x * target[1] / width, c.y * target[0] / height, c.positive) for c in clicks]
                      for clicks in clicks_per_object]
        with precision_context(self.device, precision):
            projected = self.cache.get(feature_key)
            cached = projected is not None
            if not cached:
                with times.stage("features", self.device):
                    projected = self.model.project_frame(x, times).to(compute_dtype(precision))
                self.cache.put(feature_key, projected)
            batch = self._object_batch(*target)
            results = []
            for first in range(0, len(per_object), batch):
                candidates = self.model.forward_objects(
                    x, x_prev, per_object[first : first + batch], projected=projected, times=times,
                    output_frame=full if guided else None, output_count=None if all_candidates else 1)
                if not all_candidates:
                    candidates = candidates[:, :1]
                if resized and not guided:
                    candidates = resize_image(candidates.float(), (height, width)).clamp_(0, 1)
                results.extend(candidates.float().cpu().numpy())
        if edge_config.method != "none":
            with times.stage("edges", self.device):
                plate = np.asarray(frame, dtype=np.float32)
                results = [decide_edges(result, plate, list(clicks), edge_config, height / target[0],
                                        self.model.band_refiner)
                           for result, clicks in zip(results, clicks_per_object)]
        return results, cached

    def _matte_key(
        self, frame_id: Hashable, prev_frame: np.ndarray | None, prev_frame_key: Hashable | None,
        target: tuple[int, int], precision: str, all_candidates: bool, edge_config: EdgesConfig,
        clicks: Sequence[Click],
    ) -> Hashable | None:
        """What one object's candidates depend on besides the model, or None (not cached) when
        the matte cache is off or the previous frame's pixels have no identity from the caller."""
        if self.mattes.max_bytes == 0 or (prev_frame is not None and prev_frame_key is None):
            return None
        previous = None if prev_frame is None else prev_frame_key
        return (frame_id, previous, target, precision, all_candidates, dataclasses.astuple(edge_config), tuple(clicks))

    def edge_config(self, edges: str | None) -> EdgesConfig:
        """The model's EdgesConfig with the method replaced by `edges` (None: the model's);
        EdgeMethodError for an unknown method, or `learned` on a model without a band refiner
        (render_shot asks before its first frame)."""
        config = self.model.config.edges
        if edges is None:
            return config
        if edges not in EDGE_METHODS:
            raise EdgeMethodError(f"edges must be one of {', '.join(EDGE_METHODS)}, got {edges!r}")
        if edges == "learned" and self.model.band_refiner is None:
            raise EdgeMethodError(f"edges learned: model {self.model_name} has no trained band refiner "
                               "(train one with `hyperseg-vfx checkpoint train-refiner`, or choose grabcut)")
        return dataclasses.replace(config, method=edges)

    def _object_batch(self, height: int, width: int) -> int:
        """Objects per network batch at a working size of height x width: the network's
        [hidden | context] buffer and one layer's output per object, within OBJECT_BATCH_BYTES."""
        config = self.model.config.network
        element = torch.finfo(self.feature_dtype).bits // 8
        per_object = (2 * config.width + 10) * height * width * element
        return max(1, OBJECT_BATCH_BYTES // per_object)

    def working_size(self, height: int, width: int, scale: float = 1.0) -> tuple[int, int]:
        """(h, w) that backbone and network run at for an H x W plate.

        A native model (working_short_side None) runs at the plate size times `scale`. A model
        with a working short side S runs at short side S * scale, never above the plate's own
        size (a proxy smaller than S runs natively).
        """
        working = self.model.config.working_short_side
        factor = scale if working is None else min(1.0, working * scale / min(height, width))
        return max(1, round(height * factor)), max(1, round(width * factor))

    @staticmethod
    def _check_inputs(frame: np.ndarray, prev_frame: np.ndarray | None, scale: float) -> tuple[int, int]:
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise SegmentError(f"frame must be (H, W, 3) RGB, got shape {frame.shape}")
        if prev_frame is not None and prev_frame.shape != frame.shape:
            raise SegmentError(f"previous frame is {prev_frame.shape[1]}x{prev_frame.shape[0]}, frame is {frame.shape[1]}x{frame.shape[0]}")
        if not 0 < scale <= 4:
            raise SegmentError(f"scale must be in (0, 4], got {scale}")
        return frame.shape[0], frame.shape[1]


def _pixels_key(frame: np.ndarray) -> str:
    """Content hash of a frame, the cache key when the caller gives none."""
    return hashlib.blake2b(np.ascontiguousarray(frame).data, digest_size=16).hexdigest()
