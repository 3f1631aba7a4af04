"""`hyperseg-vfx bench`: speed and memory of the inference API on this machine.

Times, after a warm-up at the same size, a full frame (features + network: a cache miss) and a
click update (cached features: network only), with per-stage times; counts each stage's FLOPs
from the architecture; measures this device's matrix-multiply rate in the same run; and reports
peak memory. The floor ratio is time / (FLOPs / matmul rate): 1.0 would mean every FLOP ran at
the speed of a large matrix multiply. A model with a working_short_side runs backbone and network at
its working size (reported, with the FLOPs counted there); `compare_native` also times the same
model at the plate's own resolution, today's cost of a working-size model's plate.
"""

from __future__ import annotations

import copy
import resource
import time
from typing import Any

import torch

from .clicks import Click
from .segmenter import Segmenter
from .synthetic import synthetic_frame


def matmul_gflops(device: torch.device, dtype: torch.dtype) -> float:
    """Best-of-5 rate of a large square matrix multiply, in GFLOP/s."""
    n = 2048 if device.type == "cpu" else 8192
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(6):
        _sync(device)
        start = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2.0 * n**3 / best / 1e9


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_benchmark(segmenter: Segmenter, width: int, height: int, repeats: int = 1, compare_native: bool = False,
                  edges: str | None = None) -> dict[str, Any]:
    """Benchmark `segmenter` at width x height; returns the JSON-ready result.

    edges: the edge stage to time (Segmenter.segment's; None: the model's own), reported as the
    stage "edges" of the full frame and of the click update.
    compare_native: for a model with a working_short_side, also benchmark a copy running at the
    plate's resolution (result["native"], and click_update_speedup = native / working time).
    """
    result = _benchmark(_holding_one_frame(segmenter, width, height), width, height, repeats, edges)
    if compare_native and segmenter.model.config.working_short_side is not None:
        model = copy.deepcopy(segmenter.model)
        model.config.working_short_side = None
        native = Segmenter(model, device=str(segmenter.device), metadata=segmenter.metadata,
                           precision=segmenter.precision)
        result["native"] = _benchmark(_holding_one_frame(native, width, height), width, height, repeats, edges)
        result["click_update_speedup"] = result["native"]["click_update_s"] / result["click_update_s"]
        result["full_frame_speedup"] = result["native"]["full_frame_s"] / result["full_frame_s"]
    return result


def _holding_one_frame(segmenter: Segmenter, width: int, height: int) -> Segmenter:
    """`segmenter`, or the same model with a feature cache big enough for one width x height
    frame's features (a paper-size model's at 4K: 2.3 GB, over the default 2 GiB), so that the
    click update is timed as the bridge runs it (serve --cache-bytes must hold a frame too)."""
    work_height, work_width = segmenter.working_size(height, width)
    element = torch.finfo(segmenter.feature_dtype).bits // 8
    needed = segmenter.model.config.network.width * work_height * work_width * element
    if needed <= segmenter.cache.max_bytes:
        return segmenter
    return segmenter.with_caches(needed)


def _benchmark(segmenter: Segmenter, width: int, height: int, repeats: int, edges: str | None = None) -> dict[str, Any]:
    device = segmenter.device
    plate = synthetic_frame(width, height, seed=1)
    clicks = [Click(*plate.center, True), Click(width * 0.05, height * 0.05, False)]
    moved = [Click(plate.center[0] + 3, plate.center[1] + 2, True), clicks[1]]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    segmenter.segment(plate.rgb, None, clicks, frame_key="warm-up")
    segmenter.cache.clear()  # peak memory then counts one cached frame, as in interactive use
    # candidate 1 only, as render, the bridge and the farm compute it for a shot without options.candidates
    full = [segmenter.segment(plate.rgb, None, clicks, frame_key=("full", i), all_candidates=False, edges=edges)
            for i in range(repeats)]
    update = [segmenter.segment(plate.rgb, None, moved, frame_key=("full", 0), all_candidates=False, edges=edges)
              for _ in range(repeats)]
    assert not any(m.features_cached for m in full) and all(m.features_cached for m in update)
    compute_dtype = segmenter.feature_dtype
    rate = matmul_gflops(device, compute_dtype)
    work_height, work_width = segmenter.working_size(height, width)
    flops = segmenter.model.flops(work_height, work_width)
    full_gflop = (flops["backbone"] + flops["projection"] + flops["network"]) / 1e9
    update_gflop = flops["network"] / 1e9
    full_s = min(m.timings["total"] for m in full)
    update_s = min(m.timings["total"] for m in update)
    names = ("resize", "backbone", "projection", "features", "network", "refine", "edges")
    stages = {k: min(m.timings.get(k, 0.0) for m in full) for k in names}
    update_stages = {k: min(m.timings.get(k, 0.0) for m in update) for k in ("resize", "network", "refine", "edges")}
    config = segmenter.model.config
    pixels = work_width * work_height
    result = {
        "width": width,
        "height": height,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "compute_dtype": str(compute_dtype).removeprefix("torch."),
        "precision": segmenter.precision,
        "working_short_side": config.working_short_side,
        "edges": edges or config.edges.method,
        "working_width": work_width,
        "working_height": work_height,
        "tiles": segmenter.model.tile_grid(work_height, work_width).count,
        "full_frame_s": full_s,
        "click_update_s": update_s,
        "stage_s": stages,
        "click_update_stage_s": update_stages,
        "stage_gflop": {k: v / 1e9 for k, v in flops.items() if k != "literal_projection"},
        "full_frame_gflop": full_gflop,
        "click_update_gflop": update_gflop,
        "matmul_gflops": rate,
        "full_frame_floor_ratio": full_s / (full_gflop / rate),
        "click_update_floor_ratio": update_s / (update_gflop / rate),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "literal_path": {
            "hypercolumn_bytes": sum(config.tap_channels) * pixels * 4,
            "compressed_bytes": sum(config.compressed_channels) * pixels * 4,
            "projection_gflop": flops["literal_projection"] / 1e9,
        },
    }
    if device.type == "cuda":
        result["cuda_max_allocated_bytes"] = torch.cuda.max_memory_allocated(device)
    return result
