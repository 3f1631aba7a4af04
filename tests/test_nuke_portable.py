"""The Nuke plugin under the interpreter running this file, with only the standard library,
pytest, numpy and the fake `nuke`: no OpenImageIO, no torch, no hyperseg_vfx. `make test` runs
it under real Python 3.7 (Nuke 13's) where ~/.pyenv has one, besides the main suite's 3.11:

    python3.7 -m pytest --noconftest tests/test_nuke_portable.py

It covers what the other plugin tests check with real files, where the plugin's own code runs:
every module imports; the node is built from the gizmo, saved, reopened and pasted with its
matte knobs and inner expressions; node ids; Windows paths; click export; the bridge client
against a stdlib HTTP stand-in (the request a Segment frame sends); the farm message (the path
that called shlex.join, Python 3.8+); non-GUI sessions; live scheduling; the child environment.
"""

from __future__ import annotations

import http.server
import importlib
import json
import threading

import pytest

import fake_nuke
from fake_nuke import PLUGIN_DIR
from fake_nuke.comp import load_plugin

MODULES = ("background", "bridge_client", "callbacks", "clicks", "connection", "edits", "errors", "feedback", "install",
           "jobs", "knobs", "live", "matte", "paths", "preview", "script", "settings", "shotfile", "source",
           "source_render", "tasks", "track_memory", "tracking")


@pytest.fixture
def nuke():
    return fake_nuke.install()


def test_every_module_imports(nuke):
    for name in MODULES:
        importlib.import_module("hyperseg_nuke." + name)
    assert sorted(p.stem for p in (PLUGIN_DIR / "hyperseg_nuke").glob("*.py") if p.stem != "__init__") == \
        sorted(MODULES)


def test_matte_knobs_and_expressions_survive_save_reopen_and_paste(nuke, tmp_path):
    from hyperseg_nuke import matte

    load_plugin(nuke)
    nuke.root()["name"].setValue(str(tmp_path / "comp.nk"))
    node = nuke.createNode("HyperSeg")
    node["pos1_on"].setValue(True)
    matte.show_matte(node, "C:/shots/mattes/m.####.exr", 1001, 1010)
    node["candidate"].setValue("fifth")
    nuke.scriptSave()
    nuke.reset()
    load_plugin(nuke)
    nuke.scriptOpen(str(tmp_path / "comp.nk"))
    (node,) = nuke.allNodes("HyperSeg")
    read = node.node(matte.READ)
    assert (read["file"].evaluate_pattern(), read["first"].value(), read["last"].value()) == (
        "C:/shots/mattes/m.####.exr", 1001, 1010)
    assert node.node(matte.SWITCH)["which"].value() == 4.0
    assert not node.node(matte.COPY + "1")["disable"].value()
    assert node["pos1"].visible() and not node["pos2"].visible()  # onCreate ran on load

    node["selected"].setValue(True)
    nuke.nodeCopy("%clipboard%")
    copy = nuke.nodePaste("%clipboard%")
    assert copy.name() == "HyperSeg2" and copy.node(matte.READ)["file"].evaluate_pattern() == \
        "C:/shots/mattes/m.####.exr"


def test_a_pasted_copy_claims_its_own_id(nuke):
    from hyperseg_nuke import knobs

    load_plugin(nuke)
    node = nuke.createNode("HyperSeg")
    assert knobs.claim_node_id(node, [node]) == "HyperSeg1"
    node["selected"].setValue(True)
    nuke.nodeCopy("%clipboard%")
    copy = nuke.nodePaste("%clipboard%")
    both = [node, copy]
    assert copy["node_id"].value() == "HyperSeg1"  # pasted with the original's knobs
    assert knobs.claim_node_id(node, both) == "HyperSeg1"  # the original keeps its files
    assert knobs.claim_node_id(copy, both) == "HyperSeg2"
    node.setName("hero")
    assert knobs.claim_node_id(node, both) == "HyperSeg1"  # renamed: still unique, kept


def test_windows_paths(nuke):
    from hyperseg_nuke import paths

    assert paths.matte_pattern("", "C:\\shots\\comp.nk", "N") == "C:/shots/mattes/comp_N_matte.####.exr"
    assert paths.matte_pattern("", "\\\\srv\\share\\comp.nk", "N") == "//srv/share/mattes/comp_N_matte.####.exr"
    assert paths.frame_file("//srv/m.%04d.exr", 7) == "//srv/m.0007.exr"


