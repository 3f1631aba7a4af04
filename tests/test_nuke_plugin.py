"""The Nuke plugin's parts, without a bridge: click conversion and export, the shot file, paths
and settings, the node's knobs and inner nodes in the fake Nuke, job following, error messages,
init.py / menu.py, and the rule that everything under nuke_plugin/ is standard-library Python 3.7."""

from __future__ import annotations

import ast
import io
import random
import runpy
import sys
import threading
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from fake_nuke import PLUGIN_DIR
from fake_nuke.comp import SIZE, load_plugin, make_comp, set_click

from hyperseg_vfx.shot import ClickTrack, load_shot


@pytest.fixture
def plugin(nuke):
    """The plugin package, importable with the fake Nuke installed."""
    import hyperseg_nuke

    return hyperseg_nuke


def still(x: float, y: float):
    return lambda frame: (x, y)


# -- standard library, Python 3.9 -----------------------------------------------------------------


def test_plugin_is_standard_library_python_37():
    allowed = set(sys.stdlib_module_names) | {"nuke", "nukescripts", "hyperseg_nuke"}
    files = sorted(PLUGIN_DIR.rglob("*.py"))
    assert {f.name for f in files} >= {"init.py", "menu.py", "callbacks.py", "bridge_client.py"}
    for path in files:
        tree = ast.parse(path.read_text(), str(path), feature_version=(3, 7))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module]
            else:
                continue
            for module in modules:
                assert module.split(".")[0] in allowed, f"{path}: imports {module}"


# -- init.py and menu.py --------------------------------------------------------------------------


def test_init_and_menu_install_the_node(nuke, plugin):
    load_plugin(nuke)
    assert nuke.pluginPath() == [str(Path(PLUGIN_DIR).parent / "gizmos")]
    runpy.run_path(str(PLUGIN_DIR / "menu.py"), run_name="__main__")
    command = nuke.menu("Nodes").findItem("HyperSeg").findItem("HyperSeg")
    assert command == "nuke.createNode('HyperSeg')"
    exec(command, {"nuke": nuke})
    assert nuke.allNodes("HyperSeg")[0].name() == "HyperSeg1"


@pytest.mark.parametrize("script", ["init.py", "menu.py"])
def test_a_broken_install_never_stops_nuke(nuke, plugin, monkeypatch, script):
    def broken(*args, **kwargs):
        raise RuntimeError("no such menu")

    for name in ("pluginAddPath", "menu"):  # Nuke itself refusing
        monkeypatch.setattr(nuke, name, broken)
    out = io.StringIO()
    with redirect_stdout(out):
        runpy.run_path(str(PLUGIN_DIR / script), run_name="__main__")
        monkeypatch.setitem(sys.modules, "hyperseg_nuke.install", None)  # the package failing to import
        runpy.run_path(str(PLUGIN_DIR / script), run_name="__main__")
    first, second = out.getvalue().splitlines()
    assert first.startswith("HyperSeg: ") and first.endswith("(RuntimeError: no such menu)")
    assert second.startswith("HyperSeg: ") and "ModuleNotFoundError: import of hyperseg_nuke.install halted" in second


# -- clicks ---------------------------------------------------------------------------------------


def test_clicks_at_a_frame_flip_the_origin(plugin):
    from hyperseg_nuke.clicks import ClickKnob, clicks_at

    knobs = [ClickKnob("pos1", "positive", True, (), still(10.0, 60.0)),
             ClickKnob("pos2", "positive", False, (), still(-5.0, 0.0)),  # disabled: never looked at
             ClickKnob("neg1", "negative", True, (1001.0,), still(95.5, 0.25))]
    assert clicks_at(knobs, 1003, 96, 64) == [{"label": "positive", "keys": {1003: [10.0, 4.0]}},
                                              {"label": "negative", "keys": {1003: [95.5, 63.75]}}]


