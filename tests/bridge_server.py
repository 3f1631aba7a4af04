"""A real bridge for the tests: `hyperseg-vfx serve` in a subprocess on a free port.

    with BridgeProcess(checkpoint, allow_roots=[folder]) as server:
        server.client.segment(...)
    # stopped with SIGTERM; the exit checked and the port released

Also puts nuke_plugin/ on sys.path, so that tests import the client as the Nuke plugin does.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "nuke_plugin"))

from hyperseg_nuke.bridge_client import BridgeClient, BridgeError  # noqa: E402

from hyperseg_vfx.bridge.bench import free_port  # noqa: E402,F401  (re-exported for the tests)

STARTUP_TIMEOUT = 120.0


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: TIME_WAIT is fine
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def serve_command(checkpoint, port: int, allow_roots, host: str = "127.0.0.1", *extra) -> list[str]:
    command = [sys.executable, "-m", "hyperseg_vfx.cli", "serve", "--host", host, "--port", str(port),
               "--checkpoint", str(checkpoint), "--device", "cpu"]
    for root in allow_roots:
        command += ["--allow-root", str(root)]
    return command + [str(e) for e in extra]


class BridgeProcess:
    """A bridge subprocess; `client` talks to it (with `token`). log: its output file; root:
    the first allowed folder."""

    def __init__(self, checkpoint, allow_roots, log: Path, *, host: str = "127.0.0.1",
                 token: str | None = None, extra=(), sigint_ignored: bool = False, preexec=None):
        self.root = Path(allow_roots[0])
        self.host, self.port = host, free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.command = serve_command(checkpoint, self.port, allow_roots, host, *extra)
        self.log = Path(log)
        self.client = BridgeClient(self.url, token=token, timeout=120)
        self.process: subprocess.Popen | None = None
        # As a background job of a non-interactive shell starts: SIGINT ignored.
        self.preexec = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else preexec

    def start(self) -> "BridgeProcess":
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, preexec_fn=self.preexec)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                self.client.health(timeout=2)
                return self
            except BridgeError as exc:
                if exc.status is not None:
                    return self  # it answers (with a refusal the test is about)
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the bridge did not start:\n{self.output()}")
            time.sleep(0.2)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Send `signum`, wait for the exit; returns the exit status. The port must be free."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the bridge did not stop within {timeout} s of signal {signum}:\n{self.output()}")
        assert port_is_free(self.host, self.port), f"port {self.port} still bound after the bridge exited"
        return code

    def peak_rss_bytes(self) -> int:
        """The bridge process's peak resident memory so far (Linux VmHWM)."""
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM in /proc/PID/status")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def __enter__(self) -> "BridgeProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.stop()


def run_serve(checkpoint, allow_roots, *extra, host: str = "127.0.0.1", timeout: float = 60) -> subprocess.CompletedProcess:
    """`serve` that is expected to refuse to start: run it to its exit."""
    command = serve_command(checkpoint, free_port(), allow_roots, host, *extra)
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
