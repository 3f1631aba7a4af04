"""Model configuration: one dataclass tree, defaults = the paper, readable from YAML.

The configuration is stored inside every checkpoint, so a model always carries the exact
architecture it was trained with. Unknown keys are errors (a typo must not silently fall back
to a default).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .door import ANYWHERE
from .edge_methods import (EDGE_METHODS, MAX_EDGE_PASSES, MAX_PROJECTION_ZONE, MAX_REFINER_BAND, MAX_REFINER_WIDTH,
                           SOFT_EDGES)
from .errors import HypersegError
from .tile_layouts import TILE_OVERLAPS

VGG19_TAP_CHANNELS = {"conv1_2": 64, "conv2_2": 128, "conv3_2": 256, "conv4_2": 512, "conv5_2": 512}
CONTEXT_CHANNELS = 10  # X_t (3), X_{t-1} (3), B_p, B_n, D_p, D_n


class ConfigError(HypersegError, ValueError):
    """A configuration value is missing, unknown or inconsistent; the message names the field."""


@dataclass
class BackboneConfig:
    """The frozen feature extractor (VGG-19) and the convolutional tessellation.

    weights: "imagenet" (torchvision's IMAGENET1K_V1 file from the local torch hub cache, or
    "imagenet:/path/to/vgg19-dcbb9e9d.pth") or "random:SEED" (deterministic, platform independent).
    tessellate: False is the paper's ablation: VGG sees the whole frame resized to one tile.
    max_tiles_per_batch bounds memory: at 4K a frame is 18 x 10 = 180 tiles.
    tile_extent: (w, h) frame pixels a tile covered in training, so that frames of any aspect are
    cut into whole tiles stretched as in training (modeling/tessellation.TileGrid); (0, 0), the
    default, is the paper's grid of ceil(size / tile_size) tiles per axis.
    tile_overlap: "none" (default: the grid above, tiles meet at seams), or "nearest" / "blend":
    overlapping crops of exactly tile_extent frame px (tile_size px without an extent), each
    stretched to the tile as in training; an output pixel takes the features of the crop whose
    centre is nearest, or blends the overlapping crops linearly (modeling/tessellation).
    """

    weights: str = "imagenet"
    taps: tuple[str, ...] = tuple(VGG19_TAP_CHANNELS)
    tile_size: int = 224
    tessellate: bool = True
    max_tiles_per_batch: int = 8
    tile_extent: tuple[int, ...] = (0, 0)
    tile_overlap: str = "none"


@dataclass
class TuckerConfig:
    """Depth-only Tucker compression of each tap (paper section 2.2).

    ranks[k] <= channels of tap k. enabled=False keeps every channel (the 'no Tucker' ablation).
    """

    ranks: tuple[int, ...] = (32, 64, 128, 256, 256)
    enabled: bool = True


@dataclass
class ContextConfig:
    """The click maps B_p, B_n (disks) and D_p, D_n (truncated distances).

    Lengths are in pixels of a frame whose short side is `reference_short_side`; on another
    frame they scale by short_side / reference_short_side, so a model trained at one
    resolution sees the same maps (relative to the frame) at another. D is min(dist, trunc) /
    trunc, so it lies in [0, 1] and is 1 everywhere when a label has no click.
    """

    click_radius: float = 5.0
    distance_truncation: float = 255.0
    reference_short_side: int = 1080


@dataclass
class NetworkConfig:
    """The context aggregation network of the paper's Table 1.

    Layer 1: 1x1 conv (features + 10 context) -> width. Layers 2..9: 3x3 convs with the given
    dilations, (width + 10) -> width, ReLU. Layer 10: 3x3 conv (width + 10) -> candidates,
    sigmoid. context_skips=False drops the 10 context channels from layers 2..10 (ablation).
    """

    width: int = 70
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128)
    candidates: int = 6
    context_skips: bool = True


@dataclass
class RefineConfig:
    """Edge-aware refinement of the candidates (modeling/refine.py; not in the paper).

    A colour guided filter with the frame as guide. radius: window radius in pixels of a frame
    whose short side is `reference_short_side` (it scales with the frame, like the click
    maps); 0 turns refinement off, the paper's model. eps: the filter's regulariser in squared
    RGB units of [0, 1] frames; smaller values snap the matte harder onto colour edges.
    """

    radius: float = 0.0
    eps: float = 1e-3
    reference_short_side: int = 1080


@dataclass
class EdgesConfig:
    """Edges decided at the plate's resolution (modeling/edges.py; not in the paper).

    method: "none" (the matte as the network and refinement give it: the paper's model and every
    older checkpoint), "graphcut" (a graph cut on the plate's own pixels in a band around the
    matte's edge, the network's probability as unary terms and the clicks as hard constraints) or
    "grabcut" (the same cut with unary terms from colour models of the foreground and background
    learned around the band by GrabCut, and a soft edge).
    band: the band's half-width in working pixels (plate px = band * plate short side / working
    short side, at least 2); smoothness: graphcut's pairwise weight lambda; grabcut_smoothness:
    grabcut's (against unaries in nats of colour likelihood: GrabCut's 50); soft_width: grabcut's
    soft edge, the plate px either side of the cut's edge that get the colour models' posterior
    (0: a hard 0/1 edge); click_radius: radius of a click's hard-constraint disk, in working pixels;
    grabcut_passes: how many times grabcut runs, each pass's band drawn around the previous pass's
    edge (so it can reach an edge up to passes x band from the network's; graphcut runs once);
    "learned": grabcut, then a small learned refiner (modeling/band_refiner.py) gives every pixel
    within refiner_band plate px of grabcut's edge its alpha from the plate, the network's matte and
    grabcut's; refiner_width: that refiner's channels per layer (0: the model has no refiner, the
    default; its weights are in the checkpoint, trained by `checkpoint train-refiner`).
    soft_edge: grabcut's soft edge, "posterior" (the colour models' posterior within soft_width px:
    every older checkpoint) or "projection" (on plates at least PROJECTION_MIN_FACTOR times the
    working size, the pixels within projection_zone working px of the cut's edge get alpha from
    the compositing equation, with the object's and the background's colours read just beyond
    that zone; nearer the working size, "posterior").
    """

    method: str = "none"
    band: float = 1.5
    smoothness: float = 2.0
    click_radius: float = 1.0
    grabcut_smoothness: float = 50.0
    soft_width: float = 3.0
    grabcut_passes: int = 1
    refiner_width: int = 0
    refiner_band: float = 8.0
    soft_edge: str = "posterior"
    projection_zone: float = 0.25


@dataclass
class ModelConfig:
    """The whole model. working_short_side: the short side (px) backbone and network run at;
    a larger plate is resized to it and the candidates come back to the plate's resolution by
    guided upsampling (the refinement's coefficients fitted at working size, applied to the
    full-resolution frame; needs refine.radius > 0). None runs at the plate's own resolution,
    the paper's model. Plates at or below the working size always run natively."""

    working_short_side: int | None = None
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    tucker: TuckerConfig = field(default_factory=TuckerConfig)
    context: ContextConfig = field(default_factory=ContextConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    refine: RefineConfig = field(default_factory=RefineConfig)
    edges: EdgesConfig = field(default_factory=EdgesConfig)

    @property
    def tap_channels(self) -> tuple[int, ...]:
        """Channels of each backbone tap before compression."""
        return tuple(VGG19_TAP_CHANNELS[t] for t in self.backbone.taps)

    @property
    def compressed_channels(self) -> tuple[int, ...]:
        """Channels of each tap after Tucker compression (D_phi is their sum: 736 by default)."""
        return self.tucker.ranks if self.tucker.enabled else self.tap_channels

    def validate(self) -> "ModelConfig":
        for tap in self.backbone.taps:
            if tap not in VGG19_TAP_CHANNELS:
                raise ConfigError(f"backbone.taps: unknown tap {tap!r} (known: {list(VGG19_TAP_CHANNELS)})")
        if self.backbone.tile_size < 32 or self.backbone.tile_size % 16:
            raise ConfigError("backbone.tile_size must be a multiple of 16, at least 32")
        if len(self.backbone.tile_extent) != 2 or min(self.backbone.tile_extent) < 0 or (
                0 in self.backbone.tile_extent and any(self.backbone.tile_extent)):
            raise ConfigError("backbone.tile_extent must be [width, height] in pixels, or [0, 0] for the paper's grid")
        if self.backbone.tile_overlap not in TILE_OVERLAPS:
            raise ConfigError(f"backbone.tile_overlap: {self.backbone.tile_overlap!r} is not one of {list(TILE_OVERLAPS)}")
        if self.backbone.max_tiles_per_batch < 1:
            raise ConfigError("backbone.max_tiles_per_batch must be at least 1")
        if len(self.tucker.ranks) != len(self.backbone.taps):
            raise ConfigError(
                f"tucker.ranks has {len(self.tucker.ranks)} entries for {len(self.backbone.taps)} taps"
            )
        for tap, rank, channels in zip(self.backbone.taps, self.tucker.ranks, self.tap_channels):
            if not 1 <= rank <= channels:
                raise ConfigError(f"tucker.ranks: rank {rank} for {tap} must be in 1..{channels}")
        if self.context.click_radius <= 0 or self.context.distance_truncation <= 0:
            raise ConfigError("context.click_radius and context.distance_truncation must be positive")
        if self.network.width < 1 or self.network.candidates < 1 or not self.network.dilations:
            raise ConfigError("network.width, network.candidates and network.dilations must be positive")
        if self.working_short_side is not None:
            if self.working_short_side < 16:
                raise ConfigError("working_short_side must be at least 16 px (or null: native resolution)")
            if self.refine.radius <= 0:
                raise ConfigError("working_short_side needs refine.radius > 0: guided upsampling is the refinement's "
                                  "filter fitted at working size (see `checkpoint set-refine`)")
        if self.edges.method not in EDGE_METHODS:
            raise ConfigError(f"edges.method: {self.edges.method!r} is not one of {', '.join(EDGE_METHODS)}")
        if self.edges.band <= 0 or self.edges.click_radius <= 0:
            raise ConfigError("edges.band and edges.click_radius must be positive")
        if min(self.edges.smoothness, self.edges.grabcut_smoothness, self.edges.soft_width) < 0:
            raise ConfigError("edges.smoothness, edges.grabcut_smoothness and edges.soft_width must be >= 0")
        if not 1 <= self.edges.grabcut_passes <= MAX_EDGE_PASSES:
            raise ConfigError(f"edges.grabcut_passes must be 1 to {MAX_EDGE_PASSES}")
        if not 0 <= self.edges.refiner_width <= MAX_REFINER_WIDTH or not 0 < self.edges.refiner_band <= MAX_REFINER_BAND:
            raise ConfigError(f"edges.refiner_width must be 0 to {MAX_REFINER_WIDTH} and edges.refiner_band "
                              f"above 0 and at most {MAX_REFINER_BAND} px")
        if self.edges.soft_edge not in SOFT_EDGES:
            raise ConfigError(f"edges.soft_edge: {self.edges.soft_edge!r} is not one of {', '.join(SOFT_EDGES)}")
        if not 0 < self.edges.projection_zone <= MAX_PROJECTION_ZONE:
            raise ConfigError(f"edges.projection_zone must be above 0 and at most {MAX_PROJECTION_ZONE:g} working px")
        if self.edges.method == "learned" and not self.edges.refiner_width:
            raise ConfigError("edges.method learned needs a trained band refiner (edges.refiner_width > 0): "
                              "train one with `hyperseg-vfx checkpoint train-refiner`")
        if self.refine.radius < 0 or self.refine.eps <= 0 or self.refine.reference_short_side < 1:
            raise ConfigError("refine.radius must be >= 0, refine.eps and refine.reference_short_side positive")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "ModelConfig":
        return dataclass_from_dict(cls, data or {}, "").validate()

    @classmethod
    def from_yaml(cls, path: str | Path) -> "ModelConfig":
        try:
            data = yaml.safe_load(ANYWHERE.read_text(path, "config"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError, HypersegError) as exc:
            raise ConfigError(f"{path}: cannot read model config: {exc}") from exc
        if isinstance(data, dict) and "model" in data and len(data) == 1:
            data = data["model"]
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from exc


def dataclass_from_dict(cls: type, data: Any, prefix: str) -> Any:
    """Instantiate dataclass `cls` from a nested dict, checking keys and types.

    Errors (ConfigError) name the dotted field, prefixed by `prefix`. Shared by every YAML config.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown field (known: {sorted(fields)})")
    values = {}
    for name, value in data.items():
        f = fields[name]
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        where = f"{prefix}{name}"
        if default is None:  # an optional int: null or a whole number
            values[name] = None if value is None else _coerce(value, int, where)
        elif dataclasses.is_dataclass(default):
            values[name] = dataclass_from_dict(type(default), value, where + ".")
        elif isinstance(default, tuple):
            if not isinstance(value, (list, tuple)):
                raise ConfigError(f"{where}: expected a list")
            values[name] = tuple(_coerce(v, type(default[0]), where) for v in value)
        else:
            values[name] = _coerce(value, type(default), where)
    return cls(**values)


def _coerce(value: Any, kind: type, where: str) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value
