# Issue 23 lab (sessions 12-13): where the procedural generator's 2K boundary score goes; see
# docs/notes/issue23-projection.md, "Why procedural stays below".
"""Three measurements on the procedural dev scenes (seed 904, 8 clips x 2 frames, as the dev sets;
the environment variable PROCEDURAL_SET="SEED CLIPS FRAMES" picks another set, e.g. "907 16 1").

    PYTHONPATH=.:docs/experiments python docs/experiments/procedural_parts.py clips OUT WxH [PART...]
        write the clips with parts of the generator switched off; PART: nowrap (the light wrap
        and the semi-transparent fringe), noblur (one shutter sample), smoothblur (15 shutter
        samples over the same interval instead of 3: a continuous blur at 2K), nograin.
    ... procedural_parts.py plate-alpha WxH...
        the generator's own composited alpha (`seen` > 0.5) scored against its truth
        (coverage > 0.5): what a matte that follows the plate exactly would score.
    ... procedural_parts.py misses STATES_DIR
        on recorded edge-stage states (edge_lab_dump.py): where the shipped stage's contour misses
        the truth's (outside the band; inside it in motion-blurred edges; inside it elsewhere),
        and the mBIOU with the truth put inside the band (the most any band stage can score).
"""
import inspect
import os
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

import hyperseg_vfx.data.procedural as procedural
from hyperseg_vfx.evaluation.metrics import boundary_iou_1px, inner_boundary, iou

SEED, CLIPS, FRAMES = map(int, os.environ.get("PROCEDURAL_SET", "904 8 2").split())
PARTS = {
    "nowrap": (("    premultiplied = premultiplied * (1 - 0.5 * edge) + 0.5 * edge * matte[..., None] * background\n", ""),
               ("    seen = matte * (1 - scene.fringe * edge[..., 0] * (matte < 1))\n", "    seen = matte\n")),
    "nograin": (("    plate = plate + scene.grain * np.sqrt(np.clip(plate, 0, None)) * grain_rng.standard_normal(plate.shape)\n", ""),),
}
_RECORD_SEEN = (("    plate = premultiplied + (1 - seen[..., None]) * background\n",
                 "    plate = premultiplied + (1 - seen[..., None]) * background\n    SEEN.append(seen)\n"),)


def patch_generator(edits) -> None:
    """Recompile the generator's frame function with `edits` (old line, new line) applied."""
    source = inspect.getsource(procedural.render_frame_objects)
    for old, new in edits:
        assert old in source, "the generator changed: update this lab script"
        source = source.replace(old, new)
    exec(compile(source, procedural.__file__, "exec"), procedural.__dict__)


def clips(out: str, size: str, *parts: str) -> None:
    unknown = set(parts) - set(PARTS) - {"noblur", "smoothblur"}
    if unknown:
        raise SystemExit(f"unknown part(s): {', '.join(sorted(unknown))}")
    patch_generator([edit for part in parts if part in PARTS for edit in PARTS[part]])
    if "noblur" in parts:
        procedural.SHUTTER = (0.0,)
    if "smoothblur" in parts:
        procedural.SHUTTER = tuple(np.linspace(procedural.SHUTTER[0], procedural.SHUTTER[-1], 15))
    width, height = map(int, size.split("x"))
    procedural.generate_procedural_clips(Path(out), CLIPS, FRAMES, width, height, SEED, 1)


def frames(width: int, height: int):
    """(truth (H, W) bool, the plate's own alpha (H, W) bool) of every dev sample, in dump order."""
    for index in range(CLIPS):
        scene = procedural.Scene.draw(np.random.Generator(np.random.PCG64([SEED, index, 17])))
        for time in range(FRAMES):
            procedural.SEEN.clear()
            grain = np.random.Generator(np.random.PCG64([SEED, index, procedural.FIRST_FRAME + time, 17]))
            _, mattes = procedural.render_frame_objects(scene, width, height, float(time), grain)
            yield mattes[0] > 0.5, procedural.SEEN[0] > 0.5


def plate_alpha(*sizes: str) -> None:
    procedural.SEEN = []
    patch_generator(_RECORD_SEEN)
    for size in sizes:
        rows = [(iou(seen, truth), boundary_iou_1px(seen, truth)) for truth, seen in frames(*map(int, size.split("x")))]
        print(f"{size}: the plate's own alpha against the truth: mIOU %.3f mBIOU %.3f" % tuple(np.mean(rows, axis=0)))


def misses(states: str) -> None:
    import projection_lab  # noqa: F401  (registers the "projection" variant)
    from edge_lab import E, VARIANTS, load, settings

    square = np.ones((3, 3), dtype=bool)
    totals, rows = np.zeros(5), []
    for path in sorted(Path(states).glob("*.npz")):
        d = load(path)
        ours = VARIANTS["projection"](d) > 0.5
        s = settings(d)
        band = E.band_mask(d["alpha"], s.factor, s.half_width)
        truth_contour = inner_boundary(d["mask"], 1)
        missed = truth_contour & ~ndimage.binary_dilation(inner_boundary(ours, 1), square)
        soft = (d["truth"] > 0.02) & (d["truth"] < 0.98)
        blurred = ndimage.uniform_filter(soft.astype(float), 5) > 0.5  # wider than the 1 px anti-aliasing
        totals += [truth_contour.sum(), (missed & ~band).sum(), (missed & band & blurred).sum(),
                   (missed & band & ~blurred).sum(), (truth_contour & blurred).sum()]
        oracle = np.where(band, d["mask"], ours)
        rows.append((boundary_iou_1px(ours, d["mask"]), boundary_iou_1px(oracle, d["mask"])))
    share = totals[1:] / totals[0]
    print(f"{states}: truth contour missed outside the band {share[0]:.3f}, in the band where motion-blurred "
          f"{share[1]:.3f}, elsewhere {share[2]:.3f}; motion-blurred share of the contour {share[3]:.3f}")
    print("  mBIOU shipped %.3f, with the truth inside the band %.3f" % tuple(np.mean(rows, axis=0)))


if __name__ == "__main__":
    {"clips": clips, "plate-alpha": plate_alpha, "misses": misses}[sys.argv[1]](*sys.argv[2:])
