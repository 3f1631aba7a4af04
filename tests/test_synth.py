"""The synthetic clip generator: layout, determinism, content, and the `synth` command."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner

from hyperseg_vfx.cli import main
from hyperseg_vfx.data import open_dataset
from hyperseg_vfx.data.synth import generate_clips
from hyperseg_vfx.io.images import read_header


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_layout_frames_and_formats(tmp_path):
    folders = generate_clips(tmp_path, clips=2, frames=3, width=48, height=32, seed=5)
    assert [f.name for f in folders] == ["synth5_000", "synth5_001"]
    assert _files(tmp_path)[:6] == [
        "synth5_000/alpha/synth5_000.1001.png", "synth5_000/alpha/synth5_000.1002.png",
        "synth5_000/alpha/synth5_000.1003.png", "synth5_000/rgb/synth5_000.1001.png",
        "synth5_000/rgb/synth5_000.1002.png", "synth5_000/rgb/synth5_000.1003.png",
    ]
    samples = open_dataset(f"clips:{tmp_path}")
    assert len(samples) == 6 and samples[1].prev_rgb_path == samples[0].rgb_path
    assert read_header(samples[0].rgb_path)[:2] == (48, 32)
    loaded = samples[1].load()
    assert loaded.rgb.shape == (32, 48, 3) and loaded.mask.shape == (32, 48)
    assert 0.02 < loaded.mask.mean() < 0.6  # a foreground object of sensible size


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate_clips(tmp_path / name, clips=1, frames=2, width=40, height=32, seed=seed)
    read = lambda name, seed: (tmp_path / name / f"synth{seed}_000/rgb/synth{seed}_000.1002.png").read_bytes()  # noqa: E731
    assert read("a", 3) == read("b", 3)
    assert read("a", 3) != read("c", 4)


def test_object_moves_and_has_soft_edges(tmp_path):
    generate_clips(tmp_path, clips=1, frames=3, width=96, height=72, seed=11)
    from hyperseg_vfx.io.images import read_matte

    mattes = [read_matte(p) for p in sorted((tmp_path / "synth11_000/alpha").iterdir())]
    assert not np.array_equal(mattes[0] > 0.5, mattes[2] > 0.5)
    soft = (mattes[1] > 0.02) & (mattes[1] < 0.98)
    assert soft.any()  # anti-aliased / motion-blurred edge pixels


def test_greenscreen_background_is_green(tmp_path):
    generate_clips(tmp_path, clips=1, frames=1, width=64, height=48, seed=2, greenscreen=True)
    loaded = open_dataset(f"clips:{tmp_path}")[0].load()
    background = loaded.rgb[~loaded.mask]
    red, green, blue = background.mean(axis=0)
    assert green > red + 0.2 and green > blue + 0.2


def test_synth_command_writes_clips(tmp_path):
    result = CliRunner().invoke(main, ["synth", str(tmp_path / "out"), "--clips", "1", "--frames", "2",
                                       "--size", "40x24", "--seed", "9"])
    assert result.exit_code == 0, result.output
    assert len(open_dataset(f"clips:{tmp_path / 'out'}")) == 2
    assert read_header(tmp_path / "out/synth9_000/rgb/synth9_000.1001.png")[:2] == (40, 24)
