"""The Nuke plugin end to end: the fake Nuke, a real bridge (`hyperseg-vfx serve` in a
subprocess, the `bridge` fixture) and the tiny model. Segment frame writes the matte `render`
writes for the same clicks (origin flipped), the node's Read shows it; Segment range exports a
shot file that renders the same mattes, with progress and cancel; Submit to farm and Open
preview; errors (bridge down, refused paths, no farm) end in the status knob and a message."""

from __future__ import annotations

import dataclasses
import http.server
import json
import sys
import threading

import numpy as np
import OpenImageIO as oiio
from fake_nuke.comp import SIZE, make_comp, set_click

from hyperseg_vfx.render import render_shot
from hyperseg_vfx.shot import load_shot, shot_from_dict

HEIGHT = SIZE[1]
#: Clicks in shot-file pixels (top-left origin): positive keyed at 1001 and 1005, negative still.
POSITIVE = {1001: (40.25, 30.5), 1005: (48.75, 26.5)}
NEGATIVE = (6.5, 6.25)


def alpha(path) -> np.ndarray:
    inp = oiio.ImageInput.open(str(path))
    assert inp is not None, oiio.geterror()
    pixels = inp.read_image(0, 0, 0, 1, oiio.FLOAT)
    inp.close()
    return np.asarray(pixels)[..., 0]


def nuke_point(point):
    """A top-left point as Nuke holds it (origin bottom-left)."""
    return (point[0], HEIGHT - point[1])


def click_comp(nuke, folder, make_shot, frames="1001-1006", interpolation="linear", **kwargs):
    """make_comp with the POSITIVE and NEGATIVE clicks set in Nuke's coordinates."""
    read, node = make_comp(nuke, folder, make_shot, frames, **kwargs)
    set_click(node, "pos1", {f: nuke_point(p) for f, p in POSITIVE.items()}, interpolation)
    set_click(node, "neg1", {1001: nuke_point(NEGATIVE)})
    return read, node


def finish(nuke, thread) -> None:
    """Wait for a button's worker, then let the main thread take its result."""
    assert thread is not None, nuke.messages
    thread.join(120)
    assert not thread.is_alive()
    nuke.run_pending()


def matte_file(folder, frame: int):
    return folder / "mattes" / f"comp_HyperSeg1_matte.{frame}.exr"


def reference_alpha(folder, make_segmenter, frame: int) -> np.ndarray:
    """`render` of the plates with the clicks given in top-left pixels, at `frame`."""
    data = {"input": str(folder / "plates" / "plate.####.exr"), "frames": frame,
            "output": str(folder / "reference" / "ref.####.exr"),
            "clicks": [{"label": "positive", "keys": {f: list(p) for f, p in POSITIVE.items()}},
                       {"label": "negative", "keys": {1001: list(NEGATIVE)}}]}
    assert render_shot(shot_from_dict(data, folder), make_segmenter()).ok
    return alpha(folder / "reference" / f"ref.{frame}.exr")


def test_segment_frame_writes_the_rendered_matte(nuke, bridge, make_shot, make_segmenter):
    from hyperseg_nuke import callbacks

    folder = bridge.root / "nuke_frame"
    _, node = click_comp(nuke, folder, make_shot)
    node["bridge_url"].setValue(bridge.url)
    nuke.frame(1003)
    finish(nuke, callbacks.segment_frame(node))

    status = node["status"].value()
    assert status.startswith("frame 1003: ") and "cached" not in status, (status, nuke.messages)
    read = node.node("MatteRead")
    assert node["matte_file"].value() == str(folder / "mattes" / "comp_HyperSeg1_matte.####.exr")
    assert read["file"].evaluate_pattern() == node["matte_file"].value()
    assert (read["first"].value(), read["last"].value(), read.reloads) == (1001, 1006, 1)
    np.testing.assert_array_equal(alpha(matte_file(folder, 1003)), reference_alpha(folder, make_segmenter, 1003))
    # a plain EXR Read: the bridge read its own files, nothing was rendered
    assert nuke.executed == [] and node.node("SourceWrite")["disable"].value() is True
    assert nuke.progress_tasks[-1].closed and not nuke.messages

    # the button, as the artist presses it: same frame, same pixels -> the bridge's cached features
    node["segment_frame"].execute()
    nuke.pump(lambda: not node["status"].value().endswith("working..."))
    assert node["status"].value().startswith("frame 1003: ") and "(features cached)" in node["status"].value()
    assert read.reloads == 2


