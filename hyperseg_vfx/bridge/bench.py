"""`hyperseg-vfx bench-bridge`: what a click costs through the bridge on top of the network.

It writes two synthetic EXR plates (frames 1000 and 1001) in a temporary folder, starts a real
`hyperseg-vfx serve` on a free 127.0.0.1 port, segments frame 1001 once (features computed), then
sends `clicks` click updates on the same frame, each with the positive click moved a little
(features cached: the network alone runs), as the Nuke plugin does while an artist clicks. For
each update the client's round trip is split into

    network_s     the network, as the bridge measured it (timings.network_s)
    refine_s      the model's edge refinement (timings.refine_s; 0 when it has none)
    overhead_s    round trip - network_s - refine_s: HTTP, request checks, plate cache, matte coverage, the
                  EXR write (write_s, also reported) and the client's JSON handling.

The client is plain http.client with one connection per request, like the Nuke plugin's.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import HypersegError

STARTUP_TIMEOUT_S = 300.0


class BridgeBenchError(HypersegError):
    """The benchmark's bridge did not start or answered with an error."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on at `host` right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _request(port: int, method: str, path: str, body: dict | None = None, timeout: float = 600.0) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body).encode()
        connection.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = json.loads(response.read() or b"{}")
    finally:
        connection.close()
    if response.status != 200:
        raise BridgeBenchError(f"{method} {path}: HTTP {response.status}: {answer}")
    return answer


def _wait_for_health(port: int, process: subprocess.Popen, log: Path) -> dict:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        try:
            return _request(port, "GET", "/v1/health", timeout=2.0)
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise BridgeBenchError(f"the bridge did not start; its log {log}:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median": statistics.median(ordered), "min": ordered[0], "max": ordered[-1],
            "p90": ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]}


def run_bridge_benchmark(width: int, height: int, checkpoint: Path | None, device: str, clicks: int) -> dict[str, Any]:
    """Benchmark click updates through a real bridge at width x height; JSON-ready result."""
    from ..demo import write_synthetic_plate

    with tempfile.TemporaryDirectory(prefix="hyperseg_bench_bridge_") as folder:
        root = Path(folder)
        for frame in (1000, 1001):
            write_synthetic_plate(root / f"plate.{frame}.exr", width, height, seed=1, index=frame - 1000)
        port, log = free_port(), root / "serve.log"
        command = [sys.executable, "-m", "hyperseg_vfx.cli", "serve", "--port", str(port), "--device", device,
                   "--allow-root", str(root)]
        if checkpoint is not None:
            command += ["--checkpoint", str(Path(checkpoint).absolute())]
        with open(log, "wb") as stream:
            process = subprocess.Popen(command, stdout=stream, stderr=subprocess.STDOUT)
        try:
            health = _wait_for_health(port, process, log)
            updates = [_click(port, root, width, height, shift) for shift in range(clicks + 1)]
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    first, updates = updates[0], updates[1:]
    if first["features_cached"] or not all(u["features_cached"] for u in updates):
        raise BridgeBenchError("feature caching did not behave as expected (first miss, then hits)")
    return {
        "width": width, "height": height, "device": health["device"], "model": health["model"],
        "clicks": clicks, "first_click_s": first["round_trip_s"],
        **{name: _summary([u[name] for u in updates])
           for name in ("round_trip_s", "network_s", "refine_s", "overhead_s", "write_s", "server_other_s", "http_s")},
    }


def _click(port: int, root: Path, width: int, height: int, shift: int) -> dict[str, float]:
    """One /v1/segment of frame 1001 with the positive click moved by `shift` pixels."""
    body = {
        "input": os.path.join(root, "plate.####.exr"), "frame": 1001, "output": os.path.join(root, "matte.####.exr"),
        "clicks": [{"label": "positive", "keys": {"1001": [width / 2 + shift, height / 2]}},
                   {"label": "negative", "keys": {"1001": [width * 0.05, height * 0.05]}}],
    }
    start = time.perf_counter()
    try:
        answer = _request(port, "POST", "/v1/segment", body)
    except OSError as exc:
        raise BridgeBenchError(f"the bridge stopped answering: {exc}") from None
    round_trip = time.perf_counter() - start
    t = answer["timings"]
    model_s = t["network_s"] + t["refine_s"]
    return {
        "features_cached": t["features_cached"], "round_trip_s": round_trip, "network_s": t["network_s"],
        "refine_s": t["refine_s"], "overhead_s": round_trip - model_s, "write_s": t["write_s"],
        "server_other_s": t["request_s"] - model_s - t["write_s"], "http_s": round_trip - t["request_s"],
    }
