"""The auto-started bridge on day one (issue 25): a new user's Nuke, started from `/`, with
hyperseg-vfx not on its PATH but named by $HYPERSEG_VFX_COMMAND (a JSON list), presses Segment
frame: the plugin starts a bridge that allows the comp's folders, takes a Read in a new folder
without a restart, and is stopped by the plugin at Nuke's exit."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bridge_server import BridgeClient, free_port, port_is_free
from fake_nuke.comp import make_comp, set_click

ROOT = Path(__file__).resolve().parents[1]


def finish(nuke, thread) -> None:
    assert thread is not None, nuke.messages
    thread.join(300)
    assert not thread.is_alive()
    nuke.run_pending()


def test_the_auto_started_bridge_allows_the_comp_and_stops_with_nuke(nuke, make_shot, tmp_path, monkeypatch):
    from hyperseg_nuke import bridge_client, callbacks

    read, node = make_comp(nuke, tmp_path / "show", make_shot)
    set_click(node, "pos1", {1001: (40.0, 30.0)})
    port = free_port()
    node["bridge_url"].setValue(f"http://127.0.0.1:{port}")  # autostart is on by default
    monkeypatch.delenv("HYPERSEG_BRIDGE_COMMAND", raising=False)
    # this worktree's hyperseg-vfx (the child gets no PYTHONPATH: see bridge_client.child_environment)
    run_here = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from hyperseg_vfx.cli import main; main()"
    monkeypatch.setenv("HYPERSEG_VFX_COMMAND", json.dumps([sys.executable, "-c", run_here]))
    monkeypatch.setenv("PATH", str(tmp_path / "no-hyperseg-here"))
    monkeypatch.chdir("/")  # Nuke started from a desktop icon
    try:
        finish(nuke, callbacks.segment_frame(node))
        assert node["status"].value().startswith("frame 1001: "), (node["status"].value(), nuke.messages)
        assert (tmp_path / "show" / "mattes" / "comp_HyperSeg1_matte.1001.exr").is_file()
        client = BridgeClient(f"http://127.0.0.1:{port}", token=bridge_client.user_token())
        pid = client.health()["pid"]

        make_shot(tmp_path / "elsewhere", "1001-1006", (96, 64), name="other", negative_click=False)
        read["file"].setValue(str(tmp_path / "elsewhere" / "plates" / "other.####.exr"))  # a new folder
        finish(nuke, callbacks.segment_frame(node))
        assert node["status"].value().startswith("frame 1001: "), (node["status"].value(), nuke.messages)
        assert client.health()["pid"] == pid  # widened, not restarted
        assert str(tmp_path / "elsewhere" / "plates") in bridge_client.allowed_folders()
    finally:
        stopped = bridge_client.stop_started_bridges()  # what the plugin runs at Nuke's exit
    assert stopped == [pid] and port_is_free("127.0.0.1", port)
