"""The bridge under attack and misuse, against a real `hyperseg-vfx serve` on 127.0.0.1: what a
web page can send (DNS rebinding `Host`, foreign `Origin`, bodies without the JSON type), what
an unlucky user can send (outputs over their own files, a billion frames, a 60000x60000 EXR,
paths no file system takes, shot files that are not text), and slow clients. Every refusal is a
4xx in the bridge's error shape, leaves every file as it was, and the bridge keeps serving.

The bridge of this module runs with its data segment limited (RLIMIT_DATA), so a request that
makes it allocate gigabytes fails inside it (a 5xx or a crash the test sees) instead of
exhausting the shared machine; its peak RSS (VmHWM) is measured around the requests that used to.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import resource
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from bridge_server import BridgeProcess
from image_files import write_image

from hyperseg_vfx.shot import load_shot

SIZE = (96, 64)
ALLOWED_HOST = "nuke-ws.studio.example"
ALLOWED_ORIGIN = "http://tools.studio.example:9000"
REQUEST_TIMEOUT_S = 2
DATA_LIMIT = 6 * 1024**3  # the bridge's RLIMIT_DATA: model, plates and the tests' frames fit in well under it
RSS_GROWTH_LIMIT = 300 * 1024**2


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_DATA, (DATA_LIMIT, DATA_LIMIT))


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_checkpoint):
    root = tmp_path_factory.mktemp("attack_root")
    process = BridgeProcess(
        tiny_checkpoint, [root, "/sys"], tmp_path_factory.mktemp("attack_log") / "bridge.log",
        extra=["--allowed-host", ALLOWED_HOST, "--allow-origin", ALLOWED_ORIGIN,
               "--request-timeout", REQUEST_TIMEOUT_S],
        preexec=_limit_memory,
    )
    with process:
        yield process
    assert "Traceback" not in process.output(), process.output()


@pytest.fixture(scope="module")
def shot(server, make_shot):
    return load_shot(make_shot(server.root / "sh", "1001-1003", SIZE))


@pytest.fixture(autouse=True)
def still_serving(server):
    yield
    assert send(server, "GET", "/v1/health")[0] == 200


def send(server, method, path, body=None, headers=None, *, host=None, content_type="application/json"):
    """(status, JSON answer) of a hand-made request: `host` replaces the Host header,
    content_type None sends none."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host or f"127.0.0.1:{server.port}")
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        if content_type is not None and data is not None:
            connection.putheader("Content-Type", content_type)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if data is not None:
            connection.putheader("Content-Length", str(len(data)))
        connection.endheaders(data)
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    finally:
        connection.close()


def refused(server, method, path, body=None, **kwargs):
    """(status, code, field) of a refusal, checking its shape."""
    status, answer = send(server, method, path, body, **kwargs)
    assert 400 <= status < 500, (status, answer)
    assert set(answer) == {"error"} and set(answer["error"]) == {"code", "message", "field"}, answer
    assert "Traceback" not in answer["error"]["message"]
    return status, answer["error"]["code"], answer["error"]["field"]


def segment_body(shot, output, **changes):
    return {"input": shot.input, "frame": 1002, "clicks": shot.to_dict()["clicks"], "output": str(output), **changes}


def digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# -- a web page driving the bridge -------------------------------------------------------------


def test_dns_rebinding_host_is_refused_on_every_route(server, shot):
    output = server.root / "rebind" / "m.####.exr"
    evil = f"evil.example:{server.port}"
    assert refused(server, "GET", "/v1/health", host=evil)[:2] == (403, "forbidden_host")
    assert refused(server, "POST", "/v1/segment", segment_body(shot, output), host=evil)[:2] == (403, "forbidden_host")
    assert refused(server, "POST", "/v1/jobs", {"shot_path": shot.path}, host=evil)[:2] == (403, "forbidden_host")
    body = {"shot_path": shot.path, "farm": "openjd", "dry_run": True, "out_dir": str(server.root / "rebind_farm")}
    assert refused(server, "POST", "/v1/submit", body, host=evil)[:2] == (403, "forbidden_host")
    assert refused(server, "GET", "/openapi.json", host="127.0.0.1.evil.example")[:2] == (403, "forbidden_host")
    assert not (server.root / "rebind").exists() and not (server.root / "rebind_farm").exists()
    for name in (f"127.0.0.1:{server.port}", f"localhost:{server.port}", f"[::1]:{server.port}", "LOCALHOST",
                 f"{ALLOWED_HOST}:{server.port}"):
        assert send(server, "GET", "/v1/health", host=name)[0] == 200, name