def test_segment_range_exports_a_shot_that_renders_like_segment_frame(nuke, bridge, make_shot, make_segmenter):
    from hyperseg_nuke import callbacks

    folder = bridge.root / "nuke_range"
    _, node = click_comp(nuke, folder, make_shot, interpolation="smooth")  # Nuke's default curve: baked
    node["bridge_url"].setValue(bridge.url)
    nuke.frame(1004)
    finish(nuke, callbacks.segment_frame(node))
    single = alpha(matte_file(folder, 1004))

    finish(nuke, callbacks.segment_range(node))
    assert node["status"].value() == "frames 1001-1006 done: 6 of 6 frames written", nuke.messages
    task = nuke.progress_tasks[-1]
    assert task.title == "HyperSeg: Segment range" and task.progress == 100 and task.closed
    np.testing.assert_array_equal(alpha(matte_file(folder, 1004)), single)

    shot = load_shot(folder / "comp_HyperSeg1.json")  # valid for hyperseg-vfx, files checked
    assert shot.input == str(folder / "plates" / "plate.####.exr")  # a plain EXR Read: its own files
    assert shot.frames == list(range(1001, 1007)) and shot.checkpoint == str(bridge.client.health()["checkpoint"])
    assert sorted(shot.clicks[0].keys) == list(range(1001, 1007))  # smooth curve: a key on every frame
    assert len(shot.clicks[1].keys) == 1
    # hyperseg-vfx render of the exported shot, elsewhere
    redo = dataclasses.replace(load_shot(folder / "comp_HyperSeg1.json", frames=1004),
                               output=str(folder / "again" / "m.####.exr"))
    assert render_shot(redo, make_segmenter()).ok
    np.testing.assert_array_equal(alpha(folder / "again" / "m.1004.exr"), single)


def test_segment_range_shows_progress_and_cancels(nuke, bridge, make_shot):
    from hyperseg_nuke import callbacks

    folder = bridge.root / "nuke_cancel"
    _, node = click_comp(nuke, folder, make_shot, "1001-1024", through_switch=True)
    node["bridge_url"].setValue(bridge.url)
    thread = callbacks.segment_range(node)
    # not a Read: the Source range renders in a background `nuke -x`, never in this session
    assert nuke.executed == []
    task = nuke.progress_tasks[-1]
    while "of 24 frames" not in task.message and thread.is_alive():
        thread.join(0.05)
    assert any(message.startswith("rendering the Source: frame 1024 (24 of 24)") for _, message in task.updates)
    task.cancel()
    finish(nuke, thread)

    status = node["status"].value()
    assert status.startswith("frames 1001-1024 cancelled: "), (status, nuke.messages)
    written = sorted((folder / "mattes").glob("comp_HyperSeg1_matte.*.exr"))
    assert 1 <= len(written) < 24 and f"{len(written)} of 24 frames written" in status
    assert any(message.startswith("cancelling after") for _, message in task.updates)
    assert not nuke.messages  # a cancel is not an error
    shot = json.loads((folder / "comp_HyperSeg1.json").read_text())
    assert shot["input"] == str(folder / "mattes" / ".hyperseg" / "HyperSeg1" / "source.####.exr")


