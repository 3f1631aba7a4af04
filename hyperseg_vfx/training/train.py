"""The training loop: cached frozen features, DOS clicks, eq. 3, Adam, checkpoints, metrics.

    run = train(TrainConfig.from_yaml("demo.yaml"))          # or resume=True

Run folder (config.out):
  config.yaml     the resolved configuration
  last.pt         checkpoint every `checkpoint_every` steps and at the end, with the optimiser
                  state and step under metadata["resume"] (what --resume continues from)
  model.pt        the trained model at the end (no optimiser state): the file to ship
  steps/model_step<N>.pt  with schedule.keep_every: the model (as model.pt) after every
                  keep_every-th step, to choose the step to ship on dev data
                  (`evaluate --checkpoint` takes several) and reproduce it with stop_after
  metrics.jsonl   one JSON object per logged step (loss terms, train IoU, lr, time) and per
                  validation (val_iou)
  training_curve.png

Step s draws its batch and clicks from numpy Generator(PCG64([seed, s, rank])), so a resumed run
makes the same draws as an uninterrupted one. With robot_clicks on, the robot then adds clicks
on the current network's errors (training.robot_clicks). With WORLD_SIZE > 1 (torchrun) each process trains
on its own draws and DistributedDataParallel averages the gradients (gloo on CPU, NCCL on CUDA);
only rank 0 writes files. On CUDA the forward pass runs under autocast (float16) with a
GradScaler; the loss is computed in float32.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .. import __version__
from ..checkpoint import load_checkpoint, save_checkpoint
from ..data.datasets import Sample, open_dataset
from ..errors import HypersegError
from ..modeling.hyperseg import HyperSeg
from .batches import TrainingItem, prepare_item
from .config import TrainConfig, learning_rate
from .features import FeatureCache
from .losses import hyperseg_loss
from .robot_clicks import add_robot_clicks
from .tucker_fit import fit_on_dataset, load_factors

VAL_STREAM = 2**31  # the Generator stream of validation clicks (never a training step)
Progress = Callable[[int, int, dict], None]


class BatchForward(nn.Module):
    """The trainable path: cached compressed taps -> layer 1 -> HyperSeg.segment_projected (the
    network, then the model's refinement), for a list of samples. With a refinement the network
    learns what the guided filter makes of its output.

    One call per step, so DistributedDataParallel sees one forward per backward.
    """

    def __init__(self, model: HyperSeg):
        super().__init__()
        self.model = model

    def forward(self, features: list[list[torch.Tensor]], contexts: list[torch.Tensor]) -> list[torch.Tensor]:
        """Per sample: features per tap (T, r_k, h_k, w_k), context (1, 10, H, W) -> (1, M, H, W)."""
        outputs = []
        for taps, context in zip(features, contexts):
            projected = self.model.project_compressed(taps, context.shape[2], context.shape[3])
            outputs.append(self.model.segment_projected(projected, context))
        return outputs


@dataclass
class Distributed:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_distributed(device_choice: str) -> tuple[Distributed, torch.device]:
    """Join the torchrun process group when WORLD_SIZE > 1; pick this process's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available() and device_choice != "cpu"
    if device_choice == "cuda" and not torch.cuda.is_available():
        raise HypersegError("device cuda asked for, but no CUDA device is visible")
    device = torch.device("cuda", local_rank % torch.cuda.device_count()) if cuda else torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        if cuda:
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    return Distributed(rank, world, local_rank), device


def _iou(prediction: torch.Tensor, truth: torch.Tensor, valid: torch.Tensor | None) -> float:
    """IoU of (H, W) bool prediction and float truth over valid pixels; 1 when both are empty."""
    truth = truth > 0.5
    if valid is not None:
        prediction, truth = prediction & (valid > 0), truth & (valid > 0)
    union = (prediction | truth).sum().item()
    return 1.0 if union == 0 else (prediction & truth).sum().item() / union


@dataclass
class _Meter:
    """Running sums of the logged quantities between two log lines."""

    sums: dict[str, float] = field(default_factory=dict)
    count: int = 0

    def add(self, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
        self.count += 1

    def means(self) -> dict[str, float]:
        return {k: v / max(self.count, 1) for k, v in self.sums.items()}


class Trainer:
    """Builds the model, data and optimiser of a run and steps through its schedule."""

    def __init__(self, config: TrainConfig, resume: bool = False, progress: Progress | None = None):
        self.config = config
        self.progress = progress
        self.init_training: dict | None = None  # the training metadata of config.init
        self.out = Path(config.out)
        self.dist, self.device = _init_distributed(config.device)
        if config.threads:
            torch.set_num_threads(config.threads)
        self.samples = open_dataset(config.data.train)
        self.val_samples = self._val_samples()
        self.wall_seconds = 0.0  # training time so far (a resumed run starts from its checkpoint's)
        self.model, self.start_step, optimizer_state = self._build_model(resume)
        self.model.to(self.device)
        self.model.backbone.requires_grad_(False)
        self.cache = FeatureCache(self.model, config.data.cache)
        forward = BatchForward(self.model)
        self.forward = forward if self.dist.world == 1 else nn.parallel.DistributedDataParallel(
            forward, device_ids=[self.device.index] if self.device.type == "cuda" else None
        )
        o = config.optimizer
        self.optimizer = torch.optim.Adam(self.model.network.parameters(), lr=o.lr, betas=tuple(o.betas),
                                          weight_decay=o.weight_decay)
        if optimizer_state is not None:
            self.optimizer.load_state_dict(optimizer_state)
        self.amp = self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)

    def _val_samples(self) -> list[Sample]:
        if not self.config.data.val:
            return []
        samples = open_dataset(self.config.data.val)
        count = min(self.config.data.val_samples, len(samples))
        return [samples[i] for i in np.linspace(0, len(samples) - 1, count).round().astype(int)]

    def _build_model(self, resume: bool) -> tuple[HyperSeg, int, dict | None]:
        config, last = self.config, self.out / "last.pt"
        if resume:
            if not last.is_file():
                raise HypersegError(f"--resume: {last} not found (nothing to resume in {self.out})")
            model, metadata = load_checkpoint(last)
            state = metadata.get("resume")
            if not state:
                raise HypersegError(f"--resume: {last} has no training state")
            if model.config.to_dict() != config.model.to_dict() or state["config"]["data"] != config.to_dict()["data"]:
                raise HypersegError(f"--resume: {last} was trained with another model or data config")
            training = metadata.get("training") or {}
            self.init_training = (training.get("init") or {}).get("training")
            self.wall_seconds = float(training.get("wall_seconds", 0.0))
            return model, int(state["step"]), state["optimizer"]
        if last.is_file():
            raise HypersegError(f"{last} exists: pass --resume to continue that run, or choose another `out`")
        if config.init:
            model, metadata = load_checkpoint(config.init)
            if _weighted_parts(model.config) != _weighted_parts(config.model):
                raise HypersegError(f"init: {config.init} has another model config than this run's `model`")
            model.config.refine = config.model.refine  # no weights: this run's refinement applies
            if config.model.edges.refiner_width not in (0, model.config.edges.refiner_width):
                raise HypersegError(f"init: {config.init} has no band refiner of edges.refiner_width "
                                    f"{config.model.edges.refiner_width} (train one after this run with "
                                    "`hyperseg-vfx checkpoint train-refiner`)")
            if not config.model.edges.refiner_width:
                model.band_refiner = None  # it learned the init network's mattes; retrain it for this run's
            model.config.edges = config.model.edges  # the rest of the edge stage has no weights: this run's
            model.config.working_short_side = config.model.working_short_side  # what the model expects
            self.init_training = metadata.get("training")
            return model, 0, None
        model = HyperSeg(config.model)
        model.network.reset_parameters(config.seed)
        if config.data.tucker_factors:
            load_factors(config.data.tucker_factors, model)
        else:
            fit_on_dataset(model, self.samples, config.data.tucker_frames, config.data.size, config.data.side)
        return model, 0, None

    def _items(self, samples: list[Sample], rng: np.random.Generator, multi_scale: bool = False) -> list[TrainingItem]:
        """Training items of `samples`; multi_scale draws each one's size (of its data.side side)
        from data.sizes."""
        c = self.config
        sizes = c.data.sizes if multi_scale and c.data.sizes else None
        return [prepare_item(s, self.model, self.cache, int(rng.choice(sizes)) if sizes else c.data.size, c.clicks,
                             rng, self.device, c.data.side) for s in samples]

    def draw(self, step: int) -> list[TrainingItem]:
        """The batch of optimiser step `step` for this process (a pure function of seed, step, rank)."""
        c = self.config
        rng = np.random.Generator(np.random.PCG64([c.seed, step, self.dist.rank]))
        picks = rng.integers(len(self.samples), size=c.schedule.batch_size)
        items = self._items([self.samples[i] for i in picks], rng, multi_scale=True)
        if c.robot_clicks.probability > 0:
            items = [add_robot_clicks(i, self._predict, c.robot_clicks, self.model.config.context, rng) for i in items]
        return items

    @torch.no_grad()
    def _predict(self, item: TrainingItem) -> np.ndarray:
        """Candidate 1 of the current network for `item`, (H, W) bool (the robot's view of it)."""
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
            output = BatchForward(self.model)([item.features], [item.context])[0]
        return (output[0, 0] > 0.5).cpu().numpy()

    def optimize(self, items: list[TrainingItem], lr: float) -> dict[str, float]:
        """One optimiser step on `items` at learning rate `lr`; returns its metrics (averaged over processes)."""
        c = self.config
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
            outputs = self.forward([i.features for i in items], [i.context for i in items])
        terms = [hyperseg_loss(out[0], i.truth, i.positive, i.negative, c.loss, i.valid) for out, i in zip(outputs, items)]
        loss = torch.stack([t.total for t in terms]).mean()
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if c.optimizer.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.network.parameters(), c.optimizer.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        n = len(terms)
        metrics = {
            "loss": loss.item(),
            "jaccard_ic": sum(t.jaccard_ic.item() for t in terms) / n,
            "diversity": sum(t.diversity.item() for t in terms) / n,
            "boundary": sum(t.boundary.item() for t in terms) / n,
            "cross_entropy": sum(t.cross_entropy.item() for t in terms) / n,
            "iou": sum(_iou(o[0, 0].detach() > 0.5, i.truth, i.valid) for o, i in zip(outputs, items)) / n,
            "best_iou": sum(_iou(o[0, t.best].detach() > 0.5, i.truth, i.valid) for o, i, t in zip(outputs, items, terms)) / n,
        }
        return self._averaged(metrics) | {"lr": lr}

    def _averaged(self, metrics: dict[str, float]) -> dict[str, float]:
        if self.dist.world == 1:
            return metrics
        values = torch.tensor(list(metrics.values()), dtype=torch.float64)
        dist.all_reduce(values)
        return dict(zip(metrics, (values / self.dist.world).tolist()))

    @torch.no_grad()
    def validate(self) -> float:
        """Mean IoU of candidate 1 (> 0.5) on the validation samples with fixed DOS clicks."""
        ious = []
        for index, sample in enumerate(self.val_samples):
            rng = np.random.Generator(np.random.PCG64([self.config.seed, VAL_STREAM, index]))
            item = self._items([sample], rng)[0]
            ious.append(_iou(torch.from_numpy(self._predict(item)).to(item.truth.device), item.truth, item.valid))
        return float(np.mean(ious))

    def _log(self, record: dict) -> None:
        with open(self.out / "metrics.jsonl", "a") as stream:
            stream.write(json.dumps(record) + "\n")

    def _metadata(self, step: int, final: bool) -> dict:
        c = self.config
        training = {
            "steps": step, "batch_size": c.schedule.batch_size, "world_size": self.dist.world,
            "samples": len(self.samples), "data": c.data.train, "size": c.data.size, "seed": c.seed,
            "init": {"checkpoint": c.init, "training": self.init_training} if c.init else None,
            "device": self.device.type, "wall_seconds": round(self.wall_seconds, 1), "package_version": __version__,
        }
        metadata = {
            "name": c.metadata.name, "description": c.metadata.description, "trained": final,
            "synthetic_demo": c.metadata.synthetic_demo, "training": training,
        }
        if not final:
            metadata["resume"] = {"step": step, "optimizer": self.optimizer.state_dict(), "config": c.to_dict()}
        return metadata

    def _prepare_run_folder(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.yaml").write_text(self.config.to_yaml())
        metrics = self.out / "metrics.jsonl"
        if metrics.is_file():  # drop lines past the step being resumed from
            kept = [line for line in metrics.read_text().splitlines()
                    if line.strip() and json.loads(line)["step"] <= self.start_step]
            metrics.write_text("".join(line + "\n" for line in kept))

    def run(self) -> Path:
        """Train to the end of the schedule; returns the final model file (model.pt)."""
        c, s = self.config, self.config.schedule
        if self.dist.main:
            self._prepare_run_folder()
        end = s.end_step
        if self.start_step > end:
            raise HypersegError(f"--resume: {self.out / 'last.pt'} is at step {self.start_step}, past the end of this run ({end})")
        meter = _Meter()
        for step in range(self.start_step, end):
            started = time.perf_counter()
            metrics = self.optimize(self.draw(step), learning_rate(c, step))
            self.wall_seconds += time.perf_counter() - started
            meter.add(metrics)
            done = step + 1
            last = done == end
            record = None
            if done % s.log_every == 0 or last:
                record = {"step": done} | meter.means() | {"wall_seconds": round(self.wall_seconds, 2)}
                meter = _Meter()
            if self.dist.main and self.val_samples and (done % s.val_every == 0 or last):
                record = (record or {"step": done}) | {"val_iou": self.validate()}
            if self.dist.main:
                if record:
                    self._log(record)
                if done % s.checkpoint_every == 0 or last:
                    save_checkpoint(self.model, self.out / "last.pt", self._metadata(done, final=False))
                if s.keep_every and done % s.keep_every == 0:
                    save_checkpoint(self.model, self.out / "steps" / f"model_step{done:06d}.pt", self._metadata(done, final=True))
            if self.progress:
                self.progress(done, end, record or {})
        final = self.out / "model.pt"
        if self.dist.main:
            save_checkpoint(self.model, final, self._metadata(end, final=True))
            from .curve import plot_training_curve

            plot_training_curve([self.out / "metrics.jsonl"], self.out / "training_curve.png", title=c.metadata.name)
        return final


def train(config: TrainConfig, resume: bool = False, progress: Progress | None = None) -> Path:
    """Run (or resume) the training of `config`; returns the final model file."""
    return Trainer(config, resume, progress).run()


def _weighted_parts(config) -> dict:
    """A model config without its refinement, edge stage and working size, which have no weights:
    what `init` must match."""
    return {k: v for k, v in config.to_dict().items() if k not in ("refine", "edges", "working_short_side")}
