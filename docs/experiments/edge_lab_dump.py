# Issue 23 edge-stage lab (session 10): candidates screened on recorded inputs; see docs/notes/issue23-grabcut.md.
"""Record the edge stage's inputs at the last click of each sample (shipped model, graphcut protocol).

usage: python dump.py SET OUT.npz-dir
"""
import sys, pickle
from pathlib import Path
import numpy as np
import hyperseg_vfx.segmenter as segmod
from hyperseg_vfx.data.datasets import open_dataset
from hyperseg_vfx.evaluation import PROTOCOLS
from hyperseg_vfx.evaluation.harness import load_sample, run_trial, score_trial
from hyperseg_vfx.evaluation.methods import HyperSegMethod
from hyperseg_vfx.segmenter import Segmenter
from hyperseg_vfx.render import DEFAULT_CHECKPOINT

data, out = sys.argv[1], Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
seen = {}
real = segmod.decide_edges
def spy(candidates, plate, clicks, config, factor, *rest, **options):
    seen["last"] = (candidates[0].copy(), list(clicks), factor)
    return real(candidates, plate, clicks, config, factor, *rest, **options)
segmod.decide_edges = spy
seg = Segmenter.from_checkpoint(DEFAULT_CHECKPOINT, device="cpu")
method = HyperSegMethod(seg, "graphcut")
for i, s in enumerate(open_dataset(data)):
    sample = load_sample(s)
    trial = run_trial(method, sample, PROTOCOLS["fixed"])
    row = score_trial("hs", sample, trial)
    alpha, clicks, factor = seen["last"]
    np.savez_compressed(out / f"{i:02d}.npz", alpha=alpha.astype(np.float16), rgb=(sample.rgb * 255 + 0.5).astype(np.uint8),
                        mask=sample.mask, truth=sample.alpha.astype(np.float16),
                        clicks=np.array([[c.x, c.y, c.positive] for c in clicks], dtype=np.float64), factor=factor)
    print(i, sample.clip, sample.frame, round(row.iou, 3), round(row.mbiou, 3), flush=True)
