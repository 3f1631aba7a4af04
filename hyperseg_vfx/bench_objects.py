"""`hyperseg-vfx bench --objects 1,2,4,8`: what several objects of a shot cost.

For each object count N, in one run on one plate size:
- full frame: Segmenter.segment_objects of N objects on a frame whose features are not cached
  (backbone and projection once, the network and edge stage for the N objects as a batch);
- click update: every object's clicks moved, the features cached;
- edit one: the bridge's case while an artist clicks on one object of N: that object's clicks
  moved, the features cached, the other N - 1 objects served by the matte cache (a Segmenter
  with the bridge's INTERACTIVE_MATTE_CACHE_BYTES; edit_one_reused counts them);
- render: render_shot of a synthetic shot with N objects (a few frames of written EXR plates),
  seconds per frame including reading the plates and writing the layered EXR;
- *_ratio: each time over N = 1's.
Every timed call moves the clicks it times (by its repeat's index), so no timed call is a repeat
that the matte cache could serve. The feature cache's hit and miss counts show that one
computation serves all objects of a frame. `edges` is passed to every call (None: the model's).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from .clicks import Click
from .segmenter import INTERACTIVE_MATTE_CACHE_BYTES, Segmenter
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


def moved(clicks: list[Click], step: int) -> list[Click]:
    """`clicks` with the first (positive) click moved `step` px right and down: a new click set."""
    first = clicks[0]
    return [Click(first.x + step, first.y + step, first.positive), *clicks[1:]]


def run_objects_benchmark(segmenter: Segmenter, width: int, height: int, counts: Sequence[int],
                          repeats: int = 1, render_frames: int = 3, edges: str | None = None) -> dict[str, Any]:
    """Time N objects for every N of `counts` at width x height; the JSON-ready result."""
    interactive = segmenter.with_caches(segmenter.cache.max_bytes, INTERACTIVE_MATTE_CACHE_BYTES)
    plate = synthetic_frame(width, height, seed=1)
    interactive.segment(plate.rgb, None, object_clicks(1, width, height)[0], frame_key="warm-up",
                        all_candidates=False, edges=edges)
    rows = []

    def timed(clicks: list[list[Click]], key: tuple) -> list:
        return interactive.segment_objects(plate.rgb, None, clicks, frame_key=key, all_candidates=False, edges=edges)

    with tempfile.TemporaryDirectory(prefix="hyperseg-bench-objects-") as folder:
        plates = _write_plates(Path(folder), width, height, render_frames)
        for count in counts:
            clicks = object_clicks(count, width, height)
            interactive.cache.clear()
            interactive.mattes.clear()
            before = interactive.cache.stats()
            full = [timed(clicks, ("full", count, i)) for i in range(repeats)]
            update = [timed([moved(c, 1 + i) for c in clicks], ("full", count, 0)) for i in range(repeats)]
            edit_one = [timed([moved(clicks[0], 1 + repeats + i), *clicks[1:]], ("full", count, 0))
                        for i in range(repeats)]
            after = interactive.cache.stats()
            rows.append({
                "objects": count,
                "full_frame_s": min(m[0].timings["total"] for m in full),
                "click_update_s": min(m[0].timings["total"] for m in update),
                "edit_one_s": min(m[0].timings["total"] for m in edit_one),
                "edit_one_reused": sum(m.reused for m in edit_one[-1]),
                "features_s": min(m[0].timings.get("features", 0.0) for m in full),
                "update_stage_s": {k: min(m[0].timings.get(k, 0.0) for m in update) for k in ("network", "refine", "edges")},
                "feature_computations": after.misses - before.misses,
                "feature_cache_hits": after.hits - before.hits,
                "render_s_per_frame": _render_seconds(segmenter, plates, clicks, Path(folder) / f"n{count}", edges),
            })
    one = rows[0]
    for row in rows:
        for key in ("full_frame_s", "click_update_s", "edit_one_s", "render_s_per_frame"):
            row[key.replace("_s", "").replace("_per_frame", "") + "_ratio"] = row[key] / one[key]
    return {"width": width, "height": height, "device": str(segmenter.device), "model": segmenter.model_name,
            "edges": edges or segmenter.model.config.edges.method,
            "working_size": list(segmenter.working_size(height, width)), "repeats": repeats,
            "render_frames": render_frames, "rows": rows}


def _write_plates(folder: Path, width: int, height: int, frames: int) -> str:
    from .demo import write_synthetic_plate

    for frame in range(1, frames + 1):
        write_synthetic_plate(folder / "plates" / f"p.{frame:04d}.exr", width, height, 1, frame)
    return str(folder / "plates" / "p.####.exr")


def _render_seconds(segmenter: Segmenter, plates: str, clicks: list[list[Click]], folder: Path,
                    edges: str | None) -> float:
    """Seconds per frame of render_shot of the plates with these objects (the first frame,
    which has no previous frame, is rendered too: all frames count)."""
    from .render import render_shot
    from .shot import load_shot

    frames = len(list(Path(plates).parent.iterdir()))
    objects = {f"object{k + 1}": {"clicks": [{"label": c.label, "keys": {1: [c.x, c.y]}} for c in object_clicks]}
               for k, object_clicks in enumerate(clicks)}
    shot = load_shot({"input": plates, "frames": f"1-{frames}", "output": str(folder / "m.####.exr"),
                      "objects": objects, "options": {"edges": edges or "model"}}, folder)
    start = time.perf_counter()
    report = render_shot(shot, segmenter)
    if not report.ok:
        raise RuntimeError(f"benchmark render failed: {[r.error for r in report.failed]}")
    return (time.perf_counter() - start) / frames
