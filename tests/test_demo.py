"""The demo command end to end at a tiny size, and its output-folder rules."""

from __future__ import annotations

from click.testing import CliRunner

from hyperseg_vfx import demo, render
from hyperseg_vfx.cli import main
from hyperseg_vfx.io.images import read_frame, read_matte
from hyperseg_vfx.shot import load_shot


def test_demo_end_to_end_with_an_untrained_model(tmp_path, tiny_model, monkeypatch):
    monkeypatch.setattr(render, "DEFAULT_CHECKPOINT", tmp_path / "no-default.pt")
    monkeypatch.setattr(demo, "untrained_demo_model", lambda: tiny_model[0])  # built once per session
    out = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--out", str(out), "--size", "96x64", "--frames", "2", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert demo.UNTRAINED_WARNING in result.stdout and demo.UNTRAINED_WARNING in result.stderr
    shot = load_shot(out / "demo.yaml")
    for frame in (1001, 1002):
        assert read_matte(out / f"mattes/demo_matte.{frame}.exr").shape == (64, 96)
        assert read_frame(shot.input_path(frame)).rgb.shape == (64, 96, 3)
        clicks = shot.clicks_at(frame)
        truth = read_matte(shot.input_path(frame).replace("/rgb/", "/alpha/")) > 0.5
        assert any(c.positive for c in clicks)
        for c in clicks:  # the robot clicks inside the object (positive) or outside it (negative)
            assert truth[int(c.y), int(c.x)] == c.positive
    assert (out / "mattes/demo_preview.png").is_file()
    assert f"contact sheet: {out / 'mattes/demo_preview.png'}" in result.stdout


def test_demo_refuses_a_folder_that_is_not_its_own(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    result = CliRunner().invoke(main, ["demo", "--out", str(tmp_path), "--size", "32x32", "--frames", "1"])
    assert result.exit_code == 2 and "--force" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious.txt"]


def test_a_previous_demo_folder_is_cleared(tmp_path):
    folder = demo.prepare_demo_folder(tmp_path / "d")
    (folder / "plates").mkdir()
    (folder / "plates/old.1001.exr").write_bytes(b"")
    (folder / "notes.txt").write_text("mine")
    assert demo.prepare_demo_folder(folder) == folder
    assert sorted(p.name for p in folder.iterdir()) == [demo.DEMO_MARKER, "notes.txt"]
    (tmp_path / "other").mkdir()
    (tmp_path / "other/x").write_text("")
    demo.prepare_demo_folder(tmp_path / "other", force=True)
    assert (tmp_path / "other/x").exists()
