"""One precision per shot (`options.precision`), whatever device renders it.

No GPU here: `simulated_cuda` makes torch say a CUDA device exists while every tensor stays on
the CPU, so the Segmenter takes its CUDA branch (precision context, feature dtype, metadata) and
the arithmetic can be compared with a CPU render bit for bit.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml


@pytest.fixture
def simulated_cuda(monkeypatch):
    """torch reports one CUDA device; moves to it are no-ops and synchronize does nothing. Yields
    a list that records, at each network call, (autocast on, matmul TF32, cuDNN TF32, input dtype)."""
    from hyperseg_vfx import segmenter as segmenter_module
    from hyperseg_vfx.modeling.hyperseg import HyperSeg

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "simulated")
    original_to = torch.nn.Module.to

    def to_cpu(module, *args, **kwargs):
        args = [a for a in args if not (isinstance(a, torch.device) and a.type == "cuda")]
        return original_to(module, *args, **kwargs)

    monkeypatch.setattr(torch.nn.Module, "to", to_cpu)
    monkeypatch.setattr(segmenter_module, "to_device_image",
                        lambda array, device: torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0))
    calls = []
    forward = HyperSeg.forward

    def spy(self, x, *args, **kwargs):
        calls.append((torch.is_autocast_enabled("cuda"), torch.backends.cuda.matmul.allow_tf32,
                      torch.backends.cudnn.allow_tf32, kwargs["projected"].dtype))
        return forward(self, x, *args, **kwargs)

    monkeypatch.setattr(HyperSeg, "forward", spy)
    return calls


def _set_options(shot_file, **options):
    data = yaml.safe_load(shot_file.read_text())
    data.setdefault("options", {}).update(options)
    shot_file.write_text(yaml.safe_dump(data, sort_keys=False))


def test_a_float32_shot_on_a_cuda_device_computes_float32_with_tf32_off(tmp_path, make_shot, tiny_model,
                                                                         simulated_cuda):
    from hyperseg_vfx.render import segment_shot_frame
    from hyperseg_vfx.segmenter import Segmenter
    from hyperseg_vfx.shot import load_shot

    model, metadata = tiny_model
    shot = load_shot(make_shot(tmp_path, frames="1001-1002"))
    assert shot.options.precision == "float32"  # the default
    cuda = Segmenter(model, device="cuda", metadata=metadata)
    assert cuda.device.type == "cuda"
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    matte = segment_shot_frame(shot, cuda, 1002)
    assert simulated_cuda == [(False, False, False, torch.float32)]  # no autocast, no TF32, float32 features
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == tf32  # restored
    reference = segment_shot_frame(shot, Segmenter(model, device="cpu", metadata=metadata), 1002)
    np.testing.assert_array_equal(matte.candidates, reference.candidates)


def test_a_float16_shot_on_a_cuda_device_computes_under_float16_autocast(tmp_path, make_shot, tiny_model,
                                                                         simulated_cuda):
    from hyperseg_vfx.render import segment_shot_frame
    from hyperseg_vfx.segmenter import Segmenter
    from hyperseg_vfx.shot import load_shot

    shot_file = make_shot(tmp_path, frames="1001-1002")
    _set_options(shot_file, precision="float16")
    model, metadata = tiny_model
    segment_shot_frame(load_shot(shot_file), Segmenter(model, device="cuda", metadata=metadata), 1001)
    assert simulated_cuda == [(True, False, True, torch.float16)]


def test_a_float16_shot_is_refused_on_the_cpu_before_anything_is_written(tmp_path, make_shot, tiny_checkpoint):
    shot_file = make_shot(tmp_path, frames="1001-1002")
    _set_options(shot_file, precision="float16")
    done = subprocess.run([sys.executable, "-m", "hyperseg_vfx.cli", "render", str(shot_file), "--device", "cpu",
                           "--checkpoint", str(tiny_checkpoint)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "options.precision: float16 is computed on CUDA only" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "mattes").exists()


def test_an_unknown_precision_names_the_field(tmp_path, make_shot):
    from hyperseg_vfx.shot import ShotError, load_shot

    shot_file = make_shot(tmp_path, frames="1001")
    _set_options(shot_file, precision="bfloat16")
    with pytest.raises(ShotError, match=r"options.precision: must be one of float32, float16, got 'bfloat16'"):
        load_shot(shot_file)


def test_the_matte_records_device_and_precision(tmp_path, make_shot, make_segmenter):
    from hyperseg_vfx.io.exr import read_matte_metadata
    from hyperseg_vfx.render import render_shot
    from hyperseg_vfx.shot import load_shot

    shot = load_shot(make_shot(tmp_path, frames="1001"))
    assert render_shot(shot, make_segmenter()).ok
    metadata = read_matte_metadata(shot.output_path(1001))
    assert (metadata["device"], metadata["precision"]) == ("cpu", "float32")


def test_a_chunk_whose_previous_matte_has_another_precision_fails_clearly(tmp_path, make_shot, tiny_model,
                                                                          make_segmenter, simulated_cuda):
    """Chunk 1001-1002 on a GPU at float16; the shot is then switched to float32 and chunk
    1003-1004 runs: it continues from frame 1002's float16 matte, so it stops before computing."""
    from hyperseg_vfx.render import PrecisionMismatchError, render_shot
    from hyperseg_vfx.segmenter import Segmenter
    from hyperseg_vfx.shot import load_shot

    shot_file = make_shot(tmp_path, frames="1001-1004")
    _set_options(shot_file, precision="float16")
    model, metadata = tiny_model
    assert render_shot(load_shot(shot_file, frames="1001-1002"), Segmenter(model, device="cuda", metadata=metadata)).ok
    _set_options(shot_file, precision="float32")
    chunk = load_shot(shot_file, frames="1003-1004")
    with pytest.raises(PrecisionMismatchError, match=r"demo_matte.1002.exr \(frame 1002\) was rendered at float16 on "
                                                     r"cuda, this shot renders at float32"):
        render_shot(chunk, make_segmenter())
    assert not (tmp_path / "mattes" / "demo_matte.1003.exr").exists()
    # --skip-existing keeping a float16 matte in a float32 render: the same refusal
    with pytest.raises(PrecisionMismatchError, match=r"frame 1001"):
        render_shot(load_shot(shot_file, frames="1001-1003"), make_segmenter(), skip_existing=True)
    # the same precision continues
    _set_options(shot_file, precision="float16")
    assert render_shot(load_shot(shot_file, frames="1003-1004"), Segmenter(model, device="cuda", metadata=metadata)).ok
