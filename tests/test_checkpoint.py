"""Checkpoint files and the `checkpoint` / `bench` commands."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

from hyperseg_vfx.checkpoint import FORMAT_VERSION, CheckpointError, load_checkpoint, save_checkpoint
from hyperseg_vfx.cli import main
from hyperseg_vfx.clicks import Click
from hyperseg_vfx.modeling.backbone import WeightsNotFoundError
from hyperseg_vfx.modeling.refine import refine_candidates
from hyperseg_vfx.synthetic import synthetic_frame


def rewrite(source, target, change):
    payload = torch.load(source, weights_only=True)
    change(payload)
    torch.save(payload, target)
    return target


def test_round_trip_gives_identical_outputs(tiny_checkpoint, tmp_path):
    model, metadata = load_checkpoint(tiny_checkpoint)
    assert metadata["name"] == "tiny-test"
    copy = save_checkpoint(model, tmp_path / "copy.pt", metadata)
    again, _ = load_checkpoint(copy)
    plate = synthetic_frame(96, 64, seed=1)
    frame = torch.from_numpy(plate.rgb).permute(2, 0, 1).unsqueeze(0)
    with torch.inference_mode():
        torch.testing.assert_close(model(frame, frame, [Click(*plate.center, True)]),
                                   again(frame, frame, [Click(*plate.center, True)]), rtol=0, atol=0)
    for a, b in zip(model.tucker_factors, again.tucker_factors):
        assert torch.equal(a, b)


def test_tucker_factors_are_orthonormal(tiny_checkpoint):
    model, _ = load_checkpoint(tiny_checkpoint)
    for factor in model.tucker_factors:
        torch.testing.assert_close(factor.T @ factor, torch.eye(factor.shape[1]), atol=1e-4, rtol=0)


def test_missing_and_corrupt_files(tmp_path, tiny_checkpoint):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="garbage.pt: not a readable"):
        load_checkpoint(garbage)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(tiny_checkpoint.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="truncated.pt"):
        load_checkpoint(truncated)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(CheckpointError, match="not a hyperseg-vfx checkpoint"):
        load_checkpoint(other)


def test_newer_format_version_asks_for_an_upgrade(tiny_checkpoint, tmp_path):
    newer = rewrite(tiny_checkpoint, tmp_path / "newer.pt", lambda p: p.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(CheckpointError, match="newer hyperseg-vfx.*Upgrade"):
        load_checkpoint(newer)


def test_config_that_does_not_match_the_weights(tiny_checkpoint, tmp_path):
    def narrower(payload):
        payload["config"]["network"]["width"] = 64

    def other_ranks(payload):
        payload["config"]["tucker"]["ranks"] = [16, 64, 128, 256, 256]

    def bad_config(payload):
        payload["config"]["network"]["colour"] = "blue"

    with pytest.raises(CheckpointError, match="network weights do not match the config"):
        load_checkpoint(rewrite(tiny_checkpoint, tmp_path / "a.pt", narrower))
    with pytest.raises(CheckpointError, match=r"Tucker factor for conv1_2 has shape \(64, 32\)"):
        load_checkpoint(rewrite(tiny_checkpoint, tmp_path / "b.pt", other_ranks))
    with pytest.raises(CheckpointError, match="network.colour"):
        load_checkpoint(rewrite(tiny_checkpoint, tmp_path / "c.pt", bad_config))


def test_missing_imagenet_weights_say_what_to_run(tiny_checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv("HYPERSEG_VGG19_WEIGHTS", raising=False)
    imagenet = rewrite(tiny_checkpoint, tmp_path / "imagenet.pt", lambda p: p.update(backbone_weights="imagenet"))
    with pytest.raises(WeightsNotFoundError, match="hyperseg-vfx fetch-weights") as error:
        load_checkpoint(imagenet)
    assert "vgg19-dcbb9e9d.pth" in str(error.value) and "HYPERSEG_VGG19_WEIGHTS" in str(error.value)
    result = CliRunner().invoke(main, ["checkpoint", "info", str(imagenet)])
    assert result.exit_code == 0 and "weights imagenet" in result.output  # info needs no weights


def test_checkpoint_init_and_info_commands(tmp_path):
    out = tmp_path / "init.pt"
    runner = CliRunner()
    args = ["checkpoint", "init", str(out), "--seed", "3", "--backbone", "random:1", "--tucker-frames", "1"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    info = runner.invoke(main, ["checkpoint", "info", str(out), "--json"])
    data = json.loads(info.output)
    assert data["backbone_weights"] == "random:1" and data["tucker_ranks"] == [32, 64, 128, 256, 256]
    assert data["metadata"]["trained"] is False and data["network"]["parameters"] > 400_000
    text = runner.invoke(main, ["checkpoint", "info", str(out)]).output
    assert "untrained" in text and "D_phi = 736" in text
    before = out.read_bytes()
    refused = runner.invoke(main, args)
    assert refused.exit_code == 2 and "already exists" in refused.output and out.read_bytes() == before
    bad = runner.invoke(main, ["checkpoint", "info", str(tmp_path / "missing.pt")])
    assert bad.exit_code == 2 and "missing.pt: checkpoint file not found" in bad.output


def test_set_refine_copies_a_checkpoint_with_edge_refinement(tiny_checkpoint, tmp_path):
    runner = CliRunner()
    out = tmp_path / "refined.pt"
    args = ["checkpoint", "set-refine", str(tiny_checkpoint), str(out), "--radius", "8", "--eps", "0.002",
            "--reference-short-side", "144"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "refinement:      none" in runner.invoke(main, ["checkpoint", "info", str(tiny_checkpoint)]).output
    text = runner.invoke(main, ["checkpoint", "info", str(out)]).output
    assert "refinement:      guided filter, radius 8 px at short side 144, eps 0.002" in text
    original, metadata = load_checkpoint(tiny_checkpoint)
    refined, refined_metadata = load_checkpoint(out)
    assert refined_metadata == metadata
    for name, tensor in original.network.state_dict().items():
        assert torch.equal(tensor, refined.network.state_dict()[name])
    plate = synthetic_frame(96, 72, seed=2)
    frame = torch.from_numpy(plate.rgb).permute(2, 0, 1).unsqueeze(0)
    clicks = [Click(*plate.center, True)]
    with torch.inference_mode():
        plain, snapped = original(frame, frame, clicks), refined(frame, frame, clicks)
    expected = refine_candidates(plain, frame, refined.config.refine)
    torch.testing.assert_close(snapped, expected)
    assert not torch.equal(snapped, plain)
    before = out.read_bytes()
    refused = runner.invoke(main, args)
    assert refused.exit_code == 2 and "already exists" in refused.output and out.read_bytes() == before
    bad = runner.invoke(main, [*args[:3], str(tmp_path / "bad.pt"), "--radius", "-1"])
    assert bad.exit_code == 2 and "refine.radius" in bad.output and not (tmp_path / "bad.pt").exists()


def test_bench_json_has_the_documented_keys(tiny_checkpoint):
    result = CliRunner().invoke(main, ["bench", "--width", "100", "--height", "60", "--checkpoint", str(tiny_checkpoint), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])
    for key in ("width", "height", "device", "full_frame_s", "click_update_s", "full_frame_gflop", "click_update_gflop",
                "matmul_gflops", "full_frame_floor_ratio", "click_update_floor_ratio", "peak_rss_bytes"):
        assert key in data
    assert (data["width"], data["height"], data["device"]) == (100, 60, "cpu")
    assert data["full_frame_gflop"] > data["click_update_gflop"] > 0
    assert data["full_frame_floor_ratio"] == pytest.approx(
        data["full_frame_s"] / (data["full_frame_gflop"] / data["matmul_gflops"]))


def test_help_does_not_import_torch():
    code = ("import sys; from hyperseg_vfx.cli import main\n"
            "try: main(['--help'])\nexcept SystemExit: pass\n"
            "assert 'torch' not in sys.modules, 'torch was imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Usage: " in done.stdout


def test_info_summarises_a_training_state(tiny_checkpoint, tmp_path):
    state = {"step": 42, "optimizer": {"state": {0: {"exp_avg": torch.zeros(1000)}}, "param_groups": []}}
    resumable = rewrite(tiny_checkpoint, tmp_path / "last.pt", lambda p: p["metadata"].update(resume=state))
    text = CliRunner().invoke(main, ["checkpoint", "info", str(resumable)]).output
    assert "optimiser state for `train --resume` at step 42" in text and "exp_avg" not in text


def test_info_prints_the_training_history_as_readable_lines():
    """The bundled model was trained in six runs, each started from the one before: one line per
    stage, oldest first, and no Python dict printed anywhere."""
    from hyperseg_vfx.render import DEFAULT_CHECKPOINT

    text = CliRunner().invoke(main, ["checkpoint", "info", str(DEFAULT_CHECKPOINT)]).output
    assert "{" not in text and "}" not in text, text
    lines = text.splitlines()
    start = lines.index("training:        6 stages, oldest first")
    assert lines[start + 1].startswith("  stage 1:       steps 1400, batch_size 4")
    assert lines[start + 6].startswith("  stage 6:       from runs/demo_crossentropy/model.pt: steps 1200")


def test_requires_python_is_what_the_readme_says():
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    assert "Python 3.11" in readme
    with open(root / "pyproject.toml", "rb") as handle:
        assert tomllib.load(handle)["project"]["requires-python"] == ">=3.11"
