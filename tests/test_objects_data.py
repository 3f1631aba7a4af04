"""Clips of two or three objects from both generators (`synth --objects`): per-object truth that
occludes, the clips: layout with a matte folder per object, and training samples whose other
objects are their negatives (DOS strategy 2)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from hyperseg_vfx.cli import main
from hyperseg_vfx.data.datasets import open_dataset
from hyperseg_vfx.data.procedural import generate_procedural_clips
from hyperseg_vfx.data.synth import generate_clips
from hyperseg_vfx.io.images import read_matte
from hyperseg_vfx.training.dos import DosConfig, sample_clicks

GENERATORS = {"photo": generate_clips, "procedural": generate_procedural_clips}


@pytest.mark.parametrize("generator", sorted(GENERATORS))
@pytest.mark.parametrize("objects", [2, 3])
def test_objects_occlude_each_other_with_their_own_truth(tmp_path, generator, objects):
    make = GENERATORS[generator]
    one = make(tmp_path / "one", 2, 2, 96, 64, 3)
    several = make(tmp_path / "several", 2, 2, 96, 64, 3, objects=objects)
    for alone, clip in zip(one, several):
        assert sorted(p.name for p in (clip / "alpha").iterdir()) == [f"object{k}" for k in range(1, objects + 1)]
        occluded = False
        for frame in (1001, 1002):
            name = f"{clip.name}.{frame}.png"
            mattes = np.stack([read_matte(clip / "alpha" / f"object{k}" / name) for k in range(1, objects + 1)])
            assert mattes.sum(axis=0).max() <= 1 + 1.5 / 255  # visible mattes share each pixel
            assert all((m > 0.5).any() for m in mattes)
            subject = read_matte(alone / "alpha" / name)  # object 1 is the one-object clip's subject ...
            assert (mattes[0] <= subject + 1.5 / 255).all()
            occluded |= bool((mattes[0] < subject - 0.5).any())  # ... less what the others cover
        assert occluded, f"{clip.name}: no object passes in front of object 1"


def test_clips_of_several_objects_give_a_sample_per_object_whose_others_are_negatives(tmp_path):
    generate_clips(tmp_path, 1, 2, 96, 64, 4, objects=2)
    samples = open_dataset(f"clips:{tmp_path}")
    assert [(s.frame, s.object_id) for s in samples] == [(1001, "object1"), (1001, "object2"),
                                                        (1002, "object1"), (1002, "object2")]
    assert samples[1].key == "synth4_000/1001/object2" and samples[2].prev_rgb_path is not None
    first, second = samples[0].load(), samples[1].load()
    assert np.array_equal(first.others, second.mask) and np.array_equal(second.others, first.mask)
    config = DosConfig(strategies=(2,), margin=1.0, step=3.0)
    clicks = sample_clicks(first.mask, np.random.default_rng(0), config, first.others)
    negatives = [c for c in clicks if not c.positive]
    assert negatives and all(second.mask[int(c.y), int(c.x)] for c in negatives)


def test_synth_command_writes_objects(tmp_path):
    for generator in ("photo", "procedural"):
        result = CliRunner().invoke(main, ["synth", str(tmp_path / generator), "--clips", "1", "--frames", "1",
                                           "--size", "48x32", "--objects", "3", "--generator", generator])
        assert result.exit_code == 0, result.output
        assert len(list((tmp_path / generator).rglob("alpha/object3/*.png"))) == 1
    result = CliRunner().invoke(main, ["synth", str(tmp_path / "x"), "--objects", "4"])
    assert result.exit_code == 2 and "--objects" in result.output
