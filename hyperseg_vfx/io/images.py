"""Reading plates and mattes as display-referred numpy arrays.

The model sees frames the way an artist sees them in the viewer: display-referred sRGB in
[0, 1]. Plates come in many forms (EXR half/float with arbitrary channel sets and data windows,
DPX, TIFF, PNG, JPEG) and colour spaces; this module reduces all of them to one array over the
display window, which is the frame the clicks and the output matte refer to.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import OpenImageIO as oiio

from hyperseg_vfx.door import ANYWHERE, Door
from hyperseg_vfx.errors import HypersegError
from hyperseg_vfx.limits import limit_from_env

#: Friendly colour space names and, in order of preference, the names an OCIO config may use
#: for them. OpenImageIO's built-in config knows the first of each list.
FRIENDLY_COLORSPACES = {
    "linear": ("linear", "lin_rec709", "Linear Rec.709 (sRGB)", "scene_linear"),
    "srgb": ("sRGB", "srgb_tx", "sRGB Encoded Rec.709 (sRGB)", "Utility - sRGB - Texture"),
}

_FLOAT_TYPES = (oiio.BASETYPE.HALF, oiio.BASETYPE.FLOAT, oiio.BASETYPE.DOUBLE)

#: Largest display or data window read, in pixels (16384 x 16384 by default; an 8K plate is 35 M).
#: A header can declare any size: a 391-byte EXR with a 60000 x 60000 display window would make the
#: reader allocate 40 GiB. $HYPERSEG_MAX_IMAGE_PIXELS sets another limit.
DEFAULT_MAX_PIXELS = 16384 * 16384
MAX_PIXELS_ENV = "HYPERSEG_MAX_IMAGE_PIXELS"


class ImageReadError(HypersegError):
    """An image could not be read or converted; the message names the file."""


@dataclass(frozen=True)
class Frame:
    """One plate frame over its display window.

    rgb: float32 (height, width, 3), display-referred sRGB clipped to [0, 1], C-contiguous.
    nonfinite_pixels: pixels that held NaN or Inf in a colour channel (set to 0 before conversion).
    identity: (real path, mtime_ns, size) of the file read, from the fstat of the descriptor read.
    """

    rgb: np.ndarray
    width: int
    height: int
    pixel_aspect: float
    source: str
    nonfinite_pixels: int
    identity: tuple[str, int, int] = ("", 0, 0)


#: How a config given by name rather than file starts: OCIO's built-in configs (`ocio://default`).
BUILTIN_CONFIG_PREFIX = "ocio://"


@functools.lru_cache(maxsize=1)
def _color_config() -> oiio.ColorConfig:
    """The active OCIO config: $OCIO when set, else OpenImageIO's built-in one (read once)."""
    return oiio.ColorConfig()


@functools.lru_cache(maxsize=8)
def _config_file(path: str, version: tuple[int, int] | None) -> oiio.ColorConfig:
    """The OCIO config at `path`, read once per `version` of the file (see color_config)."""
    config = oiio.ColorConfig(path)
    error = config.geterror()  # OpenImageIO falls back to its built-in config and says why
    if error:
        raise ValueError(f"cannot read the OCIO config {path}: {error}")
    return config


def color_config(ocio_config: str | None = None) -> oiio.ColorConfig:
    """The OCIO config named `ocio_config`: a config file (read again only when its date or size
    changes) or an OCIO built-in name (`ocio://default`); None: the active config ($OCIO, else
    OpenImageIO's built-in one). ValueError naming the file when it cannot be read."""
    if ocio_config is None:
        return _color_config()
    return _config_file(ocio_config, config_version(ocio_config))


def config_version(ocio_config: str | None) -> tuple[int, int] | None:
    """(mtime_ns, size) of a config file, None for no config or a built-in one: what tells an
    edited config from the one read before. ValueError naming the file when it is missing."""
    if ocio_config is None or ocio_config.startswith(BUILTIN_CONFIG_PREFIX):
        return None
    try:
        info = os.stat(ocio_config)
    except OSError as exc:
        raise ValueError(f"cannot read the OCIO config {ocio_config}: {exc.strerror or exc}") from None
    return (info.st_mtime_ns, info.st_size)


