"""write_matte_exr: round trip, header contents, argument checks and atomicity."""

from __future__ import annotations

import numpy as np
import OpenImageIO as oiio
import pytest

from hyperseg_vfx.io.exr import ExrWriteError, write_matte_exr
from hyperseg_vfx.io.images import read_matte

RNG = np.random.default_rng(3)


def read_all(path):
    """(header, pixels (H, W, C) float32) of an EXR, read without the image cache."""
    inp = oiio.ImageInput.open(str(path))
    spec = inp.spec()
    pixels = inp.read_image(0, 0, 0, spec.nchannels, oiio.FLOAT)
    inp.close()
    return spec, pixels


def test_round_trip_with_candidates_and_metadata(tmp_path):
    alpha = RNG.uniform(0.0, 1.0, (5, 7)).astype(np.float32)
    candidates = RNG.uniform(0.0, 1.0, (3, 5, 7)).astype(np.float32)
    path = tmp_path / "out" / "m.1001.exr"
    metadata = {"source": "/plates/a.1001.exr", "model": "hyperseg-v1", "clicks_hash": "0123abcd"}
    write_matte_exr(path, alpha, candidates=candidates, pixel_aspect=2.0, metadata=metadata, compression="piz")

    spec, pixels = read_all(path)
    assert spec.format == oiio.HALF
    assert spec.channelnames == ("A", "hyperseg.c1", "hyperseg.c2", "hyperseg.c3")
    assert (spec.x, spec.y, spec.width, spec.height) == (0, 0, 7, 5)
    assert (spec.full_x, spec.full_y, spec.full_width, spec.full_height) == (0, 0, 7, 5)
    assert spec.get_float_attribute("PixelAspectRatio") == 2.0
    assert spec.get_string_attribute("compression") == "piz"
    for key, value in metadata.items():
        assert spec.get_string_attribute(f"hyperseg/{key}") == value
    half_step = 2.0**-11
    np.testing.assert_allclose(pixels[..., 0], alpha, atol=half_step)
    np.testing.assert_allclose(np.moveaxis(pixels[..., 1:], -1, 0), candidates, atol=half_step)
    np.testing.assert_allclose(read_matte(path), alpha, atol=half_step)
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.1001.exr"]


def test_defaults_alpha_only_zip(tmp_path):
    path = tmp_path / "m.exr"
    write_matte_exr(path, np.ones((2, 3)))
    spec, pixels = read_all(path)
    assert spec.channelnames == ("A",) and spec.get_string_attribute("compression") == "zip"
    assert spec.get_float_attribute("PixelAspectRatio") == 1.0
    assert (pixels == 1).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": np.zeros((2, 3, 1))}, "must be \\(H, W\\)"),
        ({"candidates": np.zeros((2, 3, 4))}, "candidates"),
        ({"compression": "lzma"}, "lzma"),
        ({"pixel_aspect": 0.0}, "pixel aspect"),
        ({"metadata": {"model": 3}}, "metadata"),
    ],
)
def test_bad_arguments_write_nothing(tmp_path, kwargs, message):
    path = tmp_path / "m.exr"
    args = {"alpha": np.zeros((2, 3))} | kwargs
    with pytest.raises(ValueError, match=message):
        write_matte_exr(path, args.pop("alpha"), **args)
    assert list(tmp_path.iterdir()) == []


def test_failure_mid_write_leaves_no_file(tmp_path, monkeypatch):
    path = tmp_path / "m.exr"

    def explode(self, *args):
        assert list(tmp_path.glob(".hyperseg-tmp-*.partial")), "temp file should exist mid-write"
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(oiio.ImageOutput, "write_image", explode)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_matte_exr(path, np.zeros((2, 3)))
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_previous_file_and_names_path(tmp_path, monkeypatch):
    path = tmp_path / "m.exr"
    write_matte_exr(path, np.ones((2, 3)))
    before = path.read_bytes()
    monkeypatch.setattr(oiio.ImageOutput, "write_image", lambda self, *args: False)
    with pytest.raises(ExrWriteError, match=str(path)):
        write_matte_exr(path, np.zeros((2, 3)))
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]
