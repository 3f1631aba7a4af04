"""The training curve: loss terms and IoU against the step, from runs' metrics.jsonl files.

Several files are stages of one training (a run and the runs fine-tuned from it): their steps
are laid end to end and a dotted line marks where each next stage starts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from ..atomic import atomic_output

LOSS_TERMS = (("loss", "total"), ("jaccard_ic", "min_m Jaccard + IC"), ("diversity", "ranked diversity"),
              ("boundary", "boundary pseudo-Huber"), ("cross_entropy", "cross-entropy (not the paper's)"))
IOU_TERMS = (("iou", "train IoU, candidate 1"), ("val_iou", "held-out IoU, candidate 1"))


def read_metrics(path: str | Path) -> list[dict]:
    """The records of a metrics.jsonl file, in order."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def stage_records(paths: Sequence[str | Path]) -> tuple[list[dict], list[int]]:
    """The records of all stages with steps made consecutive, and the first step of each later stage."""
    records, starts, offset = [], [], 0
    for index, path in enumerate(paths):
        stage = read_metrics(path)
        if index:
            starts.append(offset)
        records += [r | {"step": r["step"] + offset} for r in stage]
        offset += max((r["step"] for r in stage), default=0)
    return records, starts


def plot_training_curve(metrics: Sequence[str | Path], out: str | Path, title: str = "") -> Path:
    """Write a PNG: left, the loss and its terms (log scale); right, train and held-out IoU."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    records, starts = stage_records(metrics)
    figure = Figure(figsize=(10, 4), layout="constrained")
    loss_axes, iou_axes = figure.subplots(1, 2)
    for axes, terms in ((loss_axes, LOSS_TERMS), (iou_axes, IOU_TERMS)):
        for key, label in terms:
            points = [(r["step"], r[key]) for r in records if key in r and (axes is iou_axes or r[key] > 0)]
            if points:
                axes.plot(*zip(*points), marker="o" if key == "val_iou" else None, label=label)
        for start in starts:
            axes.axvline(start, color="grey", linestyle=":", linewidth=1)
        axes.legend(fontsize=8)
    loss_axes.set(xlabel="step", ylabel="loss per sample", yscale="log", title="training loss")
    iou_axes.set(xlabel="step", ylabel="IoU (mask > 0.5)", ylim=(0, 1), title="IoU with DOS clicks")
    if title:
        figure.suptitle(title)
    with atomic_output(out) as tmp:
        figure.savefig(tmp, dpi=100, format=Path(out).suffix.lstrip(".") or "png")
    return Path(out)