@pytest.mark.parametrize("point", [(96.0, 10.0), (-0.5, 10.0), (10.0, 0.0), (10.0, 64.5)])
def test_a_click_outside_the_source_names_its_knob(plugin, point):
    from hyperseg_nuke.clicks import ClickKnob, clicks_at, export_tracks
    from hyperseg_nuke.errors import PluginError

    knobs = [ClickKnob("pos1", "positive", True, (), still(10.0, 10.0)),
             ClickKnob("neg3", "negative", True, (), still(*point))]
    with pytest.raises(PluginError, match=r"negative 3 \(neg3\) is outside the 96x64 Source at frame 1001"):
        clicks_at(knobs, 1001, 96, 64)
    with pytest.raises(PluginError, match="neg3"):
        export_tracks(knobs, range(1001, 1004), 96, 64)


def test_a_positive_click_is_required(plugin):
    from hyperseg_nuke.clicks import ClickKnob, clicks_at, export_tracks
    from hyperseg_nuke.errors import PluginError

    knobs = [ClickKnob("pos1", "positive", False, (), still(10.0, 10.0)),
             ClickKnob("neg1", "negative", True, (), still(10.0, 10.0))]
    for call in (lambda: clicks_at(knobs, 1, 96, 64), lambda: export_tracks(knobs, range(1, 3), 96, 64)):
        with pytest.raises(PluginError, match="No positive click"):
            call()


def test_export_keeps_keyframes_and_bakes_curves_it_cannot_follow(plugin):
    from hyperseg_nuke.clicks import ClickKnob, export_tracks

    def linear(frame):  # keys at 10 and 20, linear between, held outside (as a shot track)
        t = min(max((frame - 10) / 10, 0.0), 1.0)
        return (10.0 + 20.0 * t, 50.0 - 10.0 * t)

    def smooth(frame):
        t = min(max((frame - 10) / 10, 0.0), 1.0)
        return (10.0 + 20.0 * t * t * (3 - 2 * t), 50.0)

    frames = range(5, 26)
    kept, baked, half, static = export_tracks([
        ClickKnob("pos1", "positive", True, (10.0, 20.0), linear),
        ClickKnob("pos2", "positive", True, (10.0, 20.0), smooth),
        ClickKnob("pos3", "positive", True, (10.0, 12.5), linear),  # a key between frames
        ClickKnob("neg1", "negative", True, (), still(3.0, 60.0))], frames, 96, 64)
    assert kept == {"label": "positive", "keys": {10: [10.0, 14.0], 20: [30.0, 24.0]}, "interpolation": "linear"}
    assert sorted(baked["keys"]) == list(frames) and baked["keys"][13] == [smooth(13)[0], 14.0]
    assert sorted(half["keys"]) == list(frames)
    assert static["keys"] == {5: [3.0, 4.0]}
    # every frame gets the click Nuke shows, as the shot file's interpolation reads the keys
    for track, function in ((kept, linear), (baked, smooth)):
        shot_track = ClickTrack(True, {f: tuple(p) for f, p in track["keys"].items()})
        for frame in frames:
            x, y = function(frame)
            assert shot_track.position_at(frame) == pytest.approx((x, 64 - y), abs=1e-9)


def test_interpolation_is_the_shot_files(plugin):
    from hyperseg_nuke.clicks import interpolate

    rng = random.Random(0)
    for _ in range(20):
        keys = {f: (rng.uniform(0, 96), rng.uniform(0, 64)) for f in rng.sample(range(1000, 1030), 4)}
        track = ClickTrack(True, keys)
        for frame in range(995, 1035):
            assert interpolate(keys, frame) == track.position_at(frame)


# -- shot file, paths, settings -------------------------------------------------------------------


def test_shot_file_is_a_valid_shot(plugin, tmp_path, make_shot):
    from hyperseg_nuke.shotfile import shot_data, write_shot

    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"")  # load_shot checks that it exists
    make_shot(tmp_path, "1001-1003", SIZE, name="plate")
    tracks = [{"label": "positive", "keys": {1001: [40.0, 30.0], 1003: [44.0, 31.0]}, "interpolation": "linear"}]
    data = shot_data(str(tmp_path / "plates" / "plate.####.exr"), 1001, 1003, str(tmp_path / "m.####.exr"), tracks,
                     {"scale": 0.5, "matte": "binary", "candidates": True}, checkpoint=str(checkpoint))
    write_shot(str(tmp_path / "sh.json"), data)
    shot = load_shot(tmp_path / "sh.json")
    assert shot.frames == [1001, 1002, 1003] and shot.checkpoint == str(checkpoint)
    assert shot.clicks_at(1002)[0].x == 42.0 and shot.options.scale == 0.5 and shot.options.matte == "binary"
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []
    assert shot_data("/p.####.exr", 7, 7, "/m.####.exr", tracks, {})["frames"] == "7"


