"""Paired per-sample change between two `evaluate` reports of the same samples (issue 23, overlap).

    python docs/notes/issue23_overlap_paired.py BEFORE/report.json AFTER/report.json [B2 A2 ...]

Prints, per pair, the mean change (after - before) of the final IoU and mBIOU over the samples,
a 90% bootstrap interval of that mean (4000 resamples, seed 0) and the counts of wins and losses.
The fixed protocol's robot clicks follow each model's own mattes, so the pairs share the plate and
truth, not the clicks.
"""

import json
import sys

import numpy as np


def load(path: str) -> dict:
    samples = json.load(open(path))["samples"]
    return {(s["clip"], s["frame"]): (s["iou"], s["mbiou"]) for s in samples}


for before_path, after_path in zip(sys.argv[1::2], sys.argv[2::2]):
    before, after = load(before_path), load(after_path)
    keys = sorted(before)
    for index, name in ((0, "IoU"), (1, "mBIOU")):
        change = np.array([after[k][index] - before[k][index] for k in keys])
        rng = np.random.default_rng(0)
        means = [rng.choice(change, change.size).mean() for _ in range(4000)]
        print(f"{after_path}: {name} n={change.size} mean {change.mean():+.3f} "
              f"90% [{np.percentile(means, 5):+.3f}, {np.percentile(means, 95):+.3f}] "
              f"wins {int((change > 1e-9).sum())} losses {int((change < -1e-9).sum())}")