def test_submit_to_farm(nuke, bridge, make_shot, monkeypatch):
    from hyperseg_nuke import callbacks

    folder = bridge.root / "nuke_farm"
    _, node = click_comp(nuke, folder, make_shot)
    node["bridge_url"].setValue(bridge.url)
    monkeypatch.delenv("HYPERSEG_FARM", raising=False)
    assert callbacks.submit_to_farm(node) is None  # farm "default" and no $HYPERSEG_FARM
    assert "No farm chosen" in node["status"].value() and "HYPERSEG_FARM" in nuke.messages[-1]
    assert nuke.executed == []  # refused before rendering anything

    monkeypatch.setenv("HYPERSEG_FARM", "openjd")
    finish(nuke, callbacks.submit_to_farm(node))
    status = node["status"].value()
    assert status.startswith("Submit to farm (openjd): Wrote the OpenJD job bundle"), (status, nuke.messages)
    (shot_file,) = folder.glob("comp_HyperSeg1_farm_*.json")  # its own file: later exports leave it alone
    assert load_shot(shot_file).checkpoint == bridge.client.health()["checkpoint"]
    assert f"Shot file: {shot_file}" in nuke.messages[-1]
    assert (folder / "farm" / f"{shot_file.stem}_openjd" / "template.yaml").is_file()
    # the node now shows the farm's output (frames read black until they are written: Reload matte)
    assert node["matte_file"].value() == load_shot(shot_file).output.replace("\\", "/")
    assert node["has_matte"].value() and (node["matte_first"].value(), node["matte_last"].value()) == (1001, 1006)
    assert "Reload matte" in status


class NotImplementedBridge(http.server.BaseHTTPRequestHandler):
    """A bridge without farm submitters: 501 for every request, as the real one answers submit."""

    def _refuse(self):
        body = json.dumps({"error": {"code": "not_implemented", "field": None,
                                     "message": "farm submission is not available in this bridge"}}).encode()
        self.send_response(501)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _refuse

    def log_message(self, *args):
        pass


def test_submit_to_a_bridge_without_farm_module(nuke, make_shot, tmp_path, tiny_checkpoint):
    from hyperseg_nuke import callbacks

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotImplementedBridge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _, node = click_comp(nuke, tmp_path, make_shot)
        node["bridge_url"].setValue(f"http://127.0.0.1:{server.server_address[1]}")
        node["farm"].setValue("opencue")
        finish(nuke, callbacks.submit_to_farm(node))
    finally:
        server.shutdown()
    assert node["status"].value() == "Submit to farm failed: farm submission is not available in this bridge"
    assert "not available" in nuke.messages[-1]


def test_open_preview(nuke, make_shot, monkeypatch, tmp_path):
    from hyperseg_nuke import callbacks, preview

    folder = tmp_path  # the contact sheet is made without the bridge
    _, node = click_comp(nuke, folder, make_shot, "1001-1003")
    monkeypatch.setenv("HYPERSEG_VFX_COMMAND", f"{sys.executable} -m hyperseg_vfx.cli")
    opened = []
    monkeypatch.setattr(preview.webbrowser, "open", opened.append)
    finish(nuke, callbacks.open_preview(node))
    sheet = folder / "mattes" / "comp_HyperSeg1_preview.png"
    assert node["status"].value() == f"preview: {sheet}", nuke.messages
    assert sheet.is_file() and opened == [sheet.as_uri()]


def test_bridge_down_is_a_clear_message(nuke, make_shot, tmp_path, monkeypatch):
    from bridge_server import free_port
    from hyperseg_nuke import callbacks

    _, node = click_comp(nuke, tmp_path, make_shot)
    node["bridge_url"].setValue(f"http://127.0.0.1:{free_port()}")
    node["autostart"].setValue(False)
    finish(nuke, callbacks.segment_frame(node))
    assert node["status"].value().startswith("Segment frame failed: POST http://127.0.0.1:")
    assert "the bridge is not reachable" in node["status"].value()
    assert "hyperseg-vfx serve" in nuke.messages[-1]

    # with autostart, a bridge command that cannot start: its exit status and log
    monkeypatch.setenv("HYPERSEG_BRIDGE_COMMAND", f"{sys.executable} -c 'raise SystemExit(3)'")
    node["autostart"].setValue(True)
    finish(nuke, callbacks.segment_frame(node))
    assert "the bridge exited with status 3 before answering" in node["status"].value()


def test_refused_path_is_a_clear_message(nuke, bridge, make_shot, tmp_path):
    from hyperseg_nuke import callbacks

    _, node = click_comp(nuke, tmp_path / "outside", make_shot)  # not in the bridge's allowed folders
    node["bridge_url"].setValue(bridge.url)
    finish(nuke, callbacks.segment_frame(node))
    assert "outside the bridge's allowed folders" in node["status"].value()
    assert "--allow-root" in nuke.messages[-1]
    assert node["matte_file"].value() == "" and not node["has_matte"].value()  # nothing to show