def test_foreign_origin_is_refused(server, shot):
    output = server.root / "origin" / "m.####.exr"
    for origin in ("http://evil.example", f"http://127.0.0.1:{server.port}.evil.example", "null"):
        status, code, _ = refused(server, "POST", "/v1/segment", segment_body(shot, output), headers={"Origin": origin})
        assert (status, code) == (403, "forbidden_origin"), origin
    assert refused(server, "GET", "/v1/health", headers={"Origin": "http://evil.example"})[:2] == (403, "forbidden_origin")
    assert not (server.root / "origin").exists()
    status, answer = send(server, "POST", "/v1/segment", segment_body(shot, output), headers={"Origin": ALLOWED_ORIGIN})
    assert status == 200 and os.path.isfile(answer["output"]), answer


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/jsonx"])
def test_body_without_the_json_content_type_is_refused(server, shot, content_type):
    output = server.root / "simple" / "m.####.exr"
    status, code, _ = refused(server, "POST", "/v1/segment", segment_body(shot, output), content_type=content_type)
    assert (status, code) == (415, "unsupported_media_type")
    assert refused(server, "POST", "/v1/jobs", {"shot_path": shot.path}, content_type=content_type)[0] == 415
    assert not (server.root / "simple").exists()


# -- nothing the user has is overwritten -------------------------------------------------------


def test_outputs_over_the_users_files_are_refused_byte_for_byte(server, shot):
    notes = write_image(server.root / "sh" / "notes.exr", np.full((8, 8, 3), 0.25))  # an EXR of the user's
    victims = {"another plate": shot.input_path(1003), "the shot file": shot.path, "a non-matte EXR": notes}
    for what, victim in victims.items():
        before = digest(victim)
        assert refused(server, "POST", "/v1/segment", segment_body(shot, victim)) == (409, "output_exists", "output"), what
        assert digest(victim) == before, what
    # a job whose outputs would overwrite four PNG plates of another clip: refused before any frame
    other = server.root / "other_clip"
    other.mkdir()
    pngs = [write_image(other / f"plate.{frame}.png", np.full((SIZE[1], SIZE[0], 3), 0.5), fmt="uint8")
            for frame in (1002, 1003)]
    before = {path: digest(path) for path in pngs}
    data = dict(shot.to_dict(), output=str(other / "plate.####.png"))
    assert refused(server, "POST", "/v1/jobs", {"shot": data}) == (409, "output_exists", "output")
    assert {path: digest(path) for path in pngs} == before
    assert sorted(os.listdir(other)) == ["plate.1002.png", "plate.1003.png"]  # frame 1001 was not rendered either


def test_a_matte_hyperseg_wrote_may_be_replaced_and_overwrite_true_replaces_anything(server, shot):
    output = server.root / "again" / "m.####.exr"
    first = send(server, "POST", "/v1/segment", segment_body(shot, output))
    assert first[0] == 200, first
    written = Path(first[1]["output"])
    mtime = written.stat().st_mtime_ns
    time.sleep(0.01)
    second = send(server, "POST", "/v1/segment", segment_body(shot, output))
    assert second[0] == 200 and written.stat().st_mtime_ns != mtime, second
    user_file = write_image(server.root / "again" / "user.exr", np.zeros((4, 4, 3)))
    status, answer = send(server, "POST", "/v1/segment", segment_body(shot, user_file, overwrite=True))
    assert status == 200, answer
    from hyperseg_vfx.io.exr import read_matte_metadata

    assert read_matte_metadata(user_file)["frame"] == "1002"


# -- bounded resources -------------------------------------------------------------------------


def test_a_billion_frames_is_refused_quickly_with_bounded_memory(server, shot):
    peak = server.peak_rss_bytes()
    clicks = [dict(shot.to_dict()["clicks"][0], frames="1-1000000000")]
    start = time.monotonic()
    assert refused(server, "POST", "/v1/segment", segment_body(shot, server.root / "big" / "m.exr", clicks=clicks)) \
        == (422, "invalid_shot", "clicks[0].frames")
    assert refused(server, "POST", "/v1/jobs", {"shot_path": shot.path, "frames": "1-1000000000"})[:2] \
        == (422, "invalid_shot")
    data = dict(shot.to_dict(), frames="1001-1000001000")
    assert refused(server, "POST", "/v1/jobs", {"shot": data}) == (422, "invalid_shot", "shot.frames")
    padded = dict(shot.to_dict(), output=str(server.root / "big" / "m.%0100000000d.exr"))
    assert refused(server, "POST", "/v1/jobs", {"shot": padded}) == (422, "invalid_shot", "shot.output")
    elapsed = time.monotonic() - start
    growth = server.peak_rss_bytes() - peak
    print(f"billion-frame requests: refused in {elapsed:.2f} s; bridge peak RSS grew {growth / 2**20:.1f} MiB")
    assert growth < RSS_GROWTH_LIMIT
    assert len(server.output()) < 10**6  # the log did not echo a 100-million-digit frame number


