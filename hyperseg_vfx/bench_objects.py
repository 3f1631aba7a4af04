"""`hyperseg-vfx bench --objects 1,2,4,8`: what several objects of a shot cost.

For each object count N, in one run on one plate size:
- full frame: Segmenter.segment_objects of N objects on a frame whose features are not cached
  (backbone and projection once, the network for the N objects as a batch);
- click update: the same with the features cached (the bridge's case);
- render: render_shot of a synthetic shot with N objects (a few frames of written EXR plates),
  seconds per frame including reading the plates and writing the layered EXR;
- per_frame_ratio: each time over N = 1's.
The feature cache's hit and miss counts show that one computation serves all objects of a frame.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from .clicks import Click
from .segmenter import Segmenter
from .synthetic import synthetic_frame


def object_clicks(count: int, width: int, height: int) -> list[list[Click]]:
    """`count` objects' clicks spread over the frame: object k has a positive click on a grid
    point and a negative one half a cell away."""
    columns = max(1, round(count**0.5))
    rows = -(-count // columns)
    clicks = []
    for k in range(count):
        x = (k % columns + 0.5) * width / columns
        y = (k // columns + 0.5) * height / rows
        clicks.append([Click(x, y, True), Click(x + 0.25 * width / columns, y, False)])
    return clicks


def run_objects_benchmark(segmenter: Segmenter, width: int, height: int, counts: Sequence[int],
                          repeats: int = 1, render_frames: int = 3) -> dict[str, Any]:
    """Time N objects for every N of `counts` at width x height; the JSON-ready result."""
    plate = synthetic_frame(width, height, seed=1)
    segmenter.segment(plate.rgb, None, object_clicks(1, width, height)[0], frame_key="warm-up",
                      all_candidates=False)
    rows = []
    with tempfile.TemporaryDirectory(prefix="hyperseg-bench-objects-") as folder:
        plates = _write_plates(Path(folder), width, height, render_frames)
        for count in counts:
            clicks = object_clicks(count, width, height)
            segmenter.cache.clear()
            before = segmenter.cache.stats()
            full = [segmenter.segment_objects(plate.rgb, None, clicks, frame_key=("full", count, i),
                                              all_candidates=False) for i in range(repeats)]
            update = [segmenter.segment_objects(plate.rgb, None, clicks, frame_key=("full", count, 0),
                                                all_candidates=False) for _ in range(repeats)]
            after = segmenter.cache.stats()
            rows.append({
                "objects": count,
                "full_frame_s": min(m[0].timings["total"] for m in full),
                "click_update_s": min(m[0].timings["total"] for m in update),
                "features_s": min(m[0].timings.get("features", 0.0) for m in full),
                "network_s": min(m[0].timings.get("network", 0.0) for m in full),
                "refine_s": min(m[0].timings.get("refine", 0.0) for m in full),
                "feature_computations": after.misses - before.misses,
                "feature_cache_hits": after.hits - before.hits,
                "render_s_per_frame": _render_seconds(segmenter, plates, clicks, Path(folder) / f"n{count}"),
            })
    one = rows[0]
    for row in rows:
        for key in ("full_frame_s", "click_update_s", "render_s_per_frame"):
            row[key.replace("_s", "").replace("_per_frame", "") + "_ratio"] = row[key] / one[key]
    return {"width": width, "height": height, "device": str(segmenter.device), "model": segmenter.model_name,
            "working_size": list(segmenter.working_size(height, width)), "repeats": repeats,
            "render_frames": render_frames, "rows": rows}


def _write_plates(folder: Path, width: int, height: int, frames: int) -> str:
    from .demo import write_synthetic_plate

    for frame in range(1, frames + 1):
        write_synthetic_plate(folder / "plates" / f"p.{frame:04d}.exr", width, height, 1, frame)
    return str(folder / "plates" / "p.####.exr")


def _render_seconds(segmenter: Segmenter, plates: str, clicks: list[list[Click]], folder: Path) -> float:
    """Seconds per frame of render_shot of the plates with these objects (the first frame,
    which has no previous frame, is rendered too: all frames count)."""
    from .render import render_shot
    from .shot import load_shot

    frames = len(list(Path(plates).parent.iterdir()))
    objects = {f"object{k + 1}": {"clicks": [{"label": c.label, "keys": {1: [c.x, c.y]}} for c in object_clicks]}
               for k, object_clicks in enumerate(clicks)}
    shot = load_shot({"input": plates, "frames": f"1-{frames}", "output": str(folder / "m.####.exr"),
                      "objects": objects}, folder)
    start = time.perf_counter()
    report = render_shot(shot, segmenter)
    if not report.ok:
        raise RuntimeError(f"benchmark render failed: {[r.error for r in report.failed]}")
    return (time.perf_counter() - start) / frames
