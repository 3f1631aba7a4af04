"""The training curve: loss terms and IoU against the step, from a run's metrics.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import atomic_output


def read_metrics(path: str | Path) -> list[dict]:
    """The records of a metrics.jsonl file, in order."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def plot_training_curve(metrics: str | Path, out: str | Path, title: str = "") -> Path:
    """Write a PNG: left, the loss and its terms (log scale); right, train and validation IoU."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    records = read_metrics(metrics)
    figure = Figure(figsize=(10, 4), layout="constrained")
    loss_axes, iou_axes = figure.subplots(1, 2)
    for key, label in (("loss", "total (eq. 3)"), ("jaccard_ic", "min_m Jaccard + IC"),
                       ("diversity", "ranked diversity"), ("boundary", "boundary pseudo-Huber")):
        points = [(r["step"], r[key]) for r in records if r.get(key, 0) > 0]
        if points:
            loss_axes.plot(*zip(*points), label=label)
    loss_axes.set(xlabel="step", ylabel="loss per sample", yscale="log", title="training loss")
    loss_axes.legend(fontsize=8)
    for key, label in (("iou", "train IoU, candidate 1"), ("val_iou", "held-out IoU, candidate 1")):
        points = [(r["step"], r[key]) for r in records if key in r]
        if points:
            iou_axes.plot(*zip(*points), marker="o" if key == "val_iou" else None, label=label)
    iou_axes.set(xlabel="step", ylabel="IoU (mask > 0.5)", ylim=(0, 1), title="IoU with DOS clicks")
    iou_axes.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    with atomic_output(out) as tmp:
        figure.savefig(tmp, dpi=100)
    return Path(out)