def test_paths(plugin):
    from hyperseg_nuke import paths
    from hyperseg_nuke.errors import PluginError

    assert paths.shot_file("/show/sh010/comp_v3.nk", "HyperSeg1") == "/show/sh010/comp_v3_HyperSeg1.json"
    matte = paths.matte_pattern("", "/show/sh010/comp_v3.nk", "HyperSeg1")
    assert matte == "/show/sh010/mattes/comp_v3_HyperSeg1_matte.####.exr"
    assert paths.matte_pattern(" /out/m.%04d.exr ", "", "N") == "/out/m.%04d.exr"
    assert paths.source_pattern(matte, "HyperSeg1") == "/show/sh010/mattes/.hyperseg/HyperSeg1/source.####.exr"
    assert paths.preview_files(matte, "/show/sh010/comp_v3.nk", "HyperSeg1") == (
        "/show/sh010/mattes/.hyperseg/HyperSeg1/preview.json", "/show/sh010/mattes/comp_v3_HyperSeg1_preview.png")
    farm = paths.farm_shot_file("/show/sh010/comp_v3.nk", "HyperSeg1", now=0)
    assert farm.startswith("/show/sh010/comp_v3_HyperSeg1_farm_19") and farm.endswith(".json")
    assert paths.frame_file("/a/source.####.exr", 7) == "/a/source.0007.exr"
    for value, script, message in (("", "", "Save the Nuke script"), ("m.####.exr", "/s.nk", "absolute"),
                                   ("/m.exr", "/s.nk", "frame number"), ("/m.##.#.exr", "/s.nk", "frame number")):
        with pytest.raises(PluginError, match=message):
            paths.matte_pattern(value, script, "N")


def test_windows_drive_and_unc_paths_keep_forward_slashes(nuke, plugin):
    from hyperseg_nuke import knobs, paths

    drive = paths.matte_pattern("", "C:\\shots\\sh010\\comp_v3.nk", "HyperSeg1")
    assert drive == "C:/shots/sh010/mattes/comp_v3_HyperSeg1_matte.####.exr"
    unc = paths.matte_pattern("", "\\\\server\\share\\sh010\\comp.nk", "HyperSeg1")
    assert unc == "//server/share/sh010/mattes/comp_HyperSeg1_matte.####.exr"
    assert paths.matte_pattern("Q:\\Project\\m.####.exr", "", "N") == "Q:/Project/m.####.exr"
    assert paths.source_pattern(unc, "HyperSeg1") == "//server/share/sh010/mattes/.hyperseg/HyperSeg1/source.####.exr"
    assert paths.shot_file("C:/shots/comp.nk", "N") == "C:/shots/comp_N.json"
    # what Nuke makes of them: the evaluated knob is the path itself (a backslash would vanish)
    read = nuke.nodes.Read()
    for path in (drive, unc):
        read["file"].setValue(path)
        assert read["file"].evaluate_pattern() == path
    read["file"].setValue("Q:\\Project\\m.####.exr")
    assert read["file"].evaluate_pattern() == "Q:Projectm.####.exr"  # why forward slashes matter
    # a File knob with studio TCL is expanded before use
    load_plugin(nuke)
    node = nuke.createNode("HyperSeg")
    nuke.root()["name"].setValue("C:/shots/sh010/comp.nk")
    node["matte_output"].setValue("[python nuke.script_directory()]/out/m.####.exr")
    assert knobs.read_settings(node).matte_output == "C:/shots/sh010/out/m.####.exr"