def test_a_tiny_exr_with_a_huge_display_window_is_refused_before_allocating(server, shot):
    plates = server.root / "huge"
    plates.mkdir()
    for frame in (1001, 1002):
        write_image(plates / f"p.{frame}.exr", np.zeros((2, 2, 3)), display=(0, 0, 60000, 60000))
    assert os.path.getsize(plates / "p.1002.exr") < 2000
    peak = server.peak_rss_bytes()
    body = segment_body(shot, plates / "m.####.exr", input=str(plates / "p.####.exr"))
    status, code, field = refused(server, "POST", "/v1/segment", body)
    assert (status, code, field) == (422, "invalid_shot", "input")
    _s, answer = send(server, "POST", "/v1/segment", body)
    assert "display window 60000x60000" in answer["error"]["message"] and "p.1002.exr" in answer["error"]["message"]
    growth = server.peak_rss_bytes() - peak
    print(f"60000x60000 display window: bridge peak RSS grew {growth / 2**20:.1f} MiB")
    assert growth < RSS_GROWTH_LIMIT


def test_an_oversized_content_length_gets_413_before_the_body(server):
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(f"POST /v1/segment HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {10 * 1024**3}\r\n\r\n".encode())
        answer = _read_all(sock)  # sent no body byte: answered, and the connection closed
    assert answer.startswith(b"HTTP/1.1 413") and b"payload_too_large" in answer


def _read_all(sock) -> bytes:
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


@pytest.mark.parametrize("request_start", [
    b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n",  # headers never finished
    b"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
])
def test_a_slow_client_is_dropped_after_the_request_timeout(server, request_start):
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(request_start)
        start, dropped = time.monotonic(), False
        while time.monotonic() - start < 5 * REQUEST_TIMEOUT_S:
            try:
                sock.sendall(b" ")  # one more byte of the header line or of the body, every 0.5 s
            except OSError:
                dropped = True
                break
            sock.settimeout(0.5)
            try:
                if sock.recv(65536) == b"":
                    dropped = True
                    break
            except socket.timeout:
                pass
            except OSError:
                dropped = True
                break
        elapsed = time.monotonic() - start
    assert dropped, f"still connected after {elapsed:.1f} s"
    assert REQUEST_TIMEOUT_S - 0.5 <= elapsed <= 2 * REQUEST_TIMEOUT_S + 1


# -- list 8: every one a 4xx naming the field --------------------------------------------------


def test_outputs_that_cannot_be_written_are_4xx_naming_the_output(server, shot):
    folder = server.root / "folder_output"
    folder.mkdir()
    (server.root / "loop").symlink_to(server.root / "loop")
    cases = {
        "a folder": str(folder),
        "the root": str(server.root),
        "a 256-byte name": str(server.root / ("n" * 256 + ".exr")),
        "a read-only folder": "/sys/hyperseg-test/m.####.exr",
        "a file as parent": str(Path(shot.input_path(1001)) / "m.exr"),
        "a symlink loop": str(server.root / "loop" / "m.exr"),
        "a lone surrogate": str(server.root / "bad\ud800" / "m.exr"),
        "two frame tokens": str(server.root / "tokens" / "m.####.%04d.exr"),
    }
    before = sorted(os.listdir(server.root.parent))
    for what, output in cases.items():
        body = json.dumps(segment_body(shot, "OUT"), ensure_ascii=True).replace('"OUT"', json.dumps(output))
        status, code, field = refused(server, "POST", "/v1/segment", body.encode())
        assert 400 <= status < 500 and field == "output", (what, status, code, field)
    _s, answer = send(server, "POST", "/v1/segment", segment_body(shot, "/sys/hyperseg-test/m.####.exr"))
    assert "permission denied" in answer["error"]["message"], answer
    assert sorted(os.listdir(server.root.parent)) == before  # no `.partial` next to the root
    assert os.listdir(folder) == []


def test_a_lone_surrogate_in_the_colorspace_is_a_4xx(server, shot):
    body = json.dumps(segment_body(shot, server.root / "cs" / "m.exr", colorspace="OUT")).replace(
        '"OUT"', '"lin\\ud800"')
    assert refused(server, "POST", "/v1/segment", body.encode()) == (422, "invalid_shot", "colorspace")


