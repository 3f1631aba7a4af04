"""Token files (issue 24, item 16), against the real `hyperseg-vfx serve`: only a regular file of
the user's, readable by nobody else, not a link, UTF-8, is read, and never by blocking (a FIFO
used to hang the start); a non-ASCII token works, sent UTF-8 encoded by the Nuke plugin's client
and compared as UTF-8 bytes. The plugin's own reading of token files (user_token) is tested in
test_nuke_portable.py, under Python 3.7 too.
"""

from __future__ import annotations

import http.client
import os

import pytest
from bridge_server import BridgeProcess, run_serve

from hyperseg_nuke.bridge_client import BridgeClient, BridgeError

TOKEN = "jeton-secret-été-€-ключ-トークン"  # Latin-1 cannot encode it: only UTF-8 carries it


def private_token(path, text: str = TOKEN + "\n"):
    path.write_bytes(text.encode("utf-8"))
    path.chmod(0o600)
    return path


def refused_start(checkpoint, folder, token_file) -> str:
    """The one line `serve --token-file` prints when it refuses to start (exit 2, promptly)."""
    result = run_serve(checkpoint, [folder], "--token-file", token_file, timeout=60)
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_a_fifo_a_link_and_a_non_utf8_token_file_are_refused_at_once(tiny_checkpoint, tmp_path):
    fifo = tmp_path / "fifo_token"
    os.mkfifo(fifo, 0o600)
    assert "not a regular file" in refused_start(tiny_checkpoint, tmp_path, fifo)  # it used to wait forever
    link = tmp_path / "link_token"
    link.symlink_to(private_token(tmp_path / "real_token"))
    assert "symbolic link" in refused_start(tiny_checkpoint, tmp_path, link)
    latin1 = tmp_path / "latin1_token"
    latin1.write_bytes("jeton-secret-été-de-la-semaine".encode("latin-1"))
    latin1.chmod(0o600)
    assert "not UTF-8" in refused_start(tiny_checkpoint, tmp_path, latin1)


@pytest.mark.skipif(os.name != "posix" or os.getuid() != 0, reason="giving a file to another user needs root")
def test_a_token_file_of_another_user_is_refused(tiny_checkpoint, tmp_path):
    foreign = private_token(tmp_path / "foreign_token")
    os.chown(foreign, 65534, 65534)
    assert "another user" in refused_start(tiny_checkpoint, tmp_path, foreign)


def test_a_non_ascii_token_works_as_utf8_from_the_plugin_client(tiny_checkpoint, tmp_path):
    token_file = private_token(tmp_path / "token")
    with BridgeProcess(tiny_checkpoint, [tmp_path], tmp_path / "bridge.log", token=TOKEN,
                       extra=["--token-file", token_file]) as server:
        assert server.client.health()["status"] == "ok"  # the plugin's client: UTF-8 on the wire
        for wrong in (TOKEN[:-1] + "X", TOKEN.encode("utf-8").decode("latin-1")):
            with pytest.raises(BridgeError) as error:
                BridgeClient(server.url, token=wrong).health()
            assert error.value.status == 401
        connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
        try:  # as curl sends it from a UTF-8 terminal
            connection.request("GET", "/v1/health", headers={"Authorization": ("Bearer " + TOKEN).encode("utf-8")})
            assert connection.getresponse().status == 200
        finally:
            connection.close()
    assert "Traceback" not in server.output(), server.output()