def resolve_colorspace(name: str, ocio_config: str | None = None) -> str:
    """The name for colour space `name` (friendly `linear`/`sRGB` included) in the OCIO config
    `ocio_config` (see color_config; None: the active config).

    Raises ValueError when the config cannot be read or knows no such colour space.
    """
    config = color_config(ocio_config)
    for candidate in FRIENDLY_COLORSPACES.get(name.lower(), (name,)):
        resolved = config.resolve(candidate)
        if config.getColorSpaceIndex(resolved) >= 0:
            return resolved
    raise ValueError(f"unknown colour space {name!r} (OCIO config {config.configname()})")


def max_pixels() -> int:
    """The pixel limit of a display or data window: $HYPERSEG_MAX_IMAGE_PIXELS, else DEFAULT_MAX_PIXELS."""
    try:
        return limit_from_env(MAX_PIXELS_ENV, DEFAULT_MAX_PIXELS)
    except ValueError as exc:
        raise ImageReadError(str(exc)) from None


def _open(path: str | os.PathLike, door: Door = ANYWHERE, field: str = "input") -> tuple[oiio.ImageInput, tuple]:
    """Open `path` for reading through `door` (ImageInput, identity); ImageReadError naming it on
    failure, and before any pixel is read when the display or data window is larger than
    max_pixels(). OpenImageIO opens the door's descriptor by its name (`/proc/self/fd/N`, which
    has no extension: it finds the format from the file's first bytes)."""
    try:
        with door.reading(path, field) as opened:
            identity = (opened.real, opened.stat.st_mtime_ns, opened.stat.st_size)
            inp = oiio.ImageInput.open(opened.name)
    except OSError as exc:
        raise ImageReadError(f"cannot open image {path}: {exc.strerror or exc}") from None
    if inp is None:
        raise ImageReadError(f"cannot open image {path}: {oiio.geterror().replace(opened.name, os.fspath(path))}")
    spec = inp.spec()
    problem = None
    if spec.deep:
        problem = "deep images are not supported"
    else:
        limit = max_pixels()
        for name, width, height in (("display", spec.full_width, spec.full_height), ("data", spec.width, spec.height)):
            if width * height > limit:
                problem = (f"its {name} window {width}x{height} is larger than the limit of {limit} pixels "
                           f"(${MAX_PIXELS_ENV})")
                break
    if problem:
        inp.close()
        raise ImageReadError(f"cannot read {path}: {problem}")
    return inp, identity


def read_header(path: str | os.PathLike, door: Door = ANYWHERE) -> tuple[int, int, float]:
    """(width, height, pixel_aspect) of the display window, from the header only."""
    inp, _identity = _open(path, door)
    spec = inp.spec()
    inp.close()
    return spec.full_width, spec.full_height, spec.get_float_attribute("PixelAspectRatio", 1.0)


def _read_display_window(
    path: str | os.PathLike, pick: Callable[[tuple[str, ...]], list[int]], door: Door = ANYWHERE
) -> tuple[np.ndarray, oiio.ImageSpec, tuple]:
    """Channels `pick(channel names)` of subimage 0 over the display window, as float32
    (H, W, number of picked channels), with the header and the file's identity.

    The data window may be larger than, smaller than or offset from the display window: data
    outside it is cropped, display pixels without data are 0. Reads only the channel range
    spanned by the picked channels. Read with ImageInput, not ImageBuf, so a rewritten file is never
    served stale from OpenImageIO's image cache.
    """
    inp, identity = _open(path, door)
    try:
        spec = inp.spec()
        channels = pick(tuple(spec.channelnames))
        first, last = min(channels), max(channels) + 1
        data = inp.read_image(0, 0, first, last, oiio.FLOAT)
        if data is None:
            raise ImageReadError(f"cannot read pixels of {path}: {inp.geterror()}")
    finally:
        inp.close()
    data = data.reshape(spec.height, spec.width, last - first)[..., [c - first for c in channels]]
    out = np.zeros((spec.full_height, spec.full_width, len(channels)), np.float32)
    x0, x1 = max(spec.x, spec.full_x), min(spec.x + spec.width, spec.full_x + spec.full_width)
    y0, y1 = max(spec.y, spec.full_y), min(spec.y + spec.height, spec.full_y + spec.full_height)
    if x0 < x1 and y0 < y1:
        out[y0 - spec.full_y : y1 - spec.full_y, x0 - spec.full_x : x1 - spec.full_x] = data[
            y0 - spec.y : y1 - spec.y, x0 - spec.x : x1 - spec.x
        ]
    return out, spec, identity


