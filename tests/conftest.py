"""Shared fixtures: a small untrained model (built once per session) and synthetic shots on disk."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    """Training sets torch's thread count for its process (`threads:` in the config); restore it,
    so a later test's in-process render sums in the same order as a bridge subprocess does."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _own_config_folder(tmp_path_factory, monkeypatch):
    """A config folder of the test's own: the per-user bridge token that the Nuke plugin creates
    (hyperseg_nuke.bridge_client.user_token) never lands in the real home folder."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    monkeypatch.delenv("HYPERSEG_BRIDGE_TOKEN_FILE", raising=False)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """An untrained checkpoint of the paper's architecture with a random:0 backbone (Tucker
    factors fitted on one generated plate). Built once per test session."""
    from hyperseg_vfx.checkpoint import save_checkpoint
    from hyperseg_vfx.config import ModelConfig
    from hyperseg_vfx.modeling.factory import build_untrained

    config = ModelConfig()
    config.backbone.weights = "random:0"
    model = build_untrained(config, seed=0, tucker_frames=1)
    path = tmp_path_factory.mktemp("models") / "tiny.pt"
    save_checkpoint(model, path, {"name": "tiny-test", "trained": False, "seed": 0})
    return path


@pytest.fixture(scope="session")
def tiny_model(tiny_checkpoint):
    """(model, metadata) of tiny_checkpoint, loaded once: share it instead of loading per test."""
    from hyperseg_vfx.checkpoint import load_checkpoint

    model, metadata = load_checkpoint(tiny_checkpoint)
    return model, {"checkpoint": str(tiny_checkpoint)} | metadata


@pytest.fixture(scope="session")
def make_segmenter(tiny_model):
    """make_segmenter(cache_bytes=0) -> a CPU Segmenter around the shared tiny model."""
    from hyperseg_vfx.segmenter import Segmenter

    def make(cache_bytes: int = 0):
        model, metadata = tiny_model
        return Segmenter(model, device="cpu", cache_bytes=cache_bytes, metadata=metadata)

    return make


@pytest.fixture(scope="session")
def make_shot():
    """make_shot(folder, frames="1001-1006", size=(96, 64), **kwargs) -> path of a shot file.

    Writes a synthetic linear EXR plate sequence `folder/plates/<name>.####.exr` and the shot
    file `folder/<name>.yaml` (output `mattes/<name>_matte.####.exr`) whose positive click
    follows the object's centre (keys on the first and last frame); a negative click sits in a
    background corner. kwargs: name, seed, negative_click, options, checkpoint (see
    hyperseg_vfx.demo.write_synthetic_shot).
    """
    from hyperseg_vfx.demo import write_synthetic_shot
    from hyperseg_vfx.sequences import parse_frame_spec

    def make(folder, frames: str | int = "1001-1006", size: tuple[int, int] = (96, 64), **kwargs) -> Path:
        return write_synthetic_shot(folder, frames=parse_frame_spec(frames), size=size, **kwargs)

    return make


@pytest.fixture(scope="session")
def bridge(tmp_path_factory, tiny_checkpoint):
    """A bridge (`hyperseg-vfx serve` in a subprocess, see tests/bridge_server.py) on a free
    127.0.0.1 port, serving tiny_checkpoint on the CPU; request paths are allowed in `bridge.root`.
    Shared by the session; at its end stopped with SIGTERM, which must end it cleanly."""
    import signal

    from bridge_server import BridgeProcess

    root = tmp_path_factory.mktemp("bridge_root")
    server = BridgeProcess(tiny_checkpoint, [root], tmp_path_factory.mktemp("bridge_log") / "bridge.log")
    server.start()
    yield server
    assert server.stop() == -signal.SIGTERM, server.output()
    assert "Traceback" not in server.output(), server.output()


@pytest.fixture
def farm_shot(tmp_path, make_shot, tiny_checkpoint):
    """farm_shot(frames="1001-1005") -> a 96x64 shot `sh010.yaml` with tiny_checkpoint, in
    `tmp_path/shot dir` (a space in the path, as on real file servers)."""

    def make(frames: str = "1001-1005") -> Path:
        return make_shot(tmp_path / "shot dir", frames=frames, name="sh010", checkpoint=tiny_checkpoint)

    return make


@pytest.fixture
def golden():
    """golden(name, text, **paths): assert `text`, with each path written as <KEY>, equals
    tests/golden/<name>. With HYPERSEG_UPDATE_GOLDEN=1 the file is rewritten instead."""
    import os

    def check(name: str, text: str, **paths) -> None:
        for key, path in sorted(paths.items(), key=lambda item: -len(str(item[1]))):
            text = text.replace(str(path), f"<{key.upper()}>")
        path = Path(__file__).parent / "golden" / name
        if os.environ.get("HYPERSEG_UPDATE_GOLDEN") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        assert path.is_file(), f"{path} is missing (HYPERSEG_UPDATE_GOLDEN=1 writes it)"
        assert text == path.read_text(), f"{name} differs from its golden file"

    return check


@pytest.fixture
def nuke():
    """The behavioural fake of Nuke's `nuke` module (tests/fake_nuke), installed as `nuke` and
    reset for this test; nuke_plugin/ is importable (hyperseg_nuke)."""
    import fake_nuke

    return fake_nuke.install()
