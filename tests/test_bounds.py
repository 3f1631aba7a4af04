"""Bounded input (issue 24, items 8, 9, 11, 12, 13, 17): numbers too long or too large, clicks keyed
off the frame, shots whose validation used to cost frames x clicks, the bridge's job memory,
SIGINT and bad YAML, against a real bridge on 127.0.0.1 (the session's `bridge` fixture) and the
real CLI. Every refusal is a 4xx in the bridge's error shape or exit 2 with one line naming the
field, never a 500 or a traceback.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from hyperseg_vfx.cli import main
from hyperseg_vfx.shot import load_shot

SIZE = (96, 64)


def shot_data(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


# -- item 9: a click keyed off the frame where it does not count ----------------------------------


def test_track_carries_a_click_whose_artist_key_lies_off_the_frame_where_it_does_not_count(
        tmp_path, make_shot, tiny_checkpoint):
    """A click counting on 1001 only, keyed inside on 1001 and off the frame (x = 500 on a 96 px
    plate) on 1003: valid for render, and tracking keeps the artist's keys as they are, carries
    the click elsewhere inside the frame, and writes a shot that renders."""
    path = make_shot(tmp_path / "sh", "1001-1005", SIZE)
    data = shot_data(path)
    data["clicks"].append({"label": "positive", "keys": {1001: [40.0, 30.0], 1003: [500.0, 30.0]},
                           "frames": "1001"})
    path.write_text(yaml.safe_dump(data))
    load_shot(path)  # valid for render: the click counts on 1001 only, where it is inside
    out = tmp_path / "sh" / "tracked.yaml"
    result = CliRunner().invoke(main, ["track", str(path), "--out", str(out), "--checkpoint", str(tiny_checkpoint),
                                       "--device", "cpu"])
    assert result.exit_code == 0, result.output
    click = load_shot(out).clicks[2]
    assert click.keys[1001] == (40.0, 30.0) and click.keys[1003] == (500.0, 30.0)  # the artist's, untouched
    assert sorted(click.keys) == [1001, 1002, 1003, 1004, 1005]
    assert 0 <= click.keys[1002][0] < SIZE[0] and 0 <= click.keys[1004][0] < SIZE[0]


# -- item 13: SIGINT ----------------------------------------------------------------------------


def test_sigint_during_track_exits_130_with_one_line_and_writes_nothing(tmp_path, make_shot, tiny_checkpoint):
    """`track` stopped by Ctrl-C exits 130 (as a shell reports SIGINT), not click's 1 "Aborted!"."""
    path = make_shot(tmp_path / "sh", "1001-1040", SIZE)
    out = tmp_path / "sh" / "tracked.yaml"
    command = [sys.executable, "-m", "hyperseg_vfx.cli", "track", str(path), "--out", str(out),
               "--checkpoint", str(tiny_checkpoint), "--device", "cpu"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in process.stderr:  # wait until it is tracking
        lines.append(line)
        if "tracked  (2/" in line:
            break
    process.send_signal(signal.SIGINT)
    rest, err = process.communicate(timeout=60)
    assert process.returncode == 130, "".join(lines) + err
    assert "Traceback" not in err and "Aborted" not in err, err
    assert [line for line in err.splitlines() if line.strip() and "tracked  (" not in line] == [
        "Interrupted (SIGINT)"], err
    assert not out.exists()
