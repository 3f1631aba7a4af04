"""The interactive evaluation loop: robot clicks -> method -> per-click IoU, for every sample.

For each sample and method: start from an empty prediction; the robot (robot.Clicker) places
the next click from the current prediction; the method predicts from all clicks so far; the
prediction is its output > 0.5 (the paper's binary mask); its IoU with the truth is recorded.
A sample's per-click IoUs always have the protocol's length: when the robot stops early (no
allowed error left) the last IoU is carried forward. The final prediction (after the last
click) gives the sample's IoU, mBIOU and boundary IoU; NoC and mIoU@k come from the per-click
IoUs (see report.summarise). Every method sees exactly the clicks its own predictions earn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Hashable, Iterable, Mapping

import numpy as np

from ..clicks import Click
from .methods import Method
from .metrics import boundary_iou, boundary_iou_1px, boundary_width, iou, matting_band, matting_errors

#: Half-width of the matting-error band as a fraction of the frame's diagonal (1 px at 192x144,
#: 11 px at 1920x1080), so the band covers the same part of a scene at every size.
MATTING_BAND_RATIO = 0.005
from .robot import ClickProtocol, Clicker


@dataclass(frozen=True, eq=False)
class EvalSample:
    """One object in one frame, in memory.

    clip, frame, object_id: the sample's identity in the report (object_id None: the clip's
    only object). key: identity of the frame's pixels (HyperSeg's feature-cache key).
    rgb, prev_rgb: (H, W, 3) float32 in [0, 1] (prev_rgb None: the clip's first frame).
    mask: (H, W) bool truth. void: (H, W) bool pixels left out of every metric, or None.
    alpha: (H, W) float32 soft truth in [0, 1] where the data has one (then the matting errors
    are reported), else None.
    """

    clip: str
    frame: int | str
    object_id: int | None
    key: Hashable
    rgb: np.ndarray
    prev_rgb: np.ndarray | None
    mask: np.ndarray
    void: np.ndarray | None = None
    alpha: np.ndarray | None = None


def load_sample(sample) -> EvalSample:
    """An EvalSample as is, or a dataset sample (clip, frame, object_id, key and load() ->
    rgb, prev_rgb, mask, void, as hyperseg_vfx.data.datasets.Sample) loaded into one."""
    if isinstance(sample, EvalSample):
        return sample
    data = sample.load()
    return EvalSample(sample.clip, sample.frame, sample.object_id, sample.key, data.rgb, data.prev_rgb,
                      np.asarray(data.mask, dtype=bool), None if data.void is None else np.asarray(data.void, dtype=bool),
                      getattr(data, "alpha", None))


@dataclass(frozen=True, eq=False)
class Trial:
    """One method on one sample: clicks placed, ious (K,) float64 per click (K = the protocol's
    max_clicks), prediction (H, W) bool after the last click, alpha (H, W) float32 the method's
    soft output after the last click (zeros when no click was placed)."""

    clicks: tuple[Click, ...]
    ious: np.ndarray
    prediction: np.ndarray
    alpha: np.ndarray


def run_trial(method: Method, sample: EvalSample, protocol: ClickProtocol) -> Trial:
    """Run the click loop of `protocol` for `method` on `sample`."""
    clicker = Clicker(sample.mask, sample.void, protocol)
    alpha = np.zeros(sample.mask.shape, dtype=np.float32)
    prediction = alpha > 0.5
    ious: list[float] = []
    while clicker.click(prediction) is not None:
        alpha = method.predict(sample, tuple(clicker.clicks))
        prediction = alpha > 0.5
        ious.append(iou(prediction, sample.mask, sample.void))
    last = ious[-1] if ious else iou(prediction, sample.mask, sample.void)
    ious += [last] * (protocol.max_clicks - len(ious))
    return Trial(tuple(clicker.clicks), np.asarray(ious, dtype=np.float64), prediction, alpha)


@dataclass(frozen=True)
class SampleResult:
    """One report row: a method's result on one sample. ious: per click (the protocol's length);
    iou, mbiou, biou: of the final prediction; sad, mse, gradient: Rhemann et al.'s matting errors
    of the final soft output in a band around the soft truth's edge (metrics.matting_errors), None
    where the sample has no soft truth."""

    method: str
    clip: str
    frame: int | str
    object_id: int | None
    clicks: tuple[Click, ...]
    ious: tuple[float, ...]
    iou: float
    mbiou: float
    biou: float
    sad: float | None = None
    mse: float | None = None
    gradient: float | None = None

    def to_json(self) -> dict:
        return {
            "method": self.method, "clip": self.clip, "frame": self.frame, "object_id": self.object_id,
            "clicks": [[c.x, c.y, c.positive] for c in self.clicks], "ious": list(self.ious),
            "iou": self.iou, "mbiou": self.mbiou, "biou": self.biou,
            "sad": self.sad, "mse": self.mse, "gradient": self.gradient,
        }


def score_trial(name: str, sample: EvalSample, trial: Trial) -> SampleResult:
    """The report row of `trial` (final-prediction metrics computed here; the matting errors in
    the band of MATTING_BAND_RATIO * the frame's diagonal around the soft truth's edge)."""
    matting = {}
    if sample.alpha is not None:
        band = matting_band(sample.alpha, boundary_width(*sample.mask.shape, MATTING_BAND_RATIO))
        if sample.void is not None:
            band &= ~sample.void
        matting = matting_errors(trial.alpha, sample.alpha, band)
    return SampleResult(
        name, sample.clip, sample.frame, sample.object_id, trial.clicks, tuple(float(v) for v in trial.ious),
        float(trial.ious[-1]), boundary_iou_1px(trial.prediction, sample.mask, sample.void),
        boundary_iou(trial.prediction, sample.mask, void=sample.void), **matting,
    )


OnResult = Callable[[SampleResult, EvalSample, Trial], None]


def evaluate(
    samples: Iterable, methods: Mapping[str, Method], protocol: ClickProtocol, on_result: OnResult | None = None
) -> list[SampleResult]:
    """Every method on every sample; rows in sample order, then method order.

    samples: EvalSamples or dataset samples (loaded one at a time, see load_sample).
    on_result(result, sample, trial): called after each row, e.g. to write masks and overlays
    or show progress (the predictions themselves are not kept).
    """
    results = []
    for raw in samples:
        sample = load_sample(raw)
        for name, method in methods.items():
            trial = run_trial(method, sample, protocol)
            result = score_trial(name, sample, trial)
            if on_result is not None:
                on_result(result, sample, trial)
            results.append(result)
    return results
