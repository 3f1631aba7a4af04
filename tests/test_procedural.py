"""The second clip generator (data/procedural.py): layout, determinism, same scene at every size,
exact mattes, and independence from `synth`."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

from hyperseg_vfx.cli import main
from hyperseg_vfx.data import open_dataset
from hyperseg_vfx.data.procedural import SHAPES, Scene, generate_procedural_clips, render_frame


def test_layout_and_determinism(tmp_path):
    folders = generate_procedural_clips(tmp_path / "a", 2, 2, 48, 32, seed=3)
    assert [f.name for f in folders] == ["proc3_000", "proc3_001"]
    samples = open_dataset(f"clips:{tmp_path / 'a'}")
    assert [(s.clip, s.frame) for s in samples] == [("proc3_000", 1001), ("proc3_000", 1002), ("proc3_001", 1001), ("proc3_001", 1002)]
    loaded = samples[1].load()
    assert loaded.rgb.shape == (32, 48, 3) and loaded.mask.any() and not loaded.mask.all()
    generate_procedural_clips(tmp_path / "b", 2, 2, 48, 32, seed=3)
    for name in ("proc3_001/rgb/proc3_001.1002.png", "proc3_001/alpha/proc3_001.1002.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    generate_procedural_clips(tmp_path / "c", 1, 1, 48, 32, seed=4)
    assert (tmp_path / "c/proc4_000/rgb/proc4_000.1001.png").read_bytes() != (tmp_path / "a/proc3_000/rgb/proc3_000.1001.png").read_bytes()


def test_one_seed_renders_the_same_scene_at_every_size():
    for index in range(4):
        scene = Scene.draw(np.random.Generator(np.random.PCG64([9, index, 17])))
        _, small = render_frame(scene, 96, 72, 1.0, np.random.default_rng(0))
        _, large = render_frame(scene, 384, 288, 1.0, np.random.default_rng(0))
        pooled = large.reshape(72, 4, 96, 4).mean(axis=(1, 3))  # area of each small pixel
        assert np.abs(pooled - small).mean() < 0.01, scene.shape
        assert abs(small.sum() * 16 - large.sum()) < 0.03 * large.sum()


def test_every_shape_family_appears_with_valid_plates_and_mattes():
    seen = set()
    for index in range(24):
        scene = Scene.draw(np.random.Generator(np.random.PCG64([11, index, 17])))
        seen.add(scene.shape)
        plate, matte = render_frame(scene, 64, 48, 0.0, np.random.default_rng(0))
        assert plate.dtype == matte.dtype == np.float32 and 0 <= plate.min() and plate.max() <= 1
        assert 0 <= matte.min() and matte.max() <= 1 and (matte > 0.5).sum() > 20
    assert seen == set(SHAPES)


def test_shares_no_code_with_synth():
    source = Path(__file__).parents[1] / "hyperseg_vfx" / "data" / "procedural.py"
    imported = {node.module for node in ast.walk(ast.parse(source.read_text())) if isinstance(node, ast.ImportFrom)}
    assert not any("synth" in (module or "") for module in imported), imported


def test_synth_command_with_the_procedural_generator(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["synth", str(tmp_path / "p"), "--generator", "procedural", "--clips", "1",
                                  "--frames", "1", "--size", "40x30", "--seed", "2"])
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "p/proc2_000/rgb/proc2_000.1001.png") as image:
        assert image.size == (40, 30) and image.mode == "RGB"
    refused = runner.invoke(main, ["synth", str(tmp_path / "q"), "--generator", "procedural", "--greenscreen"])
    assert refused.exit_code == 2 and "greenscreen" in refused.output
