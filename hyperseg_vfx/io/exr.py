"""Writing mattes as OpenEXR files that compositing packages read directly.

A matte is a half-float EXR with the matte in channel `A` and, optionally, the model's
alternative masks as channels `c1` ... `cM` in layers of at most four channels: `hyperseg`
(c1..c4), `hyperseg2` (c5..c8), ... (candidate_channel). Nuke "only has a four channel
interface" (Foundry: "Never use more than four channels per layer"), so a fifth channel in one
layer could not be shown or shuffled there. Provenance (source
plate, model, click hash) travels as string attributes prefixed `hyperseg/`. The file is written
to a temporary name and renamed into place, so a crash never leaves a partial matte.
"""

from __future__ import annotations

import os

import numpy as np
import OpenImageIO as oiio

from hyperseg_vfx.door import ANYWHERE, Door
from hyperseg_vfx.errors import HypersegError

#: OpenEXR compression names accepted by write_matte_exr.
COMPRESSIONS = ("none", "rle", "zips", "zip", "piz", "pxr24", "b44", "b44a", "dwaa", "dwab")

METADATA_PREFIX = "hyperseg/"


#: Channels per layer of the candidates (Nuke's limit).
LAYER_SIZE = 4


def candidate_channel(m: int, layer_name: str = "hyperseg") -> str:
    """The EXR channel of candidate m (1-based): hyperseg.c1..c4, hyperseg2.c5..c8, ...
    (layer_name: another first layer's name, e.g. an object's `actor_candidates`)."""
    layer = (m - 1) // LAYER_SIZE + 1
    return f"{layer_name}{'' if layer == 1 else layer}.c{m}"


class ExrWriteError(HypersegError, OSError):
    """A matte could not be written; the message names the destination file."""


def _matte_spec(
    height: int, width: int, channels: list[str], pixel_aspect: float,
    metadata: dict[str, str], compression: str,
) -> oiio.ImageSpec:
    """Header of a half-float EXR whose data window equals its display window."""
    spec = oiio.ImageSpec(width, height, len(channels), oiio.HALF)
    spec.channelnames = tuple(channels)
    spec.alpha_channel = 0
    spec.attribute("PixelAspectRatio", float(pixel_aspect))
    spec.attribute("compression", compression)
    for key, value in metadata.items():
        spec.attribute(METADATA_PREFIX + key, value)
    return spec


def write_matte_exr(
    path: str | os.PathLike,
    alpha: np.ndarray,
    *,
    candidates: np.ndarray | None = None,
    pixel_aspect: float = 1.0,
    metadata: dict[str, str] | None = None,
    compression: str = "zip",
    door: Door = ANYWHERE,
    replace=True,
) -> None:
    """Write matte `alpha` (H, W) to `path` as a half-float EXR, atomically, through `door`.

    candidates: optional (M, H, W) alternative masks, written as channels candidate_channel(1..M)
    (EXR stores channels sorted by name, so readers should select them by name).
    metadata: string attributes, stored as `hyperseg/<key>`.
    replace: the door's no-overwrite rule for an existing `path` (True, False, or a
    door.Replaceable).
    Raises ValueError for bad arguments (before touching the disk) and ExrWriteError naming
    `path` when writing fails; neither the final nor a temporary file is left behind then.
    """
    alpha = np.asarray(alpha, dtype=np.float32)
    if alpha.ndim != 2:
        raise ValueError(f"matte for {path} must be (H, W), got shape {alpha.shape}")
    planes = [alpha]
    if candidates is not None:
        candidates = np.asarray(candidates, dtype=np.float32)
        if candidates.ndim != 3 or candidates.shape[1:] != alpha.shape:
            raise ValueError(
                f"candidates for {path} must be (M, {alpha.shape[0]}, {alpha.shape[1]}), "
                f"got shape {candidates.shape}"
            )
        planes.extend(candidates)
    metadata = metadata or {}
    _check_arguments(path, pixel_aspect, metadata, compression)
    channels = ["A"] + [candidate_channel(i) for i in range(1, len(planes))]
    spec = _matte_spec(*alpha.shape, channels, pixel_aspect, metadata, compression)
    # (H, W, C); a lone alpha plane is viewed as (H, W, 1) without a copy (a 2K matte: ~3 ms saved)
    pixels = np.ascontiguousarray(alpha[..., None] if len(planes) == 1 else np.stack(planes, axis=-1))
    _write_exr(path, spec, pixels, door, replace)


