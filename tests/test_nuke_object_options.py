"""The HyperSeg node's option knobs for several objects (issue 27's node left-overs, issue 23's
edges): each object's own `matte` and `temporal_smoothing` (the knobs show the current object's,
kept with its clicks), `exclusive`, `output_per_object` and `edges`. What the node sends to a real
bridge (each POST body, and the shot file a body names, as it was when sent) and what the bridge
renders from it; and a node of one object with the new knobs at their defaults sends exactly what
it sent before them (tests/golden/nuke/one_object_requests.json, recorded from the node before
these knobs existed). Strict fake Nuke, real bridge, real EXRs."""

from __future__ import annotations

import json
import re
from pathlib import Path

from test_nuke_e2e import click_comp, finish

#: The new knobs at their defaults.
DEFAULTS = {"exclusive": False, "edges": "model", "output_per_object": ""}


def record_requests(monkeypatch) -> list:
    """Every POST the plugin's client sends: {"path", "body", "shot"} (shot: the shot file the
    body names, read when it was sent), passed on to the bridge unchanged."""
    from hyperseg_nuke.bridge_client import BridgeClient

    sent, send = [], BridgeClient._request

    def recording(self, method, path, body=None, timeout=None):
        if method == "POST":
            shot = body.get("shot_path") if body else None
            sent.append({"path": path, "body": body, "shot": json.loads(Path(shot).read_text()) if shot else None})
        return send(self, method, path, body, timeout)

    monkeypatch.setattr(BridgeClient, "_request", recording)
    return sent


def record_preview(monkeypatch) -> list:
    """The shot files Open preview writes, read when its contact sheet would be made (none is)."""
    from hyperseg_nuke import preview

    shots = []
    monkeypatch.setattr(preview, "write_contact_sheet", lambda shot, sheet: shots.append(
        json.loads(Path(shot).read_text())))
    monkeypatch.setattr(preview, "open_file", lambda path: None)
    return shots


def press_every_button(nuke, node, monkeypatch) -> None:
    """Segment frame, Segment range, Submit to farm (openjd), Open preview and Track clicks."""
    from hyperseg_nuke import callbacks, tracking

    monkeypatch.setenv("HYPERSEG_FARM", "openjd")
    nuke.frame(1003)
    for press in (callbacks.segment_frame, callbacks.segment_range, callbacks.submit_to_farm,
                  callbacks.open_preview, tracking.track_clicks):  # tracking last: no tracked keys sent
        finish(nuke, press(node))
        assert " failed" not in node["status"].value(), (press.__name__, node["status"].value())


def test_one_object_sends_what_it_sent_before_the_new_knobs(nuke, bridge, make_shot, monkeypatch, golden):
    folder = bridge.root / "options_one_object"
    _, node = click_comp(nuke, folder, make_shot)
    node["bridge_url"].setValue(bridge.url)
    for name, value in DEFAULTS.items():
        node[name].setValue(value)
    sent, previews = record_requests(monkeypatch), record_preview(monkeypatch)
    press_every_button(nuke, node, monkeypatch)

    text = json.dumps({"requests": sent, "preview": previews}, indent=1) + "\n"
    text = re.sub(r"_farm_\d{8}-\d{6}", "_farm_<TIME>", text)
    golden("nuke/one_object_requests.json", text, folder=folder, checkpoint=bridge.client.health()["checkpoint"])
