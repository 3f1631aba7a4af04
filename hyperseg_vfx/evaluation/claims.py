"""Pixels claimed by two objects: how often the objects of a clip overlap in the predictions.

Each object of a clip is evaluated on its own (its own robot clicks, its own prediction), so
nothing stops two objects' predictions from covering the same pixel; a comp that uses both as
holdouts then counts that pixel twice. ClaimCounter collects, per method and frame of a clip of
several objects, how many objects' final predictions (> 0.5) cover each pixel, and reports the
fraction of a frame's pixels covered by two or more (and the same for the truth, which for the
generators' visible mattes is 0), averaged over frames. Void pixels do not count.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .harness import EvalSample, SampleResult, Trial


class ClaimCounter:
    """harness.evaluate's on_result callback counting the objects that claim each pixel.

    Only samples of clips with several objects count (object_id set). Memory: one count map per
    (method, clip, frame) seen.
    """

    def __init__(self) -> None:
        self._claims: dict[tuple, np.ndarray] = {}
        self._truth: dict[tuple, np.ndarray] = {}
        self._objects: dict[tuple, int] = defaultdict(int)

    def __call__(self, result: SampleResult, sample: EvalSample, trial: Trial) -> None:
        if sample.object_id is None:
            return
        frame = (result.method, sample.clip, sample.frame)
        counted = ~sample.void if sample.void is not None else np.ones(sample.mask.shape, bool)
        if frame not in self._claims:
            self._claims[frame] = np.zeros(sample.mask.shape, np.int32)
            self._truth[frame] = np.zeros(sample.mask.shape, np.int32)
        self._claims[frame] += trial.prediction & counted
        self._truth[frame] += sample.mask & counted
        self._objects[frame] += 1

    def summary(self) -> dict[str, dict]:
        """method -> {frames, double_claimed (mean fraction of a frame's pixels predicted by two
        or more objects), truth_double_claimed (the same in the truth)}; frames of one object
        are left out."""
        per_method: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for frame, claims in self._claims.items():
            if self._objects[frame] < 2:
                continue
            rows = per_method[frame[0]]
            rows["double"].append(float(np.mean(claims >= 2)))
            rows["truth"].append(float(np.mean(self._truth[frame] >= 2)))
        return {method: {"frames": len(rows["double"]), "double_claimed": float(np.mean(rows["double"])),
                         "truth_double_claimed": float(np.mean(rows["truth"]))}
                for method, rows in per_method.items()}


def markdown_section(summary: dict[str, dict]) -> str:
    """The report.md section of ClaimCounter.summary()."""
    lines = ["", "## Pixels claimed by two objects", "",
             "Frames of clips with several objects, each object evaluated on its own: the mean fraction of a "
             "frame's pixels inside the final predictions of two or more objects.", "",
             "| method | frames | double claimed | in the truth |", "|---|---|---|---|"]
    for method, row in summary.items():
        lines.append(f"| {method} | {row['frames']} | {row['double_claimed']:.4f} | {row['truth_double_claimed']:.4f} |")
    return "\n".join(lines) + "\n"
