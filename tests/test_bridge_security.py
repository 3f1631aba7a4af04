"""What the bridge refuses, with which status and error shape, and that it keeps serving:
malformed JSON, wrong types, unknown fields, oversized bodies, paths escaping the allowed
folders (`..`, symlinks), requests without the token on a non-loopback bind, unsafe start-ups."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal

import pytest
from bridge_server import BridgeError, BridgeProcess, port_is_free, run_serve

from hyperseg_vfx.shot import load_shot

SIZE = (96, 64)
TOKEN = "s3cret-token-for-the-bridge-tests"


@pytest.fixture(scope="module")
def shot(bridge, make_shot):
    return load_shot(make_shot(bridge.root / "sec", "1001-1002", SIZE))


@pytest.fixture(scope="module")
def outside(tmp_path_factory, make_shot):
    """A shot outside the bridge's allowed folders."""
    return load_shot(make_shot(tmp_path_factory.mktemp("outside"), "1001-1002", SIZE))


@pytest.fixture(autouse=True)
def still_serving(bridge):
    """After every refusal the bridge still answers."""
    yield
    assert bridge.client.health()["status"] == "ok"


def raw(server, method, path, body=b"", headers=None):
    """(status, JSON answer) of a hand-made request."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def request(shot, **changes):
    body = {"input": shot.input, "frame": 1002, "clicks": shot.to_dict()["clicks"],
            "output": os.path.join(os.path.dirname(shot.input), "..", "out", "m.####.exr")}
    return {**body, **changes}


def refused(server, body, path="/v1/segment"):
    status, answer = raw(server, "POST", path, json.dumps(body).encode())
    assert set(answer) == {"error"} and set(answer["error"]) == {"code", "message", "field"}, answer
    assert "Traceback" not in answer["error"]["message"]
    return status, answer["error"]["code"], answer["error"]["field"]


def test_malformed_json(bridge):
    status, answer = raw(bridge, "POST", "/v1/segment", b'{"input": "/tmp/x.exr", ')
    assert status == 400 and answer["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("change, field", [
    ({"frame": "first"}, "frame"),
    ({"clicks": "here"}, "clicks"),
    ({"clicks": [{"label": "positive", "keys": {"1002": "centre"}}]}, "clicks[0].keys.1002"),
    ({"options": {"scale": "half"}}, "options.scale"),
])
def test_wrong_types(bridge, shot, change, field):
    assert refused(bridge, request(shot, **change)) == (422, "invalid_request", field)


def test_unknown_fields(bridge, shot):
    assert refused(bridge, request(shot, colour="red")) == (422, "invalid_request", "colour")
    body = request(shot, options={"scale": 1.0, "quality": "best"})
    assert refused(bridge, body) == (422, "invalid_request", "options.quality")
    assert refused(bridge, {"shot_path": shot.path, "priority": 1}, "/v1/jobs") == (422, "invalid_request", "priority")


def test_values_are_checked_like_a_shot_file(bridge, shot):
    outside_frame = [{"label": "positive", "keys": {"1002": [500.0, 10.0]}}]
    assert refused(bridge, request(shot, clicks=outside_frame)) == (422, "invalid_shot", "clicks[0].keys.1002")
    negative_only = [{"label": "negative", "keys": {"1002": [5.0, 5.0]}}]
    assert refused(bridge, request(shot, clicks=negative_only)) == (422, "invalid_shot", "clicks")
    assert refused(bridge, request(shot, options={"scale": 2})) == (422, "invalid_shot", "options.scale")
    assert refused(bridge, request(shot, frame=999))[::2] == (422, "input")  # no such plate
    assert refused(bridge, request(shot, output=shot.input)) == (422, "invalid_shot", "output")
    assert refused(bridge, request(shot, input="plates/x.exr")) == (422, "relative_path", "input")
    assert refused(bridge, {"shot": None, "shot_path": None}, "/v1/jobs") == (422, "invalid_request", "shot")


def test_oversized_body(bridge, shot):
    big = json.dumps(request(shot, colorspace="x" * (2 * 1024**2))).encode()
    status, answer = raw(bridge, "POST", "/v1/segment", big)
    assert status == 413 and answer["error"]["code"] == "payload_too_large"
    # the same without Content-Length: counted as it streams
    connection = http.client.HTTPConnection(bridge.host, bridge.port, timeout=60)
    chunks = (big[i:i + 65536] for i in range(0, len(big), 65536))
    connection.request("POST", "/v1/segment", body=chunks, encode_chunked=True,
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 413 and json.loads(response.read())["error"]["code"] == "payload_too_large"
    connection.close()


def test_dotdot_escape(bridge, shot, outside):
    escape = os.path.join(str(bridge.root), "..", os.path.relpath(outside.input, bridge.root.parent))
    assert ".." in escape and os.path.isfile(escape.replace("####", "1002"))
    assert refused(bridge, request(shot, input=escape)) == (403, "forbidden_path", "input")
    assert refused(bridge, request(shot, output=str(bridge.root / ".." / "m.exr"))) == (403, "forbidden_path", "output")
    assert refused(bridge, request(shot, previous="/etc/hostname")) == (403, "forbidden_path", "previous")


def test_symlink_escapes(bridge, shot, outside):
    links = bridge.root / "links"
    links.mkdir()
    (links / "plate.exr").symlink_to(outside.input_path(1002))
    (links / "elsewhere").symlink_to(os.path.dirname(outside.output_path(1001)), target_is_directory=True)
    assert refused(bridge, request(shot, input=str(links / "plate.exr"))) == (403, "forbidden_path", "input")
    assert refused(bridge, request(shot, output=str(links / "elsewhere" / "m.exr"))) == (403, "forbidden_path", "output")
    # render's rule reads plate 1001 as frame 1002's previous: a link out is refused too
    plates = bridge.root / "linked_plates"
    plates.mkdir()
    shutil.copy(shot.input_path(1002), plates / "p.1002.exr")
    (plates / "p.1001.exr").symlink_to(outside.input_path(1001))
    assert refused(bridge, request(shot, input=str(plates / "p.####.exr"))) == (403, "forbidden_path", "previous")
    job = {"shot_path": str(links / "elsewhere" / ".." / "demo.yaml")}
    assert refused(bridge, job, "/v1/jobs") == (403, "forbidden_path", "shot_path")


def test_http_errors_have_the_same_shape(bridge):
    status, answer = raw(bridge, "GET", "/v1/nothing")
    assert status == 404 and answer["error"]["code"] == "not_found"
    status, answer = raw(bridge, "PUT", "/v1/health")
    assert status == 405 and answer["error"]["code"] == "method_not_allowed"


def test_non_loopback_bind_needs_the_token(tiny_checkpoint, tmp_path):
    if not port_is_free("127.0.0.2", 0):
        pytest.skip("127.0.0.2 is not configured here (Linux answers the whole 127/8)")
    refused_start = run_serve(tiny_checkpoint, [tmp_path], host="127.0.0.2")
    assert refused_start.returncode == 2 and "--token-file" in refused_start.stderr
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o644)
    loose = run_serve(tiny_checkpoint, [tmp_path], "--token-file", token_file, host="127.0.0.2")
    assert loose.returncode == 2 and "chmod 600" in loose.stderr
    token_file.chmod(0o600)

    server = BridgeProcess(tiny_checkpoint, [tmp_path], tmp_path / "bridge.log", host="127.0.0.2",
                           token=TOKEN, extra=["--token-file", token_file])
    with server:
        assert server.client.health()["status"] == "ok"
        for headers in ({}, {"Authorization": "Bearer wrong-token-of-some-length"}, {"Authorization": TOKEN}):
            status, answer = raw(server, "GET", "/v1/health", headers=headers)
            assert status == 401 and answer["error"]["code"] == "unauthorized"
        status, _ = raw(server, "GET", "/openapi.json")
        assert status == 401
        wrong = type(server.client)(server.url, token="x" * len(TOKEN))
        with pytest.raises(BridgeError) as error:
            wrong.health()
        assert (error.value.status, error.value.code) == (401, "unauthorized")
        assert server.client.health()["status"] == "ok"
        assert server.stop(signal.SIGINT) == 128 + signal.SIGINT


def test_sigint_stops_a_bridge_that_started_with_sigint_ignored(tiny_checkpoint, tmp_path):
    # A script's background job (`hyperseg-vfx serve &`) inherits SIGINT ignored; `kill -INT`
    # must still stop it cleanly, with the status a SIGINT stop has.
    server = BridgeProcess(tiny_checkpoint, [tmp_path], tmp_path / "bridge.log", sigint_ignored=True)
    with server:
        assert server.client.health()["status"] == "ok"
        assert server.stop(signal.SIGINT) == 128 + signal.SIGINT, server.output()
    assert "Application shutdown complete" in server.output()


def test_a_busy_port_is_exit_2_with_one_line_before_the_model_loads(tiny_checkpoint, tmp_path):
    """Another program holds the port: `serve` says so in one line and exits 2. The checkpoint
    named does not exist, so the port error proves the port was tried before the model."""
    import socket
    import subprocess

    from bridge_server import free_port, serve_command

    with socket.socket() as holder:
        port = free_port()
        holder.bind(("127.0.0.1", port))
        holder.listen()
        for checkpoint in (tmp_path / "missing.pt", tiny_checkpoint):
            done = subprocess.run(serve_command(checkpoint, port, [tmp_path]), capture_output=True, text=True,
                                  timeout=120)
            assert done.returncode == 2, done.stderr
            assert done.stderr.splitlines() == [f"Error: --port {port}: 127.0.0.1:{port} is already in use (another "
                                                f"bridge? GET http://127.0.0.1:{port}/v1/health says); stop it or "
                                                "choose another --port"]