def test_shot_files_that_are_not_text_or_nest_too_deep_are_4xx(server):
    files = {"binary": bytes(range(256)) * 4, "latin-1": "input: caf\xe9.exr\n".encode("latin-1"),
             "nested": b"[" * 100000, "nested mapping": b"{a: " * 5000 + b"1" + b"}" * 5000}
    for name, content in files.items():
        path = server.root / f"{name.replace(' ', '_')}.yaml"
        path.write_bytes(content)
        status, code, field = refused(server, "POST", "/v1/jobs", {"shot_path": str(path)})
        assert (status, code) == (422, "invalid_shot"), (name, status, code, field)


# -- requests validate exactly as shot files ---------------------------------------------------


@pytest.mark.parametrize("clicks, options, field", [
    ([{"label": "positive", "keys": {"1002": ["16", "9"]}}], None, "clicks[0].keys.1002[0]"),
    ([{"label": "positive", "keys": {"1002": [True, False]}}], None, "clicks[0].keys.1002[0]"),
    (None, {"candidates": "true"}, "options.candidates"),
    (None, {"scale": 1e-300}, "options.scale"),
])
def test_requests_refuse_what_shot_files_refuse(server, shot, clicks, options, field):
    changes = {"clicks": clicks} if clicks else {"options": options}
    assert refused(server, "POST", "/v1/segment", segment_body(shot, server.root / "v" / "m.exr", **changes))[2] == field
    assert not (server.root / "v").exists()


def test_a_key_frame_given_twice_is_refused(server, shot):
    spaced = [{"label": "positive", "keys": {"1002": [40.0, 30.0], "1002 ": [41.0, 30.0]}}]
    body = segment_body(shot, server.root / "dup" / "m.exr", clicks=spaced)
    assert refused(server, "POST", "/v1/segment", body) == (422, "invalid_shot", "clicks[0].keys.1002 ")
    once = [{"label": "positive", "keys": {"1002": [40.0, 30.0]}}]
    exact = json.dumps(segment_body(shot, server.root / "dup" / "m.exr", clicks=once)).replace(
        '"1002": [40.0, 30.0]', '"1002": [40.0, 30.0], "1002": [41.0, 30.0]')
    assert exact.count('"1002"') == 2
    assert refused(server, "POST", "/v1/segment", exact.encode())[:2] == (400, "invalid_json")
    deep = b'{"input": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert refused(server, "POST", "/v1/segment", deep)[:2] == (400, "invalid_json")
    assert not (server.root / "dup").exists()


# -- /v1/submit ---------------------------------------------------------------------------------


def test_submit_applies_the_path_rules_of_jobs(server, shot, tmp_path):
    outside = dict(shot.to_dict(), output=str(tmp_path / "outside" / "m.####.exr"))
    shot_file = server.root / "sh" / "outside_output.yaml"
    shot_file.write_text(json.dumps(outside))
    out_dir = server.root / "farm_outside"
    assert refused(server, "POST", "/v1/jobs", {"shot_path": str(shot_file)}) == (403, "forbidden_path", "output")
    body = {"shot_path": str(shot_file), "farm": "deadline10", "dry_run": True, "out_dir": str(out_dir)}
    assert refused(server, "POST", "/v1/submit", body) == (403, "forbidden_path", "output")
    assert not out_dir.exists()


def test_a_newline_in_the_shot_output_cannot_reach_a_deadline_job_file(server, shot):
    injected = dict(shot.to_dict(), output=str(server.root / "sh" / "m.####.exr\nPostJobScript=/tmp/evil.py"))
    shot_file = server.root / "sh" / "injected.yaml"
    shot_file.write_text(json.dumps(injected))
    out_dir = server.root / "farm_injected"
    body = {"shot_path": str(shot_file), "farm": "deadline10", "dry_run": True, "out_dir": str(out_dir)}
    assert refused(server, "POST", "/v1/submit", body) == (422, "invalid_shot", "output")
    assert not out_dir.exists()


# -- start-up -----------------------------------------------------------------------------------


def test_the_start_up_names_the_roots_and_says_it_is_open_without_a_token(server):
    text = server.output()
    assert f"paths allowed in {server.root}" in text
    assert "no token: any local process" in text and ALLOWED_HOST in text


@pytest.mark.parametrize("folder", ["/", "~"])
def test_no_allow_root_in_the_root_or_home_folder_refuses_to_start(tiny_checkpoint, folder):
    import subprocess
    import sys

    from bridge_server import free_port

    command = [sys.executable, "-m", "hyperseg_vfx.cli", "serve", "--port", str(free_port()),
               "--checkpoint", str(tiny_checkpoint), "--device", "cpu"]
    result = subprocess.run(command, cwd=os.path.expanduser(folder), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "--allow-root" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
