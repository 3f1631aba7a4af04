"""`make gpu-check`: everything the CUDA path must do, in one run, into one JSON file.

    python -m hyperseg_vfx.gpu_check --out gpu_check.json            # on a GPU host (< 8 min on one GPU)
    python -m hyperseg_vfx.gpu_check --small --device cpu --out x.json  # small sizes, the test suite's run

Sections (each with its own seconds and, on CUDA, its peak CUDA memory):
  bench        `bench` of the bundled model and of a paper-size model (random backbone) at 2K and
               4K (float16 autocast on CUDA: a shot's `options.precision: float16`)
  precision    the largest alpha difference between CPU float32 and this device at each shot
               precision (float32: TF32 off; float16: autocast, CUDA only) on the same plate and
               clicks, for both models
  render       a 10-frame 2K shot rendered to EXR through render_shot, as `hyperseg-vfx render` does
  bridge       click round trips through a real `hyperseg-vfx serve` (bench-bridge)
  training     50 optimiser steps (AMP on CUDA) of a paper-size model on 2K frames: no NaN, loss falls
The file also holds the device, torch and CUDA versions and `ok` (every check passed); the exit
status is 0 only when `ok`. --small shrinks every size (and the training model) so the same code
runs on a CPU in seconds; its numbers say nothing about speed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from . import __version__
from .atomic import atomic_output
from .clicks import Click

FULL = {"bench": [(1920, 1080), (3840, 2160)], "precision": (1920, 1080), "render": (1920, 1080),
        "bridge": (1920, 1080), "train_size": 1920, "train_steps": 50, "render_frames": 10, "bridge_clicks": 5}
SMALL = {"bench": [(96, 64), (160, 96)], "precision": (96, 64), "render": (96, 64),
         "bridge": (64, 48), "train_size": 64, "train_steps": 12, "render_frames": 3, "bridge_clicks": 2}


def paper_model(small: bool):
    """The paper's architecture with a random backbone (Tucker fitted on one plate); --small:
    width 8, two dilations, 32 px tiles."""
    from .config import ModelConfig
    from .modeling.factory import build_untrained

    config = ModelConfig.from_dict(_small_model() if small else {})
    config.backbone.weights = "random:0"
    return build_untrained(config, seed=0, tucker_frames=1)


def _small_model() -> dict[str, Any]:
    return {"backbone": {"weights": "random:0", "tile_size": 32}, "tucker": {"ranks": [2, 2, 2, 2, 2]},
            "network": {"width": 8, "dilations": [1, 2]}}


@contextlib.contextmanager
def section(results: dict[str, Any], name: str, device: torch.device) -> Iterator[dict[str, Any]]:
    """Collect one section's values, seconds, peak CUDA memory and any error (the run goes on)."""
    entry: dict[str, Any] = {}
    results[name] = entry
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    try:
        yield entry
    except Exception as exc:  # a failed section is reported, the others still run
        entry["error"] = f"{type(exc).__name__}: {exc}"
    entry["seconds"] = round(time.perf_counter() - start, 3)
    if device.type == "cuda":
        entry["peak_cuda_bytes"] = torch.cuda.max_memory_allocated(device)


def check_bench(entry: dict[str, Any], models: dict[str, Any], device: torch.device, sizes) -> None:
    from .bench import run_benchmark
    from .segmenter import Segmenter

    for name, model in models.items():
        segmenter = Segmenter(model, device=str(device), precision="float16" if device.type == "cuda" else "float32")
        for width, height in sizes:
            result = run_benchmark(segmenter, width, height)
            entry[f"{name}_{width}x{height}"] = {k: result[k] for k in (
                "full_frame_s", "click_update_s", "stage_s", "click_update_stage_s", "compute_dtype", "tiles",
                "working_width", "working_height", "peak_rss_bytes", "full_frame_floor_ratio") if k in result} | (
                {"cuda_max_allocated_bytes": result["cuda_max_allocated_bytes"]} if "cuda_max_allocated_bytes" in result else {})
            segmenter.cache.clear()


def check_precision(entry: dict[str, Any], models: dict[str, Any], device: torch.device, size) -> None:
    from .segmenter import Segmenter
    from .synthetic import synthetic_frame

    width, height = size
    plate = synthetic_frame(width, height, seed=3)
    clicks = [Click(*plate.center, True), Click(width * 0.05, height * 0.05, False)]
    for name, model in models.items():
        reference = Segmenter(model, device="cpu", cache_bytes=0).segment(plate.rgb, None, clicks).candidates
        entry[name] = {}
        for precision in ("float32", "float16"):
            if precision == "float16" and device.type != "cuda":
                entry[name][precision] = {"skipped": "float16 is computed on CUDA only"}
                continue
            tested = Segmenter(model, device=str(device), cache_bytes=0).segment(
                plate.rgb, None, clicks, precision=precision).candidates
            difference = np.abs(reference - tested)
            entry[name][precision] = {
                "max_alpha_diff": float(difference.max()), "mean_alpha_diff": float(difference.mean()),
                "mask_disagreement": float(np.mean((reference[0] > 0.5) != (tested[0] > 0.5))),
                "size": f"{width}x{height}", "device": str(device)}


