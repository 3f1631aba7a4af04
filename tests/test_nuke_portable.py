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
import os
import stat
import threading

import pytest

import fake_nuke
from fake_nuke import PLUGIN_DIR
from fake_nuke.comp import load_plugin

MODULES = ("autostart", "background", "bridge_client", "callbacks", "clicks", "colour", "connection", "edits",
           "errors", "feedback", "install", "jobs", "knobs", "live", "matte", "objects", "paths", "preview", "script",
           "settings", "shotfile", "source", "source_render", "tasks", "track_memory", "tracking")


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


# -- token files (issue 24, item 16): the rules of `serve --token-file`, applied by the plugin ------


class HeaderStandIn(StandIn):
    """Answers every GET with the raw bytes of the Authorization header it got (as Latin-1 text,
    which maps byte for byte)."""

    def do_GET(self):
        answer = json.dumps({"authorization": self.headers.get("Authorization", "")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def test_bridge_client_sends_a_non_ascii_token_utf8_encoded(nuke):
    from hyperseg_nuke.bridge_client import BridgeClient

    token = "jeton-secret-été-€-ключ"
    server = http.server.HTTPServer(("127.0.0.1", 0), HeaderStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        answer = BridgeClient("http://127.0.0.1:{}".format(server.server_address[1]), token=token).health()
    finally:
        server.shutdown()
        server.server_close()
    assert answer["authorization"].encode("latin-1") == ("Bearer " + token).encode("utf-8")


@pytest.mark.skipif(os.name != "posix", reason="POSIX owners, modes, links and FIFOs")
def test_user_token_makes_its_folder_private_and_reads_the_file_as_serve_does(nuke, tmp_path):
    from hyperseg_nuke.bridge_client import BridgeError, user_token

    folder = tmp_path / "open"
    folder.mkdir()
    folder.chmod(0o777)
    token = user_token(str(folder / "bridge_token"))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and len(token) >= 16
    assert stat.S_IMODE((folder / "bridge_token").stat().st_mode) == 0o600

    (folder / "bridge_token").chmod(0o644)
    with pytest.raises(BridgeError, match="read by other users"):
        user_token(str(folder / "bridge_token"))

    planted = tmp_path / "planted"
    planted.mkdir(mode=0o700)
    target = tmp_path / "attackers_token"
    target.write_text("known-to-the-attacker-0123456789\n")
    target.chmod(0o600)
    (planted / "bridge_token").symlink_to(target)
    with pytest.raises(BridgeError, match="symbolic link"):
        user_token(str(planted / "bridge_token"))
    assert target.read_text() == "known-to-the-attacker-0123456789\n"

    fifo_folder = tmp_path / "fifo"
    fifo_folder.mkdir(mode=0o700)
    os.mkfifo(str(fifo_folder / "bridge_token"), 0o600)
    outcome = []

    def read():
        try:
            user_token(str(fifo_folder / "bridge_token"))
        except BridgeError as exc:
            outcome.append(str(exc))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    assert not reader.is_alive() and "not a regular file" in outcome[0], outcome


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


# -- command settings, finding hyperseg-vfx, the auto-started bridge (issue 25) --------------------

WINDOWS_COMMAND = r"C:\hyperseg\.venv\Scripts\hyperseg-vfx.exe serve --allow-root D:\shows"
WINDOWS_WORDS = [r"C:\hyperseg\.venv\Scripts\hyperseg-vfx.exe", "serve", "--allow-root", r"D:\shows"]


def on_windows(call, *args):
    """call(*args) with os.name "nt", as in Nuke on Windows; os.name is restored before the result
    (or error) leaves, so pytest itself never runs with it."""
    import os

    saved, os.name = os.name, "nt"
    try:
        return call(*args)
    finally:
        os.name = saved


def test_command_settings_keep_windows_paths(nuke, monkeypatch):
    from hyperseg_nuke import bridge_client, settings

    monkeypatch.setenv("HYPERSEG_BRIDGE_COMMAND", WINDOWS_COMMAND)
    assert on_windows(bridge_client.default_command, "http://127.0.0.1:8765") == WINDOWS_WORDS
    monkeypatch.setenv("HYPERSEG_VFX_COMMAND", r'"C:\Program Files\hyperseg\python.exe" -m hyperseg_vfx.cli')
    assert on_windows(settings.hyperseg_command) == [r"C:\Program Files\hyperseg\python.exe", "-m", "hyperseg_vfx.cli"]
    split = bridge_client.split_command
    assert on_windows(split, r'C:\hs\hyperseg-vfx.exe serve --allow-root "D:\my shows" --allow-root \\srv\share',
                      "X") == [r"C:\hs\hyperseg-vfx.exe", "serve", "--allow-root", r"D:\my shows", "--allow-root",
                               r"\\srv\share"]
    assert on_windows(split, json.dumps(WINDOWS_WORDS), "X") == WINDOWS_WORDS  # a JSON list: the words as they are
    assert split("/opt/hs/bin/python -m hyperseg_vfx.cli --allow-root '/shows/a b'", "X") == [
        "/opt/hs/bin/python", "-m", "hyperseg_vfx.cli", "--allow-root", "/shows/a b"]
    assert split(json.dumps(WINDOWS_WORDS), "X") == WINDOWS_WORDS
    assert split("  ", "X") == []
    for bad in ('["serve", 3]', "[]", '[{"a": 1}]', "[not json", 'a "unclosed'):
        for run in (split, lambda *args: on_windows(split, *args)):
            with pytest.raises(bridge_client.BridgeError, match="HYPERSEG_BRIDGE_COMMAND"):
                run(bad, "HYPERSEG_BRIDGE_COMMAND")


def _executable(folder, name="hyperseg-vfx"):
    import os
    import stat

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return os.path.abspath(str(path))


def test_hyperseg_vfx_is_found_by_a_documented_rule(nuke, monkeypatch, tmp_path):
    from hyperseg_nuke import bridge_client, settings

    monkeypatch.delenv("HYPERSEG_VFX_COMMAND", raising=False)
    monkeypatch.delenv("HYPERSEG_BRIDGE_COMMAND", raising=False)
    monkeypatch.setattr(bridge_client, "installed_command_file", lambda: str(tmp_path / "plugin" / "command.json"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(bridge_client.BridgeError) as error:  # nowhere: say how to set it, never [Errno 2]
        settings.hyperseg_command()
    assert "HYPERSEG_VFX_COMMAND" in str(error.value) and "nuke install" in str(error.value)
    with pytest.raises(bridge_client.BridgeError, match="HYPERSEG_VFX_COMMAND"):
        bridge_client.default_command("http://127.0.0.1:8765")
    on_path = _executable(tmp_path / "bin")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert settings.hyperseg_command() == [on_path]  # 3. on PATH, as an absolute path
    (tmp_path / "plugin").mkdir()
    (tmp_path / "plugin" / "command.json").write_text(json.dumps({"command": ["/venv/bin/python", "-m", "x"]}))
    assert settings.hyperseg_command() == ["/venv/bin/python", "-m", "x"]  # 2. what `nuke install` recorded
    monkeypatch.setenv("HYPERSEG_VFX_COMMAND", "/opt/hs/bin/hyperseg-vfx")
    assert settings.hyperseg_command() == ["/opt/hs/bin/hyperseg-vfx"]  # 1. the environment
    spaced = _executable(tmp_path / "Program Files" / "hs")  # a path with a space, unquoted
    monkeypatch.setenv("HYPERSEG_VFX_COMMAND", spaced)
    assert settings.hyperseg_command() == [spaced]


def test_the_auto_started_bridge_reads_its_allowed_folders_and_stops_when_idle(nuke, monkeypatch, tmp_path):
    from hyperseg_nuke import bridge_client

    monkeypatch.delenv("HYPERSEG_BRIDGE_COMMAND", raising=False)
    monkeypatch.setenv("HYPERSEG_VFX_COMMAND", "/opt/hs/bin/hyperseg-vfx")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    command = bridge_client.default_command("http://localhost:9001")
    assert command[:6] == ["/opt/hs/bin/hyperseg-vfx", "serve", "--host", "localhost", "--port", "9001"]
    roots_file = command[command.index("--allow-roots-file") + 1]
    assert roots_file == str(tmp_path / "config" / "hyperseg-vfx" / "bridge_roots")
    assert int(command[command.index("--idle-exit") + 1]) > 0


def test_allowed_folders_are_added_to_the_roots_file(nuke, tmp_path):
    import os

    from hyperseg_nuke import bridge_client

    path = str(tmp_path / "config" / "bridge_roots")
    assert bridge_client.allow_folders(["/shows/a/plates", "/shows/a/mattes", "/shows/a/plates/"], path) == [
        "/shows/a/plates", "/shows/a/mattes"]
    assert bridge_client.allow_folders(["/shows/a/plates/sub", "/shows/b"], path) == ["/shows/b"]  # sub: covered
    assert bridge_client.allowed_folders(path) == ["/shows/a/plates", "/shows/a/mattes", "/shows/b"]
    if os.name == "posix":
        assert os.stat(path).st_mode & 0o777 == 0o600
    home = os.path.expanduser("~")
    assert bridge_client.allow_folders(["/", home, "relative/x"], path) == []  # never the disk or the home folder


def test_a_copied_plugin_finds_the_gizmo_beside_it(nuke, tmp_path):
    import runpy
    import shutil
    import sys

    copy = tmp_path / "nuke plugins" / "hyperseg"  # as `hyperseg-vfx nuke install DIR` lays it out
    shutil.copytree(str(PLUGIN_DIR), str(copy), ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "gizmos").mkdir()
    shutil.copy(str(PLUGIN_DIR.parent / "gizmos" / "HyperSeg.gizmo"), str(copy / "gizmos"))
    saved = [name for name in sys.modules if name.startswith("hyperseg_nuke")]
    modules = {name: sys.modules.pop(name) for name in saved}
    sys.path.insert(0, str(copy))
    try:
        runpy.run_path(str(copy / "init.py"), run_name="__main__")
        node = nuke.createNode("HyperSeg")
        assert node.Class() == "HyperSeg" and node.knob("segment_frame") is not None
    finally:
        sys.path.remove(str(copy))
        for name in [n for n in sys.modules if n.startswith("hyperseg_nuke")]:
            del sys.modules[name]
        sys.modules.update(modules)


STOCK = "/opt/Nuke15.1v1/plugins/OCIOConfigs/configs/nuke-default/config.ocio"


def test_the_node_names_the_project_ocio_config(nuke, monkeypatch):
    from hyperseg_nuke import colour

    monkeypatch.delenv("OCIO", raising=False)
    root = nuke.root()
    root["OCIOConfigPath"].setValue(STOCK)
    assert colour.ocio_config() == STOCK  # the stock config Project Settings > Color names
    root["OCIO_config"].setValue("custom")
    root["customOCIOConfigPath"].setValue("[python {'/shows/sh010'}]/ocio/config.ocio")
    assert colour.ocio_config() == "/shows/sh010/ocio/config.ocio"  # the custom one, TCL expanded
    monkeypatch.setenv("OCIO", "/studio/ocio/config.ocio")
    assert colour.ocio_config() == "/studio/ocio/config.ocio"  # $OCIO overrides the project's, in Nuke too
    monkeypatch.delenv("OCIO")
    root["OCIO_config"].setValue("nuke-default")
    root["OCIOConfigPath"].setValue("")
    assert colour.ocio_config() is None


def test_bridge_client_sends_the_ocio_config(nuke):
    from hyperseg_nuke.bridge_client import BridgeClient

    server = http.server.HTTPServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = BridgeClient("http://127.0.0.1:{}".format(server.server_address[1]))
        answer = client.segment("C:/p/plate.####.exr", 1001, [{"label": "positive", "keys": {1001: (1.0, 2.0)}}],
                                "C:/m/m.####.exr", colorspace="ACEScg", ocio_config="C:/show/config.ocio")
    finally:
        server.shutdown()
        server.server_close()
    assert answer["got"]["colorspace"] == "ACEScg" and answer["got"]["ocio_config"] == "C:/show/config.ocio"


def test_objects_keep_their_clicks_through_save_reopen_and_the_menu(nuke, tmp_path):
    """Two objects: the menu swaps their clicks in the knobs (one undo step each), the script
    keeps both, and the shot data has one entry per object."""
    from hyperseg_nuke import callbacks, objects, shotfile

    load_plugin(nuke)
    nuke.root()["name"].setValue(str(tmp_path / "comp.nk"))
    node = nuke.createNode("HyperSeg")
    nuke.artist_sets(node, "pos1_on", True)
    node["pos1"].setValue([10.0, 20.0])
    nuke.inputs.extend(["actor", "prop"])
    callbacks.rename_object(node)
    callbacks.add_object(node)
    assert not node["pos1_on"].value() and node["object"].values() == ["actor", "prop"]
    nuke.artist_sets(node, "neg2_on", True)
    node["neg2"].setValue([30.0, 40.0])
    undo = nuke.Undo.undoSize()
    nuke.artist_sets(node, "object", "actor")
    assert nuke.Undo.undoSize() == undo + 2  # the menu's change, and the swap as one step
    assert node["pos1"].getValueAt(1) == [10.0, 20.0] and not node["neg2_on"].value()
    nuke.scriptSave()
    nuke.reset()
    load_plugin(nuke)
    nuke.scriptOpen(str(tmp_path / "comp.nk"))
    (node,) = nuke.allNodes("HyperSeg")
    assert node["object"].values() == ["actor", "prop"] and node["object"].value() == "actor"
    read = objects.export(node, lambda name: [node["pos1_on"].value(), node["neg2"].getValueAt(1)])
    assert read == (None, {"actor": {"clicks": [True, [0.0, 0.0]]}, "prop": {"clicks": [False, [30.0, 40.0]]}})
    data = shotfile.shot_data("p.####.exr", 1, 2, "m.####.exr", [], {}, objects=read[1])
    assert "clicks" not in data and list(data["objects"]) == ["actor", "prop"]
    assert objects.check_layer_name("1st") and objects.check_layer_name("a_candidates") and \
        objects.check_layer_name("actor") is None


def test_each_object_keeps_its_options_and_an_older_script_shares_them(nuke, tmp_path):
    """The menu swaps the objects' own option knobs (matte, temporal smoothing) with their clicks
    and export sends those that differ from the current object's; an object stored by a plugin
    that kept no options (the `objects` JSON without them) takes the current object's."""
    from hyperseg_nuke import callbacks, knobs, objects

    load_plugin(nuke)
    node = nuke.createNode("HyperSeg")
    nuke.inputs.extend(["actor", "prop"])
    callbacks.rename_object(node)
    nuke.artist_sets(node, "temporal_smoothing", True)
    callbacks.add_object(node)
    assert node["temporal_smoothing"].value() and node["matte"].value() == "soft"  # the current one's
    nuke.artist_sets(node, "matte", "binary")
    nuke.artist_sets(node, "object", "actor")
    assert node["matte"].value() == "soft"

    def request(own):
        return knobs.read_settings(node)._replace(**own).options()

    assert objects.export(node, lambda name: [], request) == (None, {
        "actor": {"clicks": []}, "prop": {"clicks": [], "options": {"matte": "binary"}}})
    older = json.loads(node["objects"].value())
    older["stored"] = {"prop": {}}  # as the plugin before per-object options stored it
    node["objects"].setValue(json.dumps(older))
    assert objects.export(node, lambda name: [], request)[1]["prop"] == {"clicks": []}
    nuke.artist_sets(node, "object", "prop")
    assert node["matte"].value() == "soft" and node["temporal_smoothing"].value()
