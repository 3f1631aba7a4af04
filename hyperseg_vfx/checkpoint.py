"""Checkpoint files: one file with everything needed to run (or resume training) a model.

Contents (a plain dict, loadable with torch.load(weights_only=True)):
  format, format_version   identify the file and its layout
  package_version          hyperseg-vfx version that wrote it
  config                   ModelConfig as a dict (the architecture)
  backbone_weights         the backbone weights spec ("imagenet", "random:SEED")
  tucker                   list of (C_k, r_k) factors, one per tap
  network                  the network's state_dict
  band_refiner             the learned band refiner's state_dict, where the config has one
                           (edges.refiner_width > 0; absent otherwise)
  metadata                 name, description, training information (free-form, JSON-like)
The backbone's own weights are not stored: they come from the spec (torchvision's file or seeded
random weights), which keeps checkpoints a few MB.
"""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .atomic import atomic_output
from .door import ANYWHERE, PathRefused
from .errors import HypersegError
from .config import ConfigError, ModelConfig
from .modeling.hyperseg import HyperSeg

FORMAT = "hyperseg-vfx-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(HypersegError, ValueError):
    """A checkpoint cannot be used; the message names the file and the problem."""


def save_checkpoint(model: HyperSeg, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write `model` to `path` atomically. Returns the path."""
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "config": model.config.to_dict(),
        "backbone_weights": model.config.backbone.weights,
        "tucker": [f.detach().cpu().clone() for f in model.tucker_factors],
        "network": _weights(model.network),
        **({} if model.band_refiner is None else {"band_refiner": _weights(model.band_refiner)}),
        "metadata": {"created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
        | dict(metadata or {}),
    }
    with atomic_output(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read and check a checkpoint's payload without building the model."""
    path = Path(path)
    try:
        with ANYWHERE.open_file(path, "checkpoint") as handle:
            payload = torch.load(handle, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint file not found") from None
    except PathRefused as exc:
        raise CheckpointError(str(exc)) from None
    except Exception as exc:  # torch raises many types for damaged files
        raise CheckpointError(
            f"{path}: not a readable hyperseg-vfx checkpoint (damaged, truncated or another kind of file: "
            f"{type(exc).__name__})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a hyperseg-vfx checkpoint (no '{FORMAT}' header)")
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version} was written by a newer hyperseg-vfx "
            f"({payload.get('package_version')}); this version ({__version__}) reads up to {FORMAT_VERSION}. Upgrade hyperseg-vfx."
        )
    missing = [k for k in ("config", "backbone_weights", "tucker", "network", "metadata") if k not in payload]
    if missing:
        raise CheckpointError(f"{path}: checkpoint is missing {', '.join(missing)}")
    return payload


def load_checkpoint(path: str | Path, backbone_weights: str | None = None) -> tuple[HyperSeg, dict[str, Any]]:
    """Build the model stored in `path`. Returns (model in eval mode on the CPU, metadata).

    backbone_weights overrides the stored spec (e.g. "imagenet:/site/vgg19.pth" on a farm node).
    """
    payload = read_checkpoint(path)
    try:
        config = ModelConfig.from_dict(payload["config"])
    except ConfigError as exc:
        raise CheckpointError(f"{path}: invalid model config in checkpoint: {exc}") from None
    config.backbone.weights = backbone_weights or payload["backbone_weights"]
    model = HyperSeg(config)
    factors = payload["tucker"]
    if len(factors) != len(model.tucker_factors):
        raise CheckpointError(f"{path}: {len(factors)} Tucker factors for {len(model.tucker_factors)} taps")
    for tap, factor, expected in zip(config.backbone.taps, factors, model.tucker_factors):
        if tuple(factor.shape) != tuple(expected.shape):
            raise CheckpointError(
                f"{path}: Tucker factor for {tap} has shape {tuple(factor.shape)}, "
                f"the config needs {tuple(expected.shape)}"
            )
    model.set_tucker_factors(factors)
    _load_weights(path, "network", model.network, payload["network"])
    if model.band_refiner is not None:
        if "band_refiner" not in payload:
            raise CheckpointError(f"{path}: the config has a band refiner (edges.refiner_width "
                                  f"{config.edges.refiner_width}) but the checkpoint holds no band_refiner weights")
        _load_weights(path, "band refiner", model.band_refiner, payload["band_refiner"])
    return model.eval(), payload["metadata"]


def _weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """module's state_dict, detached, on the CPU."""
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def _load_weights(path: Path, part: str, module: torch.nn.Module, weights: Any) -> None:
    """module.load_state_dict(weights, strict); CheckpointError naming the file and part otherwise."""
    try:
        module.load_state_dict(weights, strict=True)
    except (RuntimeError, TypeError, AttributeError) as exc:
        detail = " ".join(str(exc).split())
        raise CheckpointError(f"{path}: {part} weights do not match the config: {detail}") from None


def describe_checkpoint(path: str | Path) -> dict[str, Any]:
    """What `checkpoint info` prints: format, versions, architecture summary, metadata."""
    payload = read_checkpoint(path)
    config = payload["config"]
    parameters = sum(t.numel() for t in payload["network"].values())
    return {
        "file": str(path),
        "format_version": payload["format_version"],
        "package_version": payload.get("package_version"),
        "backbone_weights": payload["backbone_weights"],
        "taps": list(config["backbone"]["taps"]),
        "tessellate": config["backbone"]["tessellate"],
        "tile_extent": list(ModelConfig.from_dict(config).backbone.tile_extent),
        "tile_overlap": ModelConfig.from_dict(config).backbone.tile_overlap,
        "tucker_ranks": [int(f.shape[1]) for f in payload["tucker"]],
        "network": {
            "width": config["network"]["width"],
            "dilations": list(config["network"]["dilations"]),
            "candidates": config["network"]["candidates"],
            "context_skips": config["network"]["context_skips"],
            "parameters": parameters,
        },
        "context": config["context"],
        "refine": dataclasses.asdict(ModelConfig.from_dict(config).refine),
        "edges": dataclasses.asdict(ModelConfig.from_dict(config).edges),
        "working_short_side": config.get("working_short_side"),
        "metadata": _summarised(payload["metadata"]),
    }


def _summarised(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata for display: a training run's optimiser state becomes one line."""
    resume = metadata.get("resume")
    if not isinstance(resume, dict):
        return metadata
    return metadata | {"resume": f"optimiser state for `train --resume` at step {resume.get('step')}"}