def write_layered_matte_exr(
    path: str | os.PathLike,
    channels: dict[str, np.ndarray],
    *,
    pixel_aspect: float = 1.0,
    metadata: dict[str, str] | None = None,
    compression: str = "zip",
    door: Door = ANYWHERE,
    replace=True,
) -> None:
    """Write named (H, W) planes to `path` as one single-part half-float EXR, atomically,
    through `door` (replace: as write_matte_exr's).

    channels: EXR channel name -> plane, `A` first (the file's alpha), then `<layer>.<channel>`
    names with at most LAYER_SIZE channels per layer (Nuke's limit; ValueError otherwise).
    A single part with `layer.channel` names is how Nuke's Read shows layers (one Shuffle per
    layer; `.A` reads as `<layer>.alpha`). Arguments are checked as write_matte_exr's.
    """
    names = list(channels)
    if not names or names[0] != "A":
        raise ValueError(f"layered matte for {path} must begin with channel A, got {names[:1]}")
    layers: dict[str, int] = {}
    for name in names[1:]:
        layer = name.rpartition(".")[0]
        layers[layer] = layers.get(layer, 0) + 1
        if not layer or layers[layer] > LAYER_SIZE:
            raise ValueError(f"channel {name!r} for {path}: every channel but A is <layer>.<name>, "
                             f"at most {LAYER_SIZE} per layer")
    planes = [np.asarray(channels[n], dtype=np.float32) for n in names]
    for name, plane in zip(names, planes):
        if plane.shape != planes[0].shape or plane.ndim != 2:
            raise ValueError(f"channel {name} for {path} must be (H, W) like A {planes[0].shape}, got {plane.shape}")
    metadata = metadata or {}
    _check_arguments(path, pixel_aspect, metadata, compression)
    spec = _matte_spec(*planes[0].shape, names, pixel_aspect, metadata, compression)
    _write_exr(path, spec, np.ascontiguousarray(np.stack(planes, axis=-1)), door, replace)


def _check_arguments(path, pixel_aspect: float, metadata: dict[str, str], compression: str) -> None:
    """ValueError naming `path` for a bad compression, pixel aspect or metadata."""
    if compression not in COMPRESSIONS:
        raise ValueError(f"unknown EXR compression {compression!r} for {path}; use one of {COMPRESSIONS}")
    if not pixel_aspect > 0:
        raise ValueError(f"pixel aspect for {path} must be > 0, got {pixel_aspect}")
    for key, value in metadata.items():
        if not (isinstance(key, str) and key and isinstance(value, str)):
            raise ValueError(f"metadata for {path} must map non-empty str to str, got {key!r}: {value!r}")


def _write_exr(path: str | os.PathLike, spec: oiio.ImageSpec, pixels: np.ndarray, door: Door, replace) -> None:
    """Write (H, W, C) `pixels` with `spec` to `path` atomically through `door`; ExrWriteError naming it."""
    with door.writing(path, "output", replace=replace) as tmp:
        out = oiio.ImageOutput.create("openexr")
        if out is None:
            raise ExrWriteError(f"cannot write {path}: {oiio.geterror()}")
        try:
            written = out.open(str(tmp), spec) and out.write_image(pixels)
        finally:
            closed = out.close()  # OpenEXR flushes on close: its result counts too
        if not (written and closed):
            raise ExrWriteError(f"cannot write {path}: {out.geterror()}")


def read_matte_metadata(path: str | os.PathLike, door: Door = ANYWHERE) -> dict[str, str] | None:
    """The `hyperseg/*` attributes of an image file (keys without the prefix), None when the file
    does not open as an image (or is no regular file). An empty dict: an image that hyperseg-vfx
    did not write."""
    try:
        with door.reading(path, "output") as opened:
            inp = oiio.ImageInput.open(opened.name)
    except OSError:
        return None
    if inp is None:
        oiio.geterror()  # clear OpenImageIO's pending error message
        return None
    try:
        return {attr.name[len(METADATA_PREFIX):]: str(attr.value) for attr in inp.spec().extra_attribs
                if attr.name.startswith(METADATA_PREFIX)}
    finally:
        inp.close()