def _colour_channels(names: tuple[str, ...]) -> list[int]:
    """Indices of the channels that make the picture: R, G, B by name when all present, the
    first channel (grey) when there are fewer than three, else the first three in the order
    OpenImageIO lists them (for EXR: sorted by name, with any depth channel first)."""
    if {"R", "G", "B"} <= set(names):
        return [names.index(c) for c in ("R", "G", "B")]
    return [0] if len(names) < 3 else [0, 1, 2]


def read_frame(path: str | os.PathLike, colorspace: str | None = None, ocio_config: str | None = None,
               door: Door = ANYWHERE) -> Frame:
    """Read one plate frame as display-referred sRGB over its display window.

    colorspace: the file's colour space, any name of the OCIO config `ocio_config` (a file or
    an `ocio://` name; None: the active config, see color_config) or `linear`/`sRGB`; None
    means `linear` for float/half files and `sRGB` for integer files. The conversion uses that
    config. NaN/Inf values are counted and replaced by 0 before the conversion; the result is
    clipped to [0, 1]. The plate is read through `door`, and a config file must pass it too.
    """
    if ocio_config is not None and not ocio_config.startswith(BUILTIN_CONFIG_PREFIX):
        ocio_config = door.real_path(ocio_config, "ocio_config")  # OpenImageIO reads it by name
    pixels, spec, identity = _read_display_window(path, _colour_channels, door)
    default = "linear" if spec.format.basetype in _FLOAT_TYPES else "sRGB"
    try:
        config = color_config(ocio_config)
        source_space = resolve_colorspace(colorspace or default, ocio_config)
        target_space = resolve_colorspace("sRGB", ocio_config)
    except ValueError as exc:
        raise ImageReadError(f"cannot read {path}: {exc}") from None
    finite = np.isfinite(pixels)
    nonfinite = int(np.count_nonzero(~finite.all(axis=2)))
    pixels[~finite] = 0.0
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    if not config.equivalent(source_space, target_space):
        # OpenImageIO's Python binding takes the config by name and reads it per call (0.2 ms for
        # a small config; the pixels cost ~65 ms at 2K either way).
        by_config = {} if ocio_config is None else {"colorconfig": ocio_config}
        converted = oiio.ImageBufAlgo.colorconvert(
            oiio.ImageBuf(pixels), source_space, target_space, unpremult=False, **by_config
        )
        if converted.has_error:
            raise ImageReadError(f"cannot convert {path} from {source_space}: {converted.geterror()}")
        pixels = converted.get_pixels(oiio.FLOAT)
    rgb = np.ascontiguousarray(np.clip(pixels, 0.0, 1.0), dtype=np.float32)
    return Frame(
        rgb=rgb,
        width=spec.full_width,
        height=spec.full_height,
        pixel_aspect=spec.get_float_attribute("PixelAspectRatio", 1.0),
        source=str(path),
        nonfinite_pixels=nonfinite,
        identity=identity,
    )


def read_channels(path: str | os.PathLike, names: Sequence[str], door: Door = ANYWHERE) -> np.ndarray:
    """Channels `names` of an image as float32 (H, W, len(names)) over the display window (a
    layered matte's `<object>.A`); ImageReadError naming the first missing one."""

    def pick(present: tuple[str, ...]) -> list[int]:
        missing = [n for n in names if n not in present]
        if missing:
            raise ImageReadError(f"{path} has no channel {missing[0]} (it has {', '.join(present)})")
        return [present.index(n) for n in names]

    return _read_display_window(path, pick, door)[0]


def read_matte(path: str | os.PathLike, door: Door = ANYWHERE) -> np.ndarray:
    """The matte of an image as float32 (H, W) over the display window.

    The A channel when the file has one, else the only channel of a one-channel image.
    """

    def pick(names: tuple[str, ...]) -> list[int]:
        if "A" in names:
            return [names.index("A")]
        if len(names) == 1:
            return [0]
        raise ImageReadError(f"{path} has no matte: no A channel among {len(names)} channels {names}")

    return _read_display_window(path, pick, door)[0][..., 0]
