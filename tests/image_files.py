"""Test helper: write small real image files with OpenImageIO, with full control of the header."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenImageIO as oiio


def write_image(
    path: Path,
    pixels: np.ndarray,
    *,
    fmt: str = "half",
    channels: tuple[str, ...] | None = None,
    data_origin: tuple[int, int] = (0, 0),
    display: tuple[int, int, int, int] | None = None,
    attrs: dict[str, object] | None = None,
) -> Path:
    """Write `pixels` (H, W) or (H, W, C) to `path` (format from the extension).

    data_origin: (x, y) of the data window; display: (x, y, width, height) of the display
    window, default the data window. Returns `path`.
    """
    pixels = np.asarray(pixels, np.float32)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    height, width, nchannels = pixels.shape
    spec = oiio.ImageSpec(width, height, nchannels, fmt)
    spec.x, spec.y = data_origin
    spec.full_x, spec.full_y, spec.full_width, spec.full_height = display or (*data_origin, width, height)
    if channels:
        spec.channelnames = channels
    for key, value in (attrs or {}).items():
        spec.attribute(key, value)
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec), out.geterror()
    assert out.write_image(np.ascontiguousarray(pixels)), out.geterror()
    assert out.close(), out.geterror()
    return path


def read_image(path, fmt=oiio.FLOAT):
    """(header, pixels (H, W, C)) of an image file, read without OpenImageIO's cache."""
    inp = oiio.ImageInput.open(str(path))
    assert inp is not None, oiio.geterror()
    spec = inp.spec()
    pixels = inp.read_image(0, 0, 0, spec.nchannels, fmt)
    inp.close()
    return spec, pixels


def write_ocio_config(path: Path, gain: float = 2.0) -> Path:
    """A small OCIO v2 config at `path`, as a show might have, whose names the built-in config
    lacks: `show_lin` (the reference, alias `linear`), `show_srgb` (sRGB-encoded, alias `sRGB`)
    and `show_plate`, whose values are the reference divided by `gain` (a plate of `show_plate`
    reads like `gain` times its values as linear). Returns `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    g = float(gain)
    path.write_text(f"""ocio_profile_version: 2

roles:
  default: show_lin
  scene_linear: show_lin

displays:
  sRGB:
    - !<View> {{name: Standard, colorspace: show_srgb}}

colorspaces:
  - !<ColorSpace>
    name: show_lin
    aliases: [linear]

  - !<ColorSpace>
    name: show_srgb
    aliases: [sRGB]
    from_scene_reference: !<ExponentWithLinearTransform> {{gamma: 2.4, offset: 0.055, direction: inverse}}

  - !<ColorSpace>
    name: show_plate
    to_scene_reference: !<MatrixTransform> {{matrix: [{g}, 0, 0, 0, 0, {g}, 0, 0, 0, 0, {g}, 0, 0, 0, 0, 1]}}
""")
    return path
