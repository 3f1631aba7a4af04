"""Training the edge stage's learned band refiner (modeling/band_refiner.py) on a model's own mattes.

The refiner corrects grabcut's edge, so it must learn from the mattes the model really gives:

1. record_states: run the fixed 10-click protocol (the evaluation robot) with the model and its
   grabcut edges on every sample of a dataset; after clicks 3, 6 and the last, keep the
   refiner's inputs (plate, the network's matte, grabcut's matte), its band and the soft truth.
2. cut_patches: PATCH x PATCH windows centred near random band pixels of each state, kept as
   float16 (about 3.7 MB per state at the default 64 patches), so whole frames are never held.
3. fit_refiner: Adam with a cosine schedule, binary cross-entropy against the soft truth over the
   band pixels of each patch's centre (REACH px in from its sides, as at inference), random
   flips, transposes and plate gains so that no orientation or exposure is preferred.

Train it on training clips only (the photo generator's, or the studio's own), never on the
clips a model is evaluated on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from ..edge_methods import REFINER_MIN_FACTOR
from ..errors import HypersegError
from ..evaluation import PROTOCOLS
from ..evaluation.harness import load_sample, run_trial
from ..evaluation.methods import HyperSegMethod
from ..modeling.band_refiner import REACH, BandRefiner, padded_inputs, refiner_band
from ..modeling.edges import click_disks, decide_edges, settings_for
from ..segmenter import Segmenter

#: After which clicks of the fixed protocol a sample's state is recorded (the last click always is).
RECORDED_CLICKS = (3, 6)
#: Side of a training patch in plate px; its centre (PATCH - 2 * REACH px) carries the loss.
PATCH = 64
BATCH = 32


@dataclass(frozen=True)
class RefinerPatches:
    """inputs (N, 5, PATCH, PATCH) float16, truth (N, 1, PATCH, PATCH) float16 soft alpha,
    band (N, 1, PATCH, PATCH) bool: where the loss is taken."""

    inputs: torch.Tensor
    truth: torch.Tensor
    band: torch.Tensor


@dataclass(frozen=True)
class RefinerState:
    """One recorded edge-stage input: inputs (5, H, W) float32 (band_refiner's layout), truth
    (H, W) float32 soft alpha, band (H, W) bool (refiner band less the click disks)."""

    inputs: np.ndarray
    truth: np.ndarray
    band: np.ndarray


def record_states(segmenter: Segmenter, samples: Iterable, half_width: float,
                  progress: Callable[[str], None] = lambda line: None) -> Iterator[RefinerState]:
    """The refiner's training states of `samples` (dataset samples or EvalSamples), one at each
    of RECORDED_CLICKS and the last click of the fixed protocol, run with the model's grabcut.
    Samples smaller than REFINER_MIN_FACTOR times the model's working size are skipped (the
    refiner never runs on them)."""
    method = HyperSegMethod(segmenter, "grabcut")
    grabcut = segmenter.edge_config("grabcut")
    for sample in samples:
        sample = load_sample(sample)
        height, width = sample.mask.shape
        factor = height / segmenter.working_size(height, width)[0]  # as Segmenter.segment's edge stage
        if factor < REFINER_MIN_FACTOR:
            progress(f"{sample.clip} {sample.frame}: skipped, {width}x{height} is under {REFINER_MIN_FACTOR:g}x "
                     "the working size")
            continue
        clicks = run_trial(method, sample, PROTOCOLS["fixed"]).clicks
        truth = sample.mask.astype(np.float32) if sample.alpha is None else np.asarray(sample.alpha, np.float32)
        click_radius = settings_for(grabcut, factor).click_radius
        for count in sorted({min(k, len(clicks)) for k in (*RECORDED_CLICKS, len(clicks))} - {0}):
            chosen = clicks[:count]
            network = segmenter.segment(sample.rgb, sample.prev_rgb, chosen, frame_key=sample.key,
                                        all_candidates=False, edges="none").alpha
            edge = decide_edges(network[None], sample.rgb, chosen, grabcut, factor)[0]
            positive, negative = click_disks(edge.shape, chosen, click_radius)
            band = refiner_band(edge, half_width) & ~(positive | negative)
            yield RefinerState(padded_inputs(sample.rgb, network, edge, 0, 0), truth, band)
        progress(f"{sample.clip} {sample.frame}: {len(clicks)} clicks")


def cut_patches(states: Iterable[RefinerState], per_state: int, seed: int) -> RefinerPatches:
    """per_state patches around random band pixels of each state (jittered by up to 8 px)."""
    rng = np.random.default_rng(seed)
    inputs, truths, bands = [], [], []
    for state in states:
        rows, cols = np.nonzero(state.band)
        if rows.size == 0:
            continue
        half = PATCH // 2
        padded = np.pad(state.inputs, ((0, 0), (half, half), (half, half)), mode="edge")
        truth = np.pad(state.truth, half, mode="edge")
        band = np.pad(state.band, half)
        for k in rng.integers(0, rows.size, per_state):
            top, left = rows[k] + rng.integers(-8, 9), cols[k] + rng.integers(-8, 9)
            top, left = np.clip(top, 0, state.band.shape[0] - 1), np.clip(left, 0, state.band.shape[1] - 1)
            window = (slice(top, top + PATCH), slice(left, left + PATCH))
            inputs.append(padded[(slice(None), *window)].astype(np.float16))
            truths.append(truth[window].astype(np.float16))
            bands.append(band[window])
    if not inputs:
        raise HypersegError(f"no training sample is {REFINER_MIN_FACTOR:g}x the model's working size or more with an "
                            "edge near the object: nothing to train the refiner on")
    return RefinerPatches(torch.from_numpy(np.stack(inputs)), torch.from_numpy(np.stack(truths))[:, None],
                          torch.from_numpy(np.stack(bands))[:, None])


def fit_refiner(patches: RefinerPatches, width: int, steps: int, seed: int, learning_rate: float = 1e-3,
                progress: Callable[[int, float], None] = lambda step, loss: None) -> tuple[BandRefiner, float]:
    """A BandRefiner of `width` trained on `patches` for `steps` steps (CPU, float32).
    Returns (refiner in eval mode, mean loss over the last 10% of steps)."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    refiner = BandRefiner(width).train()
    optimizer = torch.optim.Adam(refiner.parameters(), learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    centre = (Ellipsis, slice(REACH, -REACH), slice(REACH, -REACH))
    tail: list[float] = []
    for step in range(steps):
        chosen = torch.randint(0, len(patches.inputs), (BATCH,), generator=generator)
        inputs, truth, band = (t[chosen].float() for t in (patches.inputs, patches.truth, patches.band))
        inputs, truth, band = _augmented(inputs, truth, band, step, generator)
        logits = refiner(inputs)[centre]
        weight = band[centre]
        losses = F.binary_cross_entropy_with_logits(logits, truth[centre], reduction="none")
        loss = (losses * weight).sum() / weight.sum().clamp(min=1.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        value = loss.item()
        if step >= steps - max(1, steps // 10):
            tail.append(value)
        progress(step, value)
    return refiner.eval(), float(np.mean(tail))


def _augmented(inputs: torch.Tensor, truth: torch.Tensor, band: torch.Tensor, step: int,
               generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Flip every other step, transpose every other pair of steps, and scale each patch's plate
    by a gain in [0.6, 1.4] plus an offset per channel in [-0.1, 0.1]."""
    tensors = (inputs, truth, band)
    if step % 2:
        tensors = tuple(t.flip(-1) for t in tensors)
    if (step // 2) % 2:
        tensors = tuple(t.transpose(-1, -2) for t in tensors)
    inputs, truth, band = tensors
    count = inputs.shape[0]
    gain = torch.rand(count, 1, 1, 1, generator=generator) * 0.8 + 0.6
    offset = torch.rand(count, 3, 1, 1, generator=generator) * 0.2 - 0.1
    inputs = inputs.clone()
    inputs[:, :3] = inputs[:, :3] * gain + offset
    return inputs, truth, band


def train_band_refiner(segmenter: Segmenter, samples: Iterable, width: int, half_width: float, steps: int,
                       seed: int, patches_per_state: int = 64,
                       progress: Callable[[str], None] = lambda line: None) -> tuple[BandRefiner, dict]:
    """record_states -> cut_patches -> fit_refiner. Returns (refiner, what to record in the
    checkpoint's metadata: states, patches, steps, seed, final loss, wall seconds)."""
    start = time.perf_counter()
    states = 0

    def counted(stream: Iterator[RefinerState]) -> Iterator[RefinerState]:
        nonlocal states
        for state in stream:
            states += 1
            yield state

    patches = cut_patches(counted(record_states(segmenter, samples, half_width, progress)), patches_per_state, seed)
    progress(f"{states} states, {len(patches.inputs)} patches; training {steps} steps")
    every = max(1, steps // 10)
    refiner, loss = fit_refiner(patches, width, steps, seed, progress=lambda step, value: progress(
        f"step {step + 1}/{steps} loss {value:.4f}") if (step + 1) % every == 0 else None)
    return refiner, {"states": states, "patches": len(patches.inputs), "steps": steps, "seed": seed,
                     "width": width, "band": half_width, "final_loss": round(loss, 5),
                     "wall_seconds": round(time.perf_counter() - start, 1)}
