"""`evaluate --protocol track` on real synthetic clips with the bundled model: the three rows and
their smoothed twins, their numbers recomputed from the per-frame values it reports, the tracked
shots it keeps, and the smoothed tracked row being what render writes for a smoothed shot."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from click.testing import CliRunner

from hyperseg_vfx.cli import main
from hyperseg_vfx.data.synth import generate_clips
from hyperseg_vfx.data.datasets import open_dataset
from hyperseg_vfx.evaluation.metrics import iou
from hyperseg_vfx.render import DEFAULT_CHECKPOINT, render_segmenter, segment_shot_frame
from hyperseg_vfx.shot import load_shot

pytestmark = pytest.mark.skipif(not DEFAULT_CHECKPOINT.is_file(), reason="no bundled model in this checkout")


def test_evaluate_track_reports_tracked_held_and_robot_rows(tmp_path):
    generate_clips(tmp_path / "clips", clips=2, frames=3, width=96, height=72, seed=991)
    report_dir = tmp_path / "report"
    result = CliRunner().invoke(main, ["evaluate", "--data", f"clips:{tmp_path / 'clips'}", "--protocol", "track",
                                       "--report", str(report_dir), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    report = json.loads((report_dir / "report.json").read_text())
    assert list(report["methods"]) == ["tracked", "held", "robot", "tracked_smoothed", "held_smoothed", "robot_smoothed"]
    assert "| tracked |" in result.output and "| robot |" in result.output
    clips = report["clips"]
    assert sorted(clips) == ["synth991_000", "synth991_001"]
    for row, summary in report["methods"].items():
        per_clip = [clips[c][row] for c in sorted(clips)]
        assert summary["frames"] == 6 and all(len(c["ious"]) == 3 for c in per_clip)
        assert summary["miou"] == pytest.approx(np.mean([v for c in per_clip for v in c["ious"]]))
        assert summary["j"] == pytest.approx(np.mean([np.mean(c["ious"]) for c in per_clip]))
        assert summary["f"] == pytest.approx(np.mean([np.mean(c["f"]) for c in per_clip]))
        assert summary["jf"] == pytest.approx((summary["j"] + summary["f"]) / 2)
        assert summary["flicker"] >= 0 and summary["dtssd"] >= 0
    # the first frame gets the same 10 clicks in every row, so the same matte
    for clip in clips.values():
        assert clip["tracked"]["ious"][0] == clip["held"]["ious"][0] == clip["robot"]["ious"][0]
        assert clip["tracked"]["clicks"] == clip["held"]["clicks"] <= 10 < clip["robot"]["clicks"] <= 30
    tracked = load_shot(report_dir / "shots" / "synth991_000.yaml")
    assert all(sorted(c.keys) == [1001, 1002, 1003] for c in tracked.clicks)
    # the smoothed tracked row scores what render writes for the tracked shot with temporal smoothing
    smoothed = dataclasses.replace(tracked, options=dataclasses.replace(tracked.options, temporal_smoothing=True))
    segmenter = render_segmenter(DEFAULT_CHECKPOINT, device="cpu")
    truths = {s.frame: s.load().mask for s in open_dataset(f"clips:{tmp_path / 'clips'}") if s.clip == "synth991_000"}
    rendered = [iou(segment_shot_frame(smoothed, segmenter, f).alpha > 0.5, truths[f]) for f in (1001, 1002, 1003)]
    assert rendered == pytest.approx(clips["synth991_000"]["tracked_smoothed"]["ious"], abs=1e-9)


def test_evaluate_track_takes_one_checkpoint(tmp_path):
    generate_clips(tmp_path / "clips", clips=1, frames=1, width=32, height=32, seed=991)
    result = CliRunner().invoke(main, ["evaluate", "--data", f"clips:{tmp_path / 'clips'}", "--protocol", "track",
                                       "--report", str(tmp_path / "r"), "--checkpoint", str(DEFAULT_CHECKPOINT),
                                       "--checkpoint", str(DEFAULT_CHECKPOINT)])
    assert result.exit_code == 2 and "one --checkpoint" in result.output


def test_plate_pattern_names_davis_and_clip_plates(tmp_path):
    from hyperseg_vfx.data.datasets import Sample
    from hyperseg_vfx.errors import HypersegError
    from hyperseg_vfx.evaluation.tracking_protocol import plate_pattern

    def sample(path: str, frame: int) -> Sample:
        return Sample("c", frame, path, None, 1, f"c/{frame}", "")

    davis = [sample(f"/d/JPEGImages/480p/bear/{f:05d}.jpg", f) for f in (0, 1, 2)]
    assert plate_pattern("bear", davis) == "/d/JPEGImages/480p/bear/#####.jpg"
    clips = [sample(f"/c/s902_000/rgb/s902_000.{f:04d}.png", f) for f in (1001, 1002)]
    assert plate_pattern("s902_000", clips) == "/c/s902_000/rgb/s902_000.####.png"
    with pytest.raises(HypersegError, match="not one numbered sequence"):
        plate_pattern("mixed", [sample("/x/a.0001.png", 1), sample("/x/b.0002.png", 2)])
