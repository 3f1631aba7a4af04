"""Shared fixtures: small deterministic models built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperseg_vfx.checkpoint import save_checkpoint
from hyperseg_vfx.config import ModelConfig
from hyperseg_vfx.modeling.factory import build_untrained


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """An untrained checkpoint of the paper's architecture with a random:0 backbone (seed 0)."""
    config = ModelConfig()
    config.backbone.weights = "random:0"
    path = tmp_path_factory.mktemp("models") / "tiny.pt"
    save_checkpoint(build_untrained(config, seed=0, tucker_frames=1), path, {"name": "tiny-test"})
    return path
