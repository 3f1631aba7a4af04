# Issue 23 learned band refiner lab (session 11): how the lab variants rA-rD of docs/notes/issue23-refiner.md were trained and scored
# on recorded edge-stage states (env: CH, STEPS, THREADS, BLOCK, HALF, NONET=1, SHIFTNET=N). Not package code.
"""Record the edge stage's inputs at clicks 3, 6 and the last of each sample (shipped model, its own edges).
usage: python dump.py SET OUTDIR"""
import sys
from pathlib import Path
import numpy as np
import hyperseg_vfx.segmenter as segmod
from hyperseg_vfx.data.datasets import open_dataset
from hyperseg_vfx.evaluation import PROTOCOLS
from hyperseg_vfx.evaluation.harness import load_sample, run_trial
from hyperseg_vfx.evaluation.methods import HyperSegMethod
from hyperseg_vfx.segmenter import Segmenter
from hyperseg_vfx.render import DEFAULT_CHECKPOINT

data, out = sys.argv[1], Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
seen = []
real = segmod.decide_edges
def spy(candidates, plate, clicks, config, factor):
    seen.append((candidates[0].copy(), list(clicks), factor))
    return real(candidates, plate, clicks, config, factor)
segmod.decide_edges = spy
seg = Segmenter.from_checkpoint(DEFAULT_CHECKPOINT, device="cpu")
method = HyperSegMethod(seg, None)
for i, s in enumerate(open_dataset(data)):
    sample = load_sample(s)
    seen.clear()
    run_trial(method, sample, PROTOCOLS["fixed"])
    picks = sorted({min(2, len(seen) - 1), min(5, len(seen) - 1), len(seen) - 1})
    for k in picks:
        alpha, clicks, factor = seen[k]
        np.savez_compressed(out / f"{i:02d}_{k:02d}.npz", alpha=alpha.astype(np.float16),
                            rgb=(sample.rgb * 255 + 0.5).astype(np.uint8), mask=sample.mask,
                            truth=sample.alpha.astype(np.float16),
                            clicks=np.array([[c.x, c.y, c.positive] for c in clicks], dtype=np.float64), factor=factor)
    print(i, sample.clip, sample.frame, len(seen), flush=True)