def test_settings_come_from_knobs_then_the_environment(plugin, monkeypatch, tmp_path):
    from hyperseg_nuke import settings
    from hyperseg_nuke.errors import PluginError

    for name in ("HYPERSEG_BRIDGE_URL", "HYPERSEG_BRIDGE_TOKEN", "HYPERSEG_BRIDGE_TOKEN_FILE", "HYPERSEG_FARM",
                 "HYPERSEG_VFX_COMMAND"):
        monkeypatch.delenv(name, raising=False)
    assert settings.bridge_url("") == "http://127.0.0.1:8765" and settings.bridge_token() is None
    monkeypatch.setenv("HYPERSEG_BRIDGE_URL", "http://gpu7:9000")
    assert settings.bridge_url(" ") == "http://gpu7:9000" and settings.bridge_url("http://h:1") == "http://h:1"
    (tmp_path / "token").write_text("s3cret-token-of-16+\n")
    monkeypatch.setenv("HYPERSEG_BRIDGE_TOKEN_FILE", str(tmp_path / "token"))
    with pytest.raises(PluginError, match="read by other users"):  # serve's rules: 0600
        settings.bridge_token()
    (tmp_path / "token").chmod(0o600)
    assert settings.bridge_token() == "s3cret-token-of-16+"
    monkeypatch.setenv("HYPERSEG_BRIDGE_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(PluginError, match="HYPERSEG_BRIDGE_TOKEN_FILE"):
        settings.bridge_token()
    monkeypatch.setenv("HYPERSEG_BRIDGE_TOKEN", "direct")
    assert settings.bridge_token() == "direct"
    with pytest.raises(PluginError, match="No farm chosen"):
        settings.farm_name("default")
    monkeypatch.setenv("HYPERSEG_FARM", "opencue")
    assert settings.farm_name("default") == "opencue" and settings.farm_name("deadline10") == "deadline10"
    monkeypatch.setenv("HYPERSEG_VFX_COMMAND", "/opt/hs/bin/python -m hyperseg_vfx.cli")
    assert settings.hyperseg_command() == ["/opt/hs/bin/python", "-m", "hyperseg_vfx.cli"]


# -- the node in the fake Nuke --------------------------------------------------------------------


def test_knobs_read_animated_clicks_at_any_frame(nuke, plugin, make_shot, tmp_path):
    from hyperseg_nuke import knobs

    _, node = make_comp(nuke, tmp_path, make_shot)
    set_click(node, "pos2", {1001: (10.0, 20.0), 1005: (30.0, 40.0)}, "linear")
    set_click(node, "neg4", {1001: (5.0, 6.0)})
    by_name = {k.name: k for k in knobs.click_knobs(node)}
    assert len(by_name) == 16 and [k.name for k in by_name.values() if k.enabled] == ["pos2", "neg4"]
    assert by_name["pos2"].keyframes == (1001.0, 1005.0) and by_name["pos2"].position(1003) == (20.0, 30.0)
    assert by_name["neg4"].keyframes == () and by_name["neg4"].position(1003) == (5.0, 6.0)
    values = knobs.read_settings(node)
    assert (values.matte, values.candidate, values.scale, values.autostart) == ("soft", 1, 1.0, True)
    node["candidate"].setValue("third")
    assert knobs.read_settings(node).candidate == 3
    assert knobs.read_settings(node).options() == {"scale": 1.0, "matte": "soft", "candidates": True,
                                                   "temporal_smoothing": False}
    node["temporal_smoothing"].setValue(True)  # ranges are smoothed; one frame is the frame's own matte
    assert knobs.read_settings(node).options()["temporal_smoothing"] is True
    assert knobs.read_settings(node).frame_options()["temporal_smoothing"] is False


def test_click_helpers_add_and_key_clicks(nuke, plugin, make_shot, tmp_path):
    from hyperseg_nuke import callbacks

    _, node = make_comp(nuke, tmp_path, make_shot)
    nuke.frame(1002)
    callbacks.add_positive(node)
    assert node["pos1_on"].value() and node["pos1"].getKeyList() == [1002.0]
    assert node["pos1"].getValueAt(1002) == [48.0, 32.0]  # the middle of the 96x64 Source
    assert node["status"].value().startswith("positive 1 added at frame 1002")
    for _ in range(9):
        callbacks.add_negative(node)
    assert "All 8 negative clicks are in use" in nuke.messages[-1]
    added = [tuple(node[name].getValueAt(1002)) for name in ["pos1"] + ["neg{}".format(i) for i in range(1, 9)]]
    spacing = 64 / 20.0  # every added click has a handle of its own, inside the Source
    assert all(((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5 >= spacing - 1e-9
               for i, a in enumerate(added) for b in added[i + 1:])
    assert all(0 <= x <= 96 and 0 <= y <= 64 for x, y in added)
    nuke.frame(1005)
    node["pos1"].setValue([60.0, 20.0])  # the artist drags it: Nuke keys the animated knob
    nuke.frame(1004)
    callbacks.key_clicks(node)
    assert node["pos1"].getKeyList() == [1002.0, 1004.0, 1005.0]
    assert node["status"].value().startswith("keyed pos1, neg1, ")


def test_source_plates_are_used_only_when_the_read_is_plain(nuke, plugin, make_shot, tmp_path):
    from hyperseg_nuke import source
    from hyperseg_nuke.errors import PluginError

    read, node = make_comp(nuke, tmp_path, make_shot)
    info = source.source_info(node)
    assert info == (96, 64, 1001, 1006, str(tmp_path / "plates" / "plate.####.exr"), "linear", None)
    read["colorspace"].setValue("ACES - ACEScg")  # the bridge converts from the Read's colour space
    assert source.source_info(node)[4:6] == (info.plates, "ACES - ACEScg")
    assert source.source_info(node, "sRGB").colorspace == "sRGB"  # the node's knob wins
    nuke.root()["workingSpaceLUT"].setValue("ACEScg")
    read["raw"].setValue(True)  # raw: the file's values are taken as the working space
    assert source.source_info(node)[4:6] == (info.plates, "ACEScg")
    read["frame"].setValue("frame+10")
    assert source.source_info(node).plates is None
    node.setInput(0, None)
    with pytest.raises(PluginError, match="Connect"):
        source.source_info(node)


def test_render_frame_keeps_an_unchanged_file(nuke, plugin, make_shot, tmp_path):
    import os

    from hyperseg_nuke import source
    from hyperseg_nuke.errors import PluginError

    read, node = make_comp(nuke, tmp_path, make_shot)
    pattern = str(tmp_path / "work" / "source.####.exr")
    first = source.render_frame(node, pattern, 1002)
    stamp = os.stat(first).st_mtime_ns
    os.utime(first, ns=(stamp - 10**9, stamp - 10**9))
    assert source.render_frame(node, pattern, 1002) == first
    assert os.stat(first).st_mtime_ns == stamp - 10**9  # same pixels: the file (and its date) kept
    read["file"].setValue(str(tmp_path / "plates" / "plate.####.exr").replace("plate.", "missing."))
    with pytest.raises(PluginError, match="Rendering the Source"):
        source.render_frame(node, pattern, 1002)
    assert node.node("SourceWrite")["disable"].value() is True and nuke.thisGroup() == nuke.root()


def test_show_matte_keeps_the_state_in_top_level_knobs(nuke, plugin):
    from hyperseg_nuke import matte

    load_plugin(nuke)
    node = nuke.createNode("HyperSeg")
    matte.show_matte(node, "C:\\shots\\m\\x.####.exr", 1001, 1010)
    read = node.node("MatteRead")
    assert (node["matte_file"].value(), node["matte_first"].value(), node["matte_last"].value()) == \
        ("C:/shots/m/x.####.exr", 1001, 1010)
    assert (read["file"].evaluate_pattern(), read["first"].value(), read["last"].value(), read.reloads) == \
        ("C:/shots/m/x.####.exr", 1001, 1010, 1)
    node["candidate"].setValue("third")
    assert node.node("CandidateSwitch")["which"].value() == 2.0
    assert [matte.candidate_channel(m) for m in range(1, 7)] == [
        "rgba.alpha", "hyperseg.c2", "hyperseg.c3", "hyperseg.c4", "hyperseg2.c5", "hyperseg2.c6"]


def test_errors_in_the_main_thread_reach_the_status_and_a_message(nuke, plugin, make_shot, tmp_path):
    from hyperseg_nuke import callbacks

    _, node = make_comp(nuke, tmp_path, make_shot)
    assert callbacks.segment_frame(node) is None  # no click enabled
    assert node["status"].value().startswith("Segment frame failed: No positive click")
    assert nuke.messages[-1].startswith("HyperSeg: Segment frame failed.")
    nuke.root()["proxy"].setValue(True)
    assert callbacks.segment_range(node) is None
    assert "proxy mode" in node["status"].value()
    assert nuke.executed == []


# -- threads, jobs, messages ----------------------------------------------------------------------


def test_background_work_leaves_nuke_to_the_main_thread(nuke, plugin):
    from hyperseg_nuke import tasks

    results, errors = [], []

    def work(task):
        task.setProgress(50)
        with pytest.raises(RuntimeError, match="main thread only"):
            nuke.root()["name"].value()
        return "done"

    thread = tasks.in_background("T", work, results.append, errors.append)
    thread.join(10)
    assert results == [] and nuke.run_pending() == 1 and results == ["done"]
    assert nuke.progress_tasks[-1].updates == [(50, "")] and nuke.progress_tasks[-1].closed
    tasks.in_background("T", lambda task: 1 / 0, results.append, errors.append).join(10)
    assert nuke.progress_tasks[-1].closed  # the bar closed with the error, before it is reported
    nuke.run_pending()
    assert isinstance(errors[0], ZeroDivisionError) and "1 / 0" in errors[0].details

    # nuke -t / -x: no event loop, so everything runs at once, in this thread
    nuke.GUI = False
    assert tasks.in_background("T", lambda task: threading.current_thread().name, results.append,
                               errors.append) is None
    assert results[-1] == threading.main_thread().name and nuke.progress_tasks[-1].closed


class ScriptedBridge:
    """A bridge client stand-in whose job advances one frame per look."""

    def __init__(self, frames: int):
        self.frames, self.done, self.cancelled = frames, 0, False

    def _job(self, state: str) -> dict:
        return {"id": "j1", "state": state, "frames": self.frames, "done": self.done, "eta_s": 1.0}

    def job(self, job_id: str) -> dict:
        self.done += 1
        if self.cancelled:
            return self._job("cancelled")
        return self._job("done" if self.done == self.frames else "running")

    def cancel_job(self, job_id: str) -> dict:
        self.cancelled = True
        return self._job("cancelling")


def test_follow_job_shows_progress_and_cancels_once(nuke, plugin):
    from hyperseg_nuke.jobs import follow_job

    client, task = ScriptedBridge(4), nuke.ProgressTask("job")
    final = follow_job(client, {"id": "j1", "state": "queued"}, task, interval=0)
    record = nuke.progress_tasks[-1]
    assert final["state"] == "done" and [p for p, _ in record.updates[::2]] == [25, 50, 75, 100]
    assert record.message == "4 of 4 frames, about 1 s left"

    client, task = ScriptedBridge(10), nuke.ProgressTask("job")
    nuke.progress_tasks[-1].cancel()
    final = follow_job(client, {"id": "j1", "state": "running"}, task, interval=0)
    assert final["state"] == "cancelled" and client.cancelled
    assert nuke.progress_tasks[-1].updates[1] == (0, "cancelling after 0 of 10 frames")


def test_error_descriptions_say_what_to_do(plugin):
    from hyperseg_nuke.bridge_client import BridgeError
    from hyperseg_nuke.errors import PluginError
    from hyperseg_nuke.feedback import describe

    assert describe(PluginError("Save the script")) == "Save the script"
    assert describe(BridgeError("GET x: not reachable", code="unreachable")).endswith(
        "or check the bridge address on the HyperSeg tab.")
    assert "--allow-root" in describe(BridgeError("/x outside", 403, "forbidden_path", "output"))
    assert describe(BridgeError("clicks[0]: bad", 422, "invalid_shot")) == "clicks[0]: bad"
    assert describe(FileNotFoundError(2, "No such file or directory", "/a")) == "/a: No such file or directory"
    assert describe(KeyError("x")).startswith("internal error (KeyError")
