"""Issue 24 items 11 and 12: the cost of validating a big shot, and the bridge's memory after many jobs.

    PYTHONPATH=. python docs/notes/issue24_bounds_bench.py validate --clicks 300 --frames 100000
    PYTHONPATH=. python docs/notes/issue24_bounds_bench.py jobs --jobs 40

`validate`: a /v1/jobs body of CLICKS clicks, each counting on `frames: 1-FRAMES` with keys on
about 1 MiB worth of frames in all, over FRAMES frames of one plate; times shot_from_dict +
check_shot_files (what /v1/jobs runs before any disk check per frame), and the same body posted to
a real bridge (`serve` on 127.0.0.1; the job is cancelled at once).
`jobs`: a real bridge given JOBS jobs (one after another, each waited for) of a shot whose body is
about 0.9 MB (20 clicks keyed on 1700 frames each; 2 frames rendered); its RSS before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))


def make_body(root: Path, clicks: int, frames: int, body_bytes: int = 1024**2, counting: bool = True) -> dict:
    """A /v1/jobs shot: `clicks` clicks keyed over `frames` frames, about `body_bytes` of JSON;
    counting: each click says `frames: 1-<frames>`."""
    from hyperseg_vfx.demo import write_synthetic_plate

    plate = root / "plate.exr"
    if not plate.exists():
        write_synthetic_plate(plate, 96, 64, 7, 0)
    keys_per_click = max(1, body_bytes // (clicks * 26))  # '"12345": [40.0, 30.0], ' is ~26 bytes
    step = max(1, frames // keys_per_click)
    tracks = [{"label": "positive" if i % 2 == 0 else "negative",
               "keys": {str(f): [40.0 + (i % 7), 30.0] for f in range(1, frames + 1, step)},
               **({"frames": f"1-{frames}"} if counting else {})} for i in range(clicks)]
    return {"input": str(plate), "frames": f"1-{frames}", "output": str(root / "out" / "m.######.exr"),
            "clicks": tracks}


def validate(args) -> None:
    from hyperseg_vfx.shot import check_shot_files, shot_from_dict

    root = Path(tempfile.mkdtemp(prefix="hyperseg_bench_"))
    body = make_body(root, args.clicks, args.frames)
    size = len(json.dumps({"shot": body}))
    start = time.process_time()
    shot = shot_from_dict(body, "/")
    parsed = time.process_time()
    check_shot_files(shot)
    checked = time.process_time()
    print(f"{args.clicks} clicks x {args.frames} frames, body {size / 1024**2:.2f} MiB: shot_from_dict "
          f"{parsed - start:.2f} s, check_shot_files {checked - parsed:.2f} s of CPU")
    if args.bridge:
        from bridge_server import BridgeProcess

        from hyperseg_vfx.render import DEFAULT_CHECKPOINT

        with BridgeProcess(DEFAULT_CHECKPOINT, [root], root / "bridge.log") as server:
            start = time.perf_counter()
            job = server.client.start_job(shot=body, timeout=3600)
            took = time.perf_counter() - start
            server.client.cancel_job(job["id"])
            print(f"POST /v1/jobs answered {job['state']} in {took:.2f} s")


def jobs(args) -> None:
    from bridge_server import BridgeProcess

    from hyperseg_vfx.render import DEFAULT_CHECKPOINT

    root = Path(tempfile.mkdtemp(prefix="hyperseg_bench_"))
    body = make_body(root, 20, 100000, body_bytes=900 * 1024, counting=False)
    body["frames"] = "1-2"  # rendered: 2 frames a job; validated and kept: the 0.9 MB of clicks
    print(f"body {len(json.dumps({'shot': body})) / 1e6:.2f} MB")
    with BridgeProcess(DEFAULT_CHECKPOINT, [root], root / "bridge.log") as server:
        def rss() -> float:
            with open(f"/proc/{server.process.pid}/status") as status:
                return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024

        server.client.wait_for_job(server.client.start_job(shot=dict(body, output=str(root / "warm" / "m.######.exr")))["id"])
        before = rss()
        for i in range(args.jobs):
            body["output"] = str(root / f"out{i}" / "m.######.exr")
            server.client.wait_for_job(server.client.start_job(shot=body, timeout=600)["id"], timeout=600)
        print(f"RSS {before:.0f} MB after a first job, {rss():.0f} MB after {args.jobs} more")


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    v = sub.add_parser("validate")
    v.add_argument("--clicks", type=int, default=300)
    v.add_argument("--frames", type=int, default=100000)
    v.add_argument("--bridge", action="store_true")
    j = sub.add_parser("jobs")
    j.add_argument("--jobs", type=int, default=40)
    args = parser.parse_args()
    (validate if args.what == "validate" else jobs)(args)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
