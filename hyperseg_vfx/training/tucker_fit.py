"""Tucker factors fitted on a dataset's frames, and the FACTORS file that `fit-tucker` writes.

The fit streams (StreamingTuckerFit): frames are read one at a time, so any number fits in
memory. A FACTORS file is a torch file loadable with weights_only=True:
{"format": "hyperseg-vfx-tucker", "feature_key": (backbone weights, taps, tile size, tessellate),
 "ranks": [...], "factors": [(C_k, r_k) tensors], "frames": N, "data": spec}.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from ..atomic import atomic_output
from ..data.datasets import Sample
from ..errors import HypersegError
from ..modeling.factory import fit_tucker
from ..modeling.hyperseg import HyperSeg
from .batches import resize_frame, training_size
from .features import frame_tensor

FORMAT = "hyperseg-vfx-tucker"


def _feature_key(model: HyperSeg) -> list:
    b = model.config.backbone
    return [b.weights, list(b.taps), b.tile_size, b.tessellate]


def distinct_frames(samples: Sequence[Sample], count: int) -> list[str]:
    """Up to `count` distinct frame paths, evenly spaced over the dataset's order."""
    paths = list(dict.fromkeys(s.rgb_path for s in samples))
    if count >= len(paths):
        return paths
    return [paths[i] for i in np.linspace(0, len(paths) - 1, count).round().astype(int)]


def _frames(paths: Sequence[str], size: int | None, side: str) -> Iterator[np.ndarray]:
    from ..io.images import read_frame

    for path in paths:
        rgb = read_frame(path).rgb
        if size:
            target = training_size(rgb.shape[0], rgb.shape[1], size, side)
            rgb = resize_frame(frame_tensor(rgb, torch.device("cpu")), target)[0].permute(1, 2, 0).numpy()
        yield rgb


def fit_on_dataset(model: HyperSeg, samples: Sequence[Sample], count: int, size: int | None,
                   side: str = "long") -> list[torch.Tensor]:
    """Fit and install the model's Tucker factors on up to `count` frames of `samples`.

    size: resize frames so their long (side='short': short) side is `size` first (the training
    resolution); None keeps the full resolution.
    """
    return fit_tucker(model, _frames(distinct_frames(samples, count), size, side))


def save_factors(path: str | Path, model: HyperSeg, frames: int, data: str) -> Path:
    payload = {
        "format": FORMAT, "feature_key": _feature_key(model), "ranks": list(model.config.compressed_channels),
        "factors": [f.detach().cpu().clone() for f in model.tucker_factors], "frames": frames, "data": data,
    }
    with atomic_output(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_factors(path: str | Path, model: HyperSeg) -> None:
    """Install the factors of a FACTORS file into `model`; HypersegError if they do not fit it."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for missing or damaged files
        raise HypersegError(f"{path}: cannot read Tucker factors ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise HypersegError(f"{path}: not a hyperseg-vfx Tucker factors file")
    expected = _feature_key(model)
    if payload["feature_key"] != expected or payload["ranks"] != list(model.config.compressed_channels):
        raise HypersegError(
            f"{path}: factors fitted for backbone {payload['feature_key']} ranks {payload['ranks']}, "
            f"the model has {expected} ranks {list(model.config.compressed_channels)}"
        )
    model.set_tucker_factors(payload["factors"])
