"""The Nuke side: the client is standard-library Python 3.9, starts a local bridge when none
answers (and reports one that cannot start), and the bridge it started stops cleanly on SIGTERM
in the middle of a job: frames finish or leave no file, the port is released."""

from __future__ import annotations

import ast
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from bridge_server import BridgeError, free_port, port_is_free, serve_command

from hyperseg_nuke import bridge_client
from hyperseg_vfx.io.images import read_header
from hyperseg_vfx.shot import load_shot

CLIENT = Path(bridge_client.__file__)


def wait_for_exit(pid: int, timeout: float) -> int:
    """Reap our child `pid` (ensure_bridge started it from this process): -signal or exit status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        time.sleep(0.1)
    raise AssertionError(f"process {pid} still running after {timeout} s")


def test_client_is_python39_standard_library_only():
    tree = ast.parse(CLIENT.read_text(), feature_version=(3, 9))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported - {"__future__"} <= set(sys.stdlib_module_names), imported


def test_ensure_bridge_reports_a_bridge_that_cannot_start(tmp_path):
    command = [sys.executable, "-c", "import sys; print('no model here'); sys.exit(3)"]
    with pytest.raises(BridgeError) as error:
        bridge_client.ensure_bridge(f"http://127.0.0.1:{free_port()}", command=command,
                                    startup_timeout=30, log_path=str(tmp_path / "bridge.log"))
    assert error.value.code == "unreachable" and "status 3" in str(error.value) and "no model here" in str(error.value)


def test_ensure_bridge_starts_one_that_stops_cleanly_mid_job(tmp_path, tiny_checkpoint, make_shot):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "bridge.log"
    client = bridge_client.ensure_bridge(url, command=serve_command(tiny_checkpoint, port, [tmp_path]),
                                         startup_timeout=120, log_path=str(log))
    pid = client.health()["pid"]
    assert bridge_client.ensure_bridge(url, command=["false"]).health()["pid"] == pid  # found, not started

    shot = load_shot(make_shot(tmp_path / "shot", "1001-1040", (96, 64)))
    job = client.start_job(shot_path=shot.path)
    while client.job(job["id"])["done"] < 2:
        time.sleep(0.05)
    os.kill(pid, signal.SIGTERM)
    assert wait_for_exit(pid, 60) == -signal.SIGTERM, log.read_text()
    assert port_is_free("127.0.0.1", port)
    with pytest.raises(BridgeError) as error:
        client.health()
    assert error.value.code == "unreachable"

    text = log.read_text()
    assert "Application shutdown complete" in text and "Traceback" not in text, text
    assert f"job {job['id']}: cancelled" in text
    mattes = os.listdir(os.path.dirname(shot.output_path(1001)))
    assert 2 <= len(mattes) < 40 and not [name for name in mattes if "partial" in name]
    for name in mattes:
        read_header(os.path.join(os.path.dirname(shot.output_path(1001)), name))


def test_the_bridge_ensure_bridge_starts_requires_the_per_user_token(tmp_path, tiny_checkpoint):
    # conftest points XDG_CONFIG_HOME at a folder of this test's own
    token_file = Path(os.environ["XDG_CONFIG_HOME"]) / "hyperseg-vfx" / "bridge_token"
    assert not token_file.exists()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "bridge.log"
    client = bridge_client.ensure_bridge(url, command=serve_command(tiny_checkpoint, port, [tmp_path]),
                                         startup_timeout=120, log_path=str(log))
    pid = client.health()["pid"]
    try:
        assert token_file.stat().st_mode & 0o777 == 0o600 and len(token_file.read_text().strip()) >= 16
        assert client.token == token_file.read_text().strip()
        with pytest.raises(BridgeError) as error:  # a local process without the token
            bridge_client.BridgeClient(url).health()
        assert (error.value.status, error.value.code) == (401, "unauthorized")
        assert bridge_client.ensure_bridge(url, command=["false"]).health()["pid"] == pid  # found, with the token
        assert "token required" in log.read_text()
    finally:
        os.kill(pid, signal.SIGTERM)
        assert wait_for_exit(pid, 60) == -signal.SIGTERM, log.read_text()
