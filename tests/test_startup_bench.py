"""The start-up benchmark runs and reports every phase (numbers are reported, never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_startup_bench_reports_time_to_first_frame_and_its_phases(tmp_path, make_shot, tiny_checkpoint):
    shot = make_shot(tmp_path, frames="1001-1002", checkpoint=tiny_checkpoint)
    done = subprocess.run([sys.executable, "-m", "hyperseg_vfx.startup_bench", str(shot), "--frames", "1001-1002",
                           "--repeats", "1", "--json"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert 0 < result["render"]["first_frame_s"] < result["render"]["exit_s"]
    assert list(result["phases_s"]) == ["interpreter", "imports", "shot", "model_load", "device_setup",
                                        "first_frame", "second_frame"]
    assert all(v > 0 for v in result["phases_s"].values())
    assert set(result["commands_s"]) == {"--help", "render --help", "submit --dry-run"}
    assert (tmp_path / "mattes" / "demo_matte.1002.exr").is_file()  # the render really ran
