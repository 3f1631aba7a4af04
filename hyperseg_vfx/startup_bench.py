"""What a render task spends before its first frame, measured (never asserted) per phase.

    python -m hyperseg_vfx.startup_bench SHOT --frames 1001-1002 [--device cpu] [--repeats 3] [--json]

Three measurements, each in fresh processes (a farm task is one), best of --repeats:
  render    `hyperseg-vfx render SHOT --frames F` as a farm task runs it: seconds from the spawn to
            its first `frame N` line (time to first frame) and to its exit
  phases    the same steps timed inside one process: interpreter start-up, imports, shot load
            (files checked), model load (checkpoint read, model built), device set-up (model moved,
            Segmenter made), first frame (includes the kernels' first-call warm-up), second frame
  commands  wall seconds of `--help`, `render --help` and `submit --farm deadline10 --dry-run`
`python -X importtime -m hyperseg_vfx.cli render ...` says which imports the `imports` phase is.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PHASES = r"""
import sys, time
marks = [("start", float(sys.argv[1])), ("interpreter", time.time())]
import torch, numpy
import hyperseg_vfx.cli.shots, hyperseg_vfx.render, hyperseg_vfx.segmenter, hyperseg_vfx.io.exr
marks.append(("imports", time.time()))
from hyperseg_vfx.shot import load_shot
from hyperseg_vfx.render import RENDER_CACHE_BYTES, resolve_checkpoint, segment_shot_frame
from hyperseg_vfx.checkpoint import load_checkpoint
from hyperseg_vfx.segmenter import Segmenter
shot = load_shot(sys.argv[2], frames=sys.argv[3])
marks.append(("shot", time.time()))
path = resolve_checkpoint(shot)
model, metadata = load_checkpoint(path)
marks.append(("model_load", time.time()))
segmenter = Segmenter(model, device=sys.argv[4], cache_bytes=RENDER_CACHE_BYTES, metadata=metadata)
marks.append(("device_setup", time.time()))
for name, frame in zip(("first_frame", "second_frame"), shot.frames):
    segment_shot_frame(shot, segmenter, frame)
    if segmenter.device.type == "cuda":
        torch.cuda.synchronize()
    marks.append((name, time.time()))
print({b[0]: b[1] - a[1] for a, b in zip(marks, marks[1:])})
"""


def _spawned(command: list[str], env: dict[str, str]) -> tuple[float, float | None]:
    """(seconds to exit, seconds to the first `frame ` line or None) of `command`."""
    start = time.perf_counter()
    first = None
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as proc:
        for line in proc.stdout:
            if first is None and line.startswith("frame "):
                first = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {proc.returncode}")
    return time.perf_counter() - start, first


def measure(shot: Path, frames: str, device: str, repeats: int) -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cli = [sys.executable, "-m", "hyperseg_vfx.cli"]
    result: dict = {"python": sys.version.split()[0], "device": device, "frames": frames, "repeats": repeats}
    runs = [_spawned(cli + ["render", str(shot), "--frames", frames, "--device", device, "--overwrite"], env)
            for _ in range(repeats)]
    result["render"] = {"first_frame_s": min(r[1] for r in runs), "exit_s": min(r[0] for r in runs)}
    phases = []
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-c", PHASES, repr(time.time()), str(shot), frames, device],
                              capture_output=True, text=True, env=env, check=True)
        phases.append(eval(done.stdout.strip().splitlines()[-1]))  # noqa: S307 - our own dict literal
    result["phases_s"] = {k: min(p[k] for p in phases) for k in phases[0]}
    with tempfile.TemporaryDirectory() as folder:
        commands = {"--help": ["--help"], "render --help": ["render", "--help"],
                    "submit --dry-run": ["submit", str(shot), "--farm", "deadline10", "--dry-run", "--out",
                                         os.path.join(folder, "job"), "--overwrite"]}
        result["commands_s"] = {name: min(_spawned(cli + args, env)[0] for _ in range(repeats))
                                for name, args in commands.items()}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hyperseg_vfx.startup_bench", description=__doc__.splitlines()[0])
    parser.add_argument("shot", type=Path)
    parser.add_argument("--frames", required=True, help="At least two frames of the shot, e.g. 1001-1002.")
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure(args.shot, args.frames, args.device, args.repeats)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"render: first frame after {result['render']['first_frame_s']:.2f} s, exit after "
              f"{result['render']['exit_s']:.2f} s")
        print("phases: " + ", ".join(f"{k} {v:.3f} s" for k, v in result["phases_s"].items()))
        print("commands: " + ", ".join(f"{k} {v:.2f} s" for k, v in result["commands_s"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