def test_an_added_click_goes_to_the_nearest_free_point(nuke):
    from hyperseg_nuke.clicks import free_point

    assert free_point([], 200, 100) == (100.0, 50.0)
    second = free_point([(100.0, 50.0)], 200, 100)
    assert abs(((second[0] - 100) ** 2 + (second[1] - 50) ** 2) ** 0.5 - 5.0) < 1e-9  # one spacing: 100 / 20
    third = free_point([(100.0, 50.0), second], 200, 100)
    assert third not in ((100.0, 50.0), second)
    assert free_point([(100.0, 50.0)], 200, 100) == second  # deterministic


def test_click_export_flips_and_bakes(nuke):
    from hyperseg_nuke.clicks import ClickKnob, clicks_at, export_tracks

    knob = ClickKnob("pos1", "positive", True, (1.0, 3.0), lambda frame: (10.0, 20.0 + frame))
    assert clicks_at([knob], 2, 100, 50) == [{"label": "positive", "keys": {2: [10.0, 28.0]}}]
    assert export_tracks([knob], range(1, 4), 100, 50)[0]["keys"] == {1: [10.0, 29.0], 3: [10.0, 27.0]}


class StandIn(http.server.BaseHTTPRequestHandler):
    """Answers every POST with the request it got."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        answer = json.dumps({"got": json.loads(body.decode()), "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def test_bridge_client_sends_the_colour_space(nuke):
    from hyperseg_nuke.bridge_client import BridgeClient

    server = http.server.HTTPServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = BridgeClient("http://127.0.0.1:{}".format(server.server_address[1]))
        answer = client.segment("C:/p/plate.####.exr", 1001, [{"label": "positive", "keys": {1001: (1.0, 2.0)}}],
                                "C:/m/m.####.exr", colorspace="ACEScg")
    finally:
        server.shutdown()
        server.server_close()
    assert answer["path"] == "/v1/segment"
    assert answer["got"]["colorspace"] == "ACEScg" and answer["got"]["clicks"][0]["keys"] == {"1001": [1.0, 2.0]}


def test_farm_message_quotes_the_command_and_the_node_shows_the_farms_output(nuke, monkeypatch):
    from hyperseg_nuke import callbacks, source

    load_plugin(nuke)
    node = nuke.createNode("HyperSeg")
    shot = callbacks.ShotPlan(None, source.SourceInfo(96, 64, 1001, 1010, None, "linear"), {}, "/s/m/m.####.exr",
                              "/s/comp.nk", "HyperSeg1", None)
    plan = callbacks.FarmPlan(shot, "opencue", "/s/shot.json")
    callbacks._show_submission(node, plan, {"farm": "opencue", "submitted": False, "message": "dry run",
                                            "command": ["cuerun", "a b.xml"]})
    assert "cuerun 'a b.xml'" in nuke.messages[-1]
    assert (node["matte_file"].value(), node["matte_first"].value(), node["matte_last"].value()) == \
        ("/s/m/m.####.exr", 1001, 1010)
    assert "Reload matte" in node["status"].value()


def test_without_gui_work_runs_synchronously(nuke):
    from hyperseg_nuke import tasks

    nuke.GUI = False
    done = []
    assert tasks.in_background("T", lambda task: 42, done.append, done.append) is None
    assert done == [42] and nuke.progress_tasks[-1].closed


def test_live_changes_only_schedule_and_the_latest_wins(nuke, monkeypatch):
    from hyperseg_nuke import callbacks, live

    load_plugin(nuke)
    node = nuke.createNode("HyperSeg")
    calls = []
    monkeypatch.setattr(live, "DEBOUNCE_S", 0.05)
    monkeypatch.setattr(callbacks, "segment_frame", lambda n: calls.append(n["pos1"].value()[0]))
    nuke.artist_sets(node, "live", True)
    for x in (1.0, 2.0, 3.0):
        nuke.artist_sets(node, "pos1", [x, 5.0])
    assert calls == []
    nuke.pump(lambda: bool(calls), timeout=10)
    assert calls == [3.0]


def test_child_processes_get_a_clean_python_environment(nuke, monkeypatch):
    from hyperseg_nuke.bridge_client import child_environment

    monkeypatch.setenv("PYTHONPATH", "/nuke/lib/python")
    monkeypatch.setenv("PYTHONHOME", "/nuke")
    monkeypatch.setenv("HYPERSEG_FARM", "openjd")
    env = child_environment()
    assert "PYTHONPATH" not in env and "PYTHONHOME" not in env and env["HYPERSEG_FARM"] == "openjd"


# -- issue 25: node identity, handles, Track in bulk, reload matte ----------------------------------


def test_a_renamed_node_keeps_its_id_among_fresh_wrappers(nuke):
    """Nuke gives a new Python object per allNodes() call: a node must find itself by ==."""
    from hyperseg_nuke import knobs, script

    load_plugin(nuke)
    node = nuke.createNode("HyperSeg")
    assert knobs.claim_node_id(node, script.hyperseg_nodes("HyperSeg")) == "HyperSeg1"
    node.setName("hero")
    assert knobs.claim_node_id(nuke.toNode("hero"), script.hyperseg_nodes("HyperSeg")) == "HyperSeg1"


def test_enabled_click_handles_show_on_the_hyperseg_tab(nuke, tmp_path):
    """Segment frame and live sit on the HyperSeg tab: the handles must show there too (created,
    reopened and pasted nodes)."""
    load_plugin(nuke)
    nuke.root()["name"].setValue(str(tmp_path / "comp.nk"))
    node = nuke.createNode("HyperSeg")  # the panel opens on the HyperSeg tab
    nuke.artist_sets(node, "pos1_on", True)
    assert node["pos1"].handle_shown() and not node["pos2"].handle_shown()
    nuke.scriptSave()
    nuke.reset()
    load_plugin(nuke)
    nuke.scriptOpen(str(tmp_path / "comp.nk"))
    again = nuke.allNodes("HyperSeg")[0]
    again.showControlPanel()
    assert again["pos1"].handle_shown() and not again["neg1"].handle_shown()
    again["selected"].setValue(True)
    nuke.nodeCopy("%clipboard%")
    copy = nuke.nodePaste("%clipboard%")
    copy.showControlPanel()
    assert copy["pos1"].handle_shown()


def test_track_writes_keys_in_one_undo_step_without_segments(nuke, monkeypatch):
    """1000 frames x 16 clicks tracked, with live on and the panel open: one undo step, no
    segment scheduled, no key left on the current frame (outside the range)."""
    from hyperseg_nuke import callbacks, knobs, live, tracking

    load_plugin(nuke)
    node = nuke.createNode("HyperSeg")  # panel open: Python changes fire knobChanged
    segments = []
    monkeypatch.setattr(live, "DEBOUNCE_S", 0.01)
    monkeypatch.setattr(callbacks, "segment_frame", segments.append)
    names = ["{}{}".format(p, i) for p in ("pos", "neg") for i in range(1, 9)]
    for name in names:
        nuke.artist_sets(node, name + "_on", True)
    nuke.artist_sets(node, "live", True)
    nuke.pump(lambda: bool(segments), timeout=10)  # the toggles above: one live segment
    del segments[:]
    frames = range(1001, 2001)
    keys = {name: {f: (10.0 + i + f / 100.0, 20.0 + i) for f in frames} for i, name in enumerate(names)}
    before = nuke.Undo.undoSize()
    tracking.write_keys(node, keys, {"pos1": {"artist": [1001]}})
    assert nuke.Undo.undoSize() == before + 1
    for name in names:
        assert node[name].getKeyList() == [float(f) for f in frames]  # nothing on frame 1, the current one
        assert node[name].getValueAt(1500) == list(keys[name][1500])
    assert knobs.click_knobs(node)[0].keyframes[0] == 1001.0
    import time

    time.sleep(0.1)
    nuke.run_pending()
    assert segments == [] and node["live"].value()


def test_reload_matte_button_reloads_the_inner_read(nuke):
    from hyperseg_nuke import matte

    load_plugin(nuke)
    node = nuke.createNode("HyperSeg")
    matte.show_matte(node, "/shots/m/x.####.exr", 1001, 1010)
    read = node.node(matte.READ)
    before = read.reloads
    node["reload_matte"].execute()
    assert read.reloads == before + 1 and "reloaded" in node["status"].value()
