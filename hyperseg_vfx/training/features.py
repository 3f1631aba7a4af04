"""Frozen-feature cache for training: each frame's Tucker-compressed backbone taps, computed once.

The backbone and the Tucker factors are frozen, so a frame's compressed taps
(HyperSeg.compress_taps, per tap (T, r_k, h_k, w_k) at tile resolution) never change during
training; only layer 1 onwards is trained. Caching them makes CPU training feasible: a step then
costs the network alone. Entries are stored as float16 (half the memory; the values are
activations, far from float16's limits) in memory or as one file per frame in a folder; with
'none' nothing is kept (full-resolution frames on a GPU, where the backbone is cheap and the
entries would be large).

Keys combine the frame's identity (resolved path, size and modification time of the file, and
the training resolution) with the model's feature identity (backbone weights spec, taps, tile
size, tessellation, Tucker factors), so a changed file or model never reuses a stale entry.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_output
from ..modeling.hyperseg import HyperSeg

Features = list[torch.Tensor]


def feature_identity(model: HyperSeg) -> str:
    """A digest of everything the compressed taps depend on besides the frame."""
    b = model.config.backbone
    grid = (tuple(b.tile_extent),) if any(b.tile_extent) else ()  # absent for the paper's grid: older keys hold
    grid += (b.tile_overlap,) if b.tile_overlap != "none" else ()  # absent without overlap: older keys hold
    digest = hashlib.sha256(repr((b.weights, tuple(b.taps), b.tile_size, b.tessellate) + grid).encode())
    for factor in model.tucker_factors:
        digest.update(factor.detach().cpu().float().numpy().tobytes())
    return digest.hexdigest()[:16]


def frame_identity(path: str, size: tuple[int, int]) -> str:
    """The identity of a frame file read at (height, width) `size`."""
    stat = os.stat(path)
    return f"{Path(path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{size[0]}x{size[1]}"


@torch.no_grad()
def compressed_features(model: HyperSeg, frame: torch.Tensor) -> Features:
    """frame (1, 3, H, W) in [0, 1] on the model's device -> per tap (T, r_k, h_k, w_k) float32."""
    per_tap: list[list[torch.Tensor]] = [[] for _ in model.config.backbone.taps]
    for _start, taps in model.backbone_tiles(frame):
        for store, tap in zip(per_tap, model.compress_taps(taps)):
            store.append(tap.float().contiguous())
    return [torch.cat(store) for store in per_tap]


class FeatureCache:
    """Compressed taps per frame. store: 'memory', 'none' (nothing kept: every get computes) or a
    folder (one .pt file per frame, shared by runs and processes).

    get() returns float32 tensors on the frame's device, computing and storing the entry on a miss.
    """

    def __init__(self, model: HyperSeg, store: str = "memory"):
        self.model = model
        self.store = store
        self.folder = None if store in ("memory", "none") else Path(store)
        self.identity = feature_identity(model)
        self.memory: dict[str, Features] = {}
        self.hits = 0
        self.misses = 0

    def _file(self, key: str) -> Path:
        name = hashlib.sha256(f"{self.identity}|{key}".encode()).hexdigest()[:32]
        return self.folder / name[:2] / f"{name}.pt"

    def _load(self, key: str) -> Features | None:
        if self.folder is None:
            return self.memory.get(key)
        path = self._file(key)
        return torch.load(path, map_location="cpu", weights_only=True) if path.is_file() else None

    def _store(self, key: str, features: Features) -> None:
        if self.folder is None:
            self.memory[key] = features
            return
        with atomic_output(self._file(key)) as tmp:
            torch.save(features, tmp)

    def get(self, key: str, frame: torch.Tensor) -> Features:
        """The compressed taps of `frame` ((1, 3, H, W), identified by `key`), float32 on its device.

        Stored entries are float16 and every use goes through them, so a hit and a miss give the
        same values.
        """
        if self.store == "none":
            self.misses += 1
            return compressed_features(self.model, frame)
        features = self._load(key)
        if features is None:
            self.misses += 1
            features = [f.half().cpu() for f in compressed_features(self.model, frame)]
            self._store(key, features)
        else:
            self.hits += 1
        return [f.to(frame.device, torch.float32) for f in features]


def frame_tensor(rgb: np.ndarray, device: torch.device) -> torch.Tensor:
    """(H, W, 3) float32 array -> (1, 3, H, W) tensor on `device`."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).unsqueeze(0).to(device)