def check_render(entry: dict[str, Any], checkpoint: Path, device: torch.device, size, frames: int, folder: Path) -> None:
    from .demo import write_synthetic_shot
    from .render import render_segmenter, render_shot
    from .shot import load_shot

    shot_file = write_synthetic_shot(folder / "shot", frames=range(1001, 1001 + frames), size=size,
                                     checkpoint=checkpoint)
    shot = load_shot(shot_file)
    report = render_shot(shot, render_segmenter(checkpoint, str(device)))
    written = [Path(shot.output_path(f)) for f in shot.frames]
    entry.update({"frames": frames, "size": f"{size[0]}x{size[1]}", "failed": len(report.failed),
                  "written": sum(p.is_file() for p in written), "seconds_per_frame": report.seconds / frames})
    if entry["failed"] or entry["written"] != frames:
        raise RuntimeError(f"render wrote {entry['written']} of {frames} frames, {entry['failed']} failed")


def check_bridge(entry: dict[str, Any], checkpoint: Path, device: torch.device, size, clicks: int) -> None:
    from .bridge.bench import run_bridge_benchmark

    entry.update(run_bridge_benchmark(size[0], size[1], checkpoint, str(device), clicks))


def check_training(entry: dict[str, Any], device: torch.device, small: bool, size: int, steps: int, folder: Path) -> None:
    from .synthetic import synthetic_frame
    from .training.config import TrainConfig
    from .training.train import train

    from PIL import Image

    height = round(size * 9 / 16)
    for clip in range(2):
        for index in range(2):
            frame = synthetic_frame(size, height, seed=40 + clip, frame=index)
            for kind, pixels in (("rgb", frame.rgb), ("alpha", frame.alpha)):
                path = folder / "clips" / f"c{clip}" / kind / f"c{clip}.{1001 + index}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.round(pixels * 255).astype(np.uint8)).save(path)
    model = _small_model() if small else {"backbone": {"weights": "random:0"}}
    config = TrainConfig.from_dict({
        "out": str(folder / "run"), "seed": 0, "device": device.type,
        "data": {"train": f"clips:{folder / 'clips'}", "size": size, "tucker_frames": 2, "cache": "memory"},
        "model": model, "optimizer": {"lr": 1e-2 if small else 1e-3},
        "schedule": {"steps": steps, "batch_size": 2, "decay": "constant", "log_every": 1, "checkpoint_every": steps},
        "metadata": {"name": "gpu-check"},
    })
    train(config)
    losses = [json.loads(line)["loss"] for line in (folder / "run" / "metrics.jsonl").read_text().splitlines()]
    window = max(1, len(losses) // 5)
    first, last = float(np.mean(losses[:window])), float(np.mean(losses[-window:]))
    entry.update({"steps": len(losses), "frame": f"{size}x{height}", "amp": device.type == "cuda",
                  "loss_first": first, "loss_last": last, "finite": all(math.isfinite(v) for v in losses),
                  "falling": last < first})
    if not (entry["finite"] and entry["falling"]):
        raise RuntimeError(f"training: losses {'not finite' if not entry['finite'] else 'did not fall'} ({first} -> {last})")


def run_checks(device_spec: str, small: bool) -> dict[str, Any]:
    """Every section on `device_spec`; returns the JSON-ready result."""
    from .checkpoint import load_checkpoint
    from .devices import resolve_device
    from .render import DEFAULT_CHECKPOINT

    device = resolve_device(device_spec)
    sizes = SMALL if small else FULL
    results: dict[str, Any] = {
        "package_version": __version__, "torch": torch.__version__, "cuda": torch.version.cuda,
        "device": str(device), "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "small": small, "threads": torch.get_num_threads(),
    }
    start = time.perf_counter()
    models = {"bundled": load_checkpoint(DEFAULT_CHECKPOINT)[0], "paper": paper_model(small)}
    with tempfile.TemporaryDirectory(prefix="hyperseg_gpu_check_") as temp:
        folder = Path(temp)
        with section(results, "bench", device) as entry:
            check_bench(entry, models, device, sizes["bench"])
        with section(results, "precision", device) as entry:
            check_precision(entry, models, device, sizes["precision"])
        with section(results, "render", device) as entry:
            check_render(entry, DEFAULT_CHECKPOINT, device, sizes["render"], sizes["render_frames"], folder)
        with section(results, "bridge", device) as entry:
            check_bridge(entry, DEFAULT_CHECKPOINT, device, sizes["bridge"], sizes["bridge_clicks"])
        with section(results, "training", device) as entry:
            check_training(entry, device, small, sizes["train_size"], sizes["train_steps"], folder)
    if device.type == "cuda":
        results["peak_cuda_bytes"] = max(results[s].get("peak_cuda_bytes", 0) for s in ("bench", "precision", "render", "training"))
    results["seconds"] = round(time.perf_counter() - start, 3)
    results["errors"] = {name: entry["error"] for name, entry in results.items() if isinstance(entry, dict) and "error" in entry}
    results["ok"] = not results["errors"]
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hyperseg_vfx.gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"), help="The JSON file to write.")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--small", action="store_true", help="Small sizes: the CPU run of the test suite.")
    args = parser.parse_args(argv)
    results = run_checks(args.device, args.small)
    with atomic_output(args.out) as tmp:
        tmp.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{args.out}: {'ok' if results['ok'] else 'FAILED: ' + '; '.join(results['errors'].values())}")
    return 0 if results["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
