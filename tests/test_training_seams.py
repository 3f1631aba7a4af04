"""Every shipped training config shows the network tile seams (issue 23).

A model that never saw a frame cut into several backbone tiles loses a third of its mIOU where a
plate is (a 16:9 plate at the bundled model's working short side of 144 is 256x144: two tiles).
These tests draw training items through the real configs and check the tile grid they get.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hyperseg_vfx.checkpoint import load_checkpoint, save_checkpoint
from hyperseg_vfx.data.synth import generate_clips
from hyperseg_vfx.modeling.tessellation import TileGrid
from hyperseg_vfx.render import DEFAULT_CHECKPOINT
from hyperseg_vfx.segmenter import Segmenter
from hyperseg_vfx.training.batches import training_size
from hyperseg_vfx.training.config import TrainConfig
from hyperseg_vfx.training.train import Trainer

CONFIGS = Path(__file__).resolve().parents[1] / "hyperseg_vfx" / "training" / "configs"


@pytest.fixture(scope="module")
def aspect_clips(tmp_path_factory):
    """One clip of two frames at each of 4:3, 16:9 and 2.39:1, smaller than training size."""
    root = tmp_path_factory.mktemp("aspects")
    for seed, (width, height) in enumerate([(96, 72), (128, 72), (172, 72)]):
        generate_clips(root, clips=1, frames=2, width=width, height=height, seed=700 + seed)
    return root


def test_demo_seams_config_trains_on_frames_cut_as_inference_cuts_plates(aspect_clips, tmp_path):
    config = TrainConfig.from_yaml(CONFIGS / "demo_seams.yaml")
    # the config's init is runs/demo_seams_init.pt, the bundled six-stage model's file before it was
    # given a tile extent and overlap (see its header): the same weights on the paper's grid
    init, metadata = load_checkpoint(DEFAULT_CHECKPOINT)
    init.config.backbone.tile_extent, init.config.backbone.tile_overlap = (0, 0), "none"
    save_checkpoint(init, tmp_path / "init.pt", metadata)
    config.init, config.out = str(tmp_path / "init.pt"), str(tmp_path / "run")
    config.data.train, config.data.cache = f"clips:{aspect_clips}", "memory"
    trainer = Trainer(config)
    bundled, _ = load_checkpoint(DEFAULT_CHECKPOINT)  # what the run is shipped as: its working size
    segmenter = Segmenter(bundled, device="cpu")
    tiles = {}
    for step in range(2):  # the run's own draws: sizes as data.{size,sizes,side} say, DOS clicks
        items = trainer._items(trainer.samples, np.random.default_rng(step), multi_scale=True)
        for sample, item in zip(trainer.samples, items):
            plate = sample.load().rgb.shape[:2]
            height, width = item.frame.shape[-2:]
            grid = trainer.model.tile_grid(height, width)
            tiles[round(plate[1] / plate[0], 2)] = grid.count
            # the frame trained on is the one the network runs at on a 2K (15x) plate of that aspect
            assert (height, width) == segmenter.working_size(15 * plate[0], 15 * plate[1])
            assert item.features[0].shape[0] == grid.count
    assert tiles == {1.33: 1, 1.78: 2, 2.39: 2}


@pytest.mark.parametrize("aspect", [4 / 3, 16 / 9, 1.85, 2.39])
def test_paper_config_trains_on_frames_of_several_tiles(aspect):
    config = TrainConfig.from_yaml(CONFIGS / "paper.yaml")
    b = config.model.backbone
    rng = np.random.default_rng(0)
    for _ in range(8):
        size = int(rng.choice(config.data.sizes)) if config.data.sizes else config.data.size
        height, width = training_size(1080, round(1080 * aspect), size, config.data.side)
        assert TileGrid(width, height, b.tile_size, b.tessellate, b.tile_extent).count >= 6
