"""Training configuration: one YAML file with data, model, optimiser, schedule, loss, clicks, seed.

    out: runs/demo                 # run folder: last.pt, model.pt, metrics.jsonl, config.yaml
    init: runs/pre/model.pt        # optional: start from this checkpoint's network and Tucker factors
    seed: 0
    threads: 2                     # torch.set_num_threads (0 leaves torch's default)
    device: auto                   # auto | cpu | cuda
    data: {train: "clips:runs/synth", val: "clips:runs/synth_val", size: 192, cache: memory}
    model: {...}                   # a ModelConfig (hyperseg_vfx.config), defaults = the paper
    optimizer: {lr: 1.0e-3}
    schedule: {steps: 1000, batch_size: 4, checkpoint_every: 100}
    loss: {boundary: true, boundary_weight: 1.0, boundary_delta: 10.0}   # + cross_entropy_weight (not the paper's)
    clicks: {preset: paper, margin: 3}   # DOS preset plus overrides (training.dos)
    robot_clicks: {probability: 0.8, max_clicks: 3}   # iterative clicks (training.robot_clicks)
    metadata: {name: ..., description: ..., synthetic_demo: false}

`base: other.yaml` (relative to the file naming it) starts from another config and overrides it
key by key, so an ablation is a few lines over the config it ablates. Other relative paths (out,
dataset roots, cache folder, Tucker factors) are relative to the working directory. Unknown keys
are errors.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..config import ConfigError, ModelConfig, dataclass_from_dict
from .dos import DosConfig, dos_config
from .losses import LossConfig
from .robot_clicks import RobotClicksConfig


@dataclass
class DataConfig:
    """train/val: dataset specs (hyperseg_vfx.data.open_dataset); val may be empty.
    size: frames are resized so that their long side is `size` pixels.
    side: which side `size` and `sizes` measure: 'long' (the default) or 'short'. A model with a
    working size (model.working_short_side) sees every plate at that short side whatever its
    aspect, so training it at `side: short` gives 4:3 frames one tile and 16:9 or scope frames
    two or more, with the seams inference will cut.
    sizes: multi-scale training: each drawn sample's long side is one of these (uniformly, per
    sample and step); empty: `size` only. Sizes above backbone.tile_size give multi-tile frames,
    as a plate larger than the tile is tessellated at inference. Validation stays at `size`.
    cache: 'memory', 'none' (compute every step: large frames on a GPU) or a folder for the
    frozen-feature cache.
    tucker_factors: a file written by `fit-tucker`; empty: fit on `tucker_frames` training frames."""

    train: str = ""
    val: str = ""
    val_samples: int = 32
    size: int = 192
    side: str = "long"
    sizes: tuple[int, ...] = ()
    cache: str = "memory"
    tucker_factors: str = ""
    tucker_frames: int = 64


@dataclass
class OptimizerConfig:
    """Adam. grad_clip: maximum gradient norm, 0 = no clipping."""

    lr: float = 1e-3
    betas: tuple[float, ...] = (0.9, 0.999)
    weight_decay: float = 0.0
    grad_clip: float = 0.0


@dataclass
class ScheduleConfig:
    """steps: optimiser steps; batch_size: samples per step and process; learning rate: linear
    warm-up over warmup_steps, then `decay` (cosine down to min_lr_ratio * lr, or constant).
    stop_after: end the run after this many steps (0: at `steps`) with the learning rates of the
    full `steps` schedule, e.g. to ship the step chosen on held-out data from a longer run.
    keep_every: also keep the model after every keep_every-th step (steps/model_step<N>.pt in
    the run folder; 0: off), the candidates that step is chosen from."""

    steps: int = 1000
    stop_after: int = 0
    batch_size: int = 4
    warmup_steps: int = 0
    decay: str = "cosine"
    min_lr_ratio: float = 0.05
    checkpoint_every: int = 100
    keep_every: int = 0
    log_every: int = 10
    val_every: int = 100

    @property
    def end_step(self) -> int:
        """The step the run ends at: stop_after, or steps when it is 0."""
        return self.stop_after or self.steps


@dataclass
class MetadataConfig:
    """Written into the trained checkpoint (shown by `checkpoint info`)."""

    name: str = "hyperseg"
    description: str = ""
    synthetic_demo: bool = False


@dataclass
class TrainConfig:
    """init: a checkpoint of the same model config whose network weights and Tucker factors
    start the run (fine-tuning, e.g. on other data); the optimiser and the step start afresh."""

    out: str = "runs/hyperseg"
    init: str = ""
    seed: int = 0
    threads: int = 0
    device: str = "auto"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    clicks: DosConfig = field(default_factory=DosConfig)
    robot_clicks: RobotClicksConfig = field(default_factory=RobotClicksConfig)
    metadata: MetadataConfig = field(default_factory=MetadataConfig)

    def validate(self) -> "TrainConfig":
        if not self.data.train:
            raise ConfigError("data.train: a dataset spec is required (clips:ROOT or davis:ROOT)")
        if self.data.size < 16 or any(size < 16 for size in self.data.sizes):
            raise ConfigError("data.size and every data.sizes entry must be at least 16")
        if self.data.side not in ("long", "short"):
            raise ConfigError(f"data.side: expected long or short, got {self.data.side!r}")
        s = self.schedule
        if s.steps < 1 or s.batch_size < 1 or min(s.checkpoint_every, s.log_every, s.val_every) < 1:
            raise ConfigError("schedule: steps, batch_size, checkpoint_every, log_every, val_every must be >= 1")
        if s.keep_every < 0:
            raise ConfigError(f"schedule.keep_every: expected 0 (off) or a positive step count, got {s.keep_every}")
        if not 0 <= s.stop_after <= s.steps:
            raise ConfigError(f"schedule.stop_after: expected 0 (off) to steps ({s.steps}), got {s.stop_after}")
        if s.decay not in ("cosine", "constant"):
            raise ConfigError(f"schedule.decay: expected cosine or constant, got {s.decay!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"device: expected auto, cpu or cuda, got {self.device!r}")
        if len(self.optimizer.betas) != 2 or self.optimizer.lr <= 0:
            raise ConfigError("optimizer: lr must be positive and betas two numbers")
        if self.init and self.data.tucker_factors:
            raise ConfigError("init and data.tucker_factors both set: the init checkpoint brings its own factors")
        if self.loss.boundary_delta <= 0:
            raise ConfigError("loss.boundary_delta must be positive")
        if self.loss.cross_entropy_weight < 0:
            raise ConfigError("loss.cross_entropy_weight must be 0 (off) or positive")
        self.model.validate()
        self.clicks.validate()
        self.robot_clicks.validate()
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        """The configuration as YAML text that from_yaml reads back to an equal config."""
        return yaml.safe_dump(_plain(self.to_dict()), sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        if not isinstance(data, dict):
            raise ConfigError("training config: expected a mapping")
        data = dict(data)
        model = ModelConfig.from_dict(data.pop("model", None))
        clicks = dos_config(data.pop("clicks", None))
        config = dataclass_from_dict(cls, data, "")
        config.model, config.clicks = model, clicks
        return config.validate()

    @classmethod
    def from_yaml(cls, path: str | Path) -> "TrainConfig":
        try:
            return cls.from_dict(read_config_yaml(path))
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from exc


def read_config_yaml(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The mapping of a training config file with its `base` chain merged in (the file wins)."""
    path = Path(path)
    if path.resolve() in _seen:
        raise ConfigError(f"{path}: `base` chain loops back to itself")
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read training config: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping")
    base = data.pop("base", None)
    if base is None:
        return data
    return _merge(read_config_yaml(path.parent / base, _seen + (path.resolve(),)), data)


def _plain(value: Any) -> Any:
    """Tuples to lists, recursively (YAML's safe dumper knows no tuples)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`base` updated by `override`, recursively for mappings."""
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def learning_rate(config: TrainConfig, step: int) -> float:
    """The learning rate at optimiser step `step` (0-based)."""
    base, s = config.optimizer.lr, config.schedule
    if step < s.warmup_steps:
        return base * (step + 1) / s.warmup_steps
    if s.decay == "constant":
        return base
    progress = (step - s.warmup_steps) / max(1, s.steps - s.warmup_steps)
    return base * (s.min_lr_ratio + (1 - s.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))
