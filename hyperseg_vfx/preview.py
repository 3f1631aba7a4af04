"""Contact sheets: a quick look at a shot's mattes without a compositing package.

The sheet is a grid of sampled frames; each tile is the plate (display-referred, as the model
sees it) with the rendered matte as a 50% red tint and the frame's clicks as dots (green
positive, red negative, dark outline), labelled with the frame number when OpenImageIO can
render text (it needs a font; without one the sheet has no labels). Frames without a readable
matte of the plate's size are shown without tint, labelled `missing` (or crossed out when
there are no labels). A shot with `objects:` tints each object's layer in its own colour
(OBJECT_COLOURS, in the shot's order) and draws each object's positive clicks in that colour.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .atomic import atomic_output
from .door import Replaceable
from .clicks import Click
from .errors import HypersegError
from .shot import Shot

BACKGROUND = (0.12, 0.12, 0.12)
TINT = (1.0, 0.0, 0.0)
TINT_OPACITY = 0.5
POSITIVE = (0.0, 1.0, 0.0)
NEGATIVE = (1.0, 0.0, 0.0)
OUTLINE = (0.05, 0.05, 0.05)
#: Tints of a shot's objects, in order (repeating): none is the negative clicks' red.
OBJECT_COLOURS = ((0.2, 0.55, 1.0), (1.0, 0.6, 0.0), (0.9, 0.2, 0.9), (1.0, 1.0, 0.2), (0.1, 0.9, 0.9),
                  (0.6, 0.35, 1.0), (0.55, 1.0, 0.3), (1.0, 0.45, 0.55))
DEFAULT_COUNT = 6
DEFAULT_TILE_WIDTH = 480
GAP = 4


class PreviewError(HypersegError):
    """A contact sheet cannot be made or written; the message says why."""


@dataclass(frozen=True)
class SheetLayout:
    """Where the tiles are: `columns` x `rows` tiles of tile_width x tile_height, `gap` pixels
    between them and around the edge."""

    columns: int
    rows: int
    tile_width: int
    tile_height: int
    gap: int = GAP

    @property
    def width(self) -> int:
        return self.columns * self.tile_width + (self.columns + 1) * self.gap

    @property
    def height(self) -> int:
        return self.rows * self.tile_height + (self.rows + 1) * self.gap

    def origin(self, index: int) -> tuple[int, int]:
        """(x, y) of the top-left pixel of tile `index` (row-major)."""
        row, col = divmod(index, self.columns)
        return (self.gap + col * (self.tile_width + self.gap), self.gap + row * (self.tile_height + self.gap))


def sheet_layout(count: int, width: int, height: int, max_tile_width: int = DEFAULT_TILE_WIDTH) -> SheetLayout:
    """The grid for `count` frames of width x height: ceil(sqrt(count)) columns; tiles are the
    frame scaled down to at most max_tile_width wide (never up)."""
    columns = max(1, math.ceil(math.sqrt(count)))
    rows = max(1, math.ceil(count / columns))
    scale = min(1.0, max_tile_width / width)
    return SheetLayout(columns, rows, max(1, round(width * scale)), max(1, round(height * scale)))


def sample_frames(frames: Sequence[int], count: int = DEFAULT_COUNT) -> list[int]:
    """`count` frames spread evenly over `frames` (first and last included), all when fewer."""
    frames = sorted(set(frames))
    if count < 1:
        raise PreviewError(f"--count must be at least 1, got {count}")
    if count >= len(frames):
        return frames
    picks = np.linspace(0, len(frames) - 1, count).round().astype(int)
    return [frames[i] for i in sorted(set(picks.tolist()))]


@dataclass
class ContactSheet:
    """pixels: (height, width, 3) float32 sRGB in [0, 1]. missing: frames shown without a
    matte. labels: whether frame numbers could be drawn."""

    pixels: np.ndarray
    layout: SheetLayout
    frames: list[int]
    missing: list[int] = field(default_factory=list)
    labels: bool = True


def _resize(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W, C) float32 resized to (height, width, C) with OpenImageIO's filtered resize."""
    import OpenImageIO as oiio

    if pixels.shape[:2] == (height, width):
        return pixels
    channels = pixels.shape[2]
    roi = oiio.ROI(0, width, 0, height, 0, 1, 0, channels)
    resized = oiio.ImageBufAlgo.resize(oiio.ImageBuf(np.ascontiguousarray(pixels, np.float32)), roi=roi)
    if resized.has_error:
        raise PreviewError(f"cannot resize a tile: {resized.geterror()}")
    return resized.get_pixels(oiio.FLOAT).reshape(height, width, channels)


def _dot(tile: np.ndarray, x: float, y: float, radius: float, colour: tuple[float, float, float]) -> None:
    """A filled dot of `colour` with a dark 1.5 px outline, centred at (x, y) in tile pixels."""
    outer = radius + 1.5
    height, width = tile.shape[:2]
    x0, x1 = max(0, int(x - outer) - 1), min(width, int(x + outer) + 2)
    y0, y1 = max(0, int(y - outer) - 1), min(height, int(y + outer) + 2)
    if x0 >= x1 or y0 >= y1:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32) + 0.5
    distance = np.hypot(xs - x, ys - y)
    region = tile[y0:y1, x0:x1]
    region[distance <= outer] = OUTLINE
    region[distance <= radius] = colour


def _cross(tile: np.ndarray, colour: tuple[float, float, float] = (0.5, 0.5, 0.5)) -> None:
    """Two 2-pixel diagonals across the tile (the `missing` mark when text cannot be drawn)."""
    height, width = tile.shape[:2]
    steps = max(height, width) * 2
    t = np.linspace(0.0, 1.0, steps)
    for xs in (t * (width - 1), (1 - t) * (width - 1)):
        cols = xs.round().astype(int)
        rows = (t * (height - 1)).round().astype(int)
        for dy in (0, 1):
            tile[np.clip(rows + dy, 0, height - 1), cols] = colour


def render_tile(
    plate: np.ndarray, matte: np.ndarray | None, clicks: Sequence[Click], width: int, height: int
) -> np.ndarray:
    """One tile: `plate` (H, W, 3) scaled to width x height, `matte` (H, W) as a red tint,
    clicks (in plate pixels) as dots."""
    return render_layers_tile(plate, [(matte, TINT, clicks, POSITIVE)], width, height)


def render_layers_tile(plate: np.ndarray, layers: Sequence[tuple], width: int, height: int) -> np.ndarray:
    """render_tile with several mattes: layers are (matte (H, W) or None, tint colour, clicks,
    colour of the positive clicks), tinted in order, then every layer's clicks drawn."""
    tile = _resize(plate, width, height)[..., :3].copy()
    for matte, tint, _clicks, _positive in layers:
        if matte is not None:
            alpha = np.clip(_resize(matte[..., None], width, height)[..., 0], 0.0, 1.0)[..., None] * TINT_OPACITY
            tile = tile * (1.0 - alpha) + np.asarray(tint, np.float32) * alpha
    sx, sy = width / plate.shape[1], height / plate.shape[0]
    radius = max(3.0, 0.012 * min(width, height))
    for _matte, _tint, clicks, positive in layers:
        for click in clicks:
            _dot(tile, click.x * sx, click.y * sy, radius, positive if click.positive else NEGATIVE)
    return np.clip(tile, 0.0, 1.0).astype(np.float32)


def _tile_inputs(shot: Shot, frame: int) -> tuple[np.ndarray | None, np.ndarray | None, str]:
    """(plate rgb or None, matte or None, label) of one frame; with objects the matte is
    (H, W, objects), their layers `<name>.A`."""
    from .io.images import ImageReadError, read_channels, read_frame, read_matte

    try:
        plate = read_frame(shot.input_path(frame), shot.colorspace, shot.ocio_config).rgb
    except (ImageReadError, OSError):
        return None, None, f"{frame} no plate"
    output = shot.output_path(frame)
    if not os.path.isfile(output):
        return plate, None, f"{frame} missing"
    try:
        matte = read_channels(output, [f"{o.name}.A" for o in shot.objects]) if shot.objects else read_matte(output)
    except (ImageReadError, OSError):
        return plate, None, f"{frame} unreadable"
    if matte.shape[:2] != plate.shape[:2]:
        return plate, None, f"{frame} wrong size"
    return plate, matte, str(frame)


def _draw_label(buf, x: int, y: int, text: str, size: int) -> bool:
    """Text with a dark shadow at (x, y) (baseline); False when no font is available."""
    import OpenImageIO as oiio

    ok = oiio.ImageBufAlgo.render_text(buf, x + 1, y + 1, text, size, "", (0.0, 0.0, 0.0))
    ok = ok and oiio.ImageBufAlgo.render_text(buf, x, y, text, size, "", (1.0, 1.0, 1.0))
    if not ok:
        buf.geterror()  # clear the error so it does not surface later
    return bool(ok)


def contact_sheet(
    shot: Shot, frames: Sequence[int] | None = None, count: int = DEFAULT_COUNT,
    max_tile_width: int = DEFAULT_TILE_WIDTH,
) -> ContactSheet:
    """The contact sheet of `count` frames sampled from `frames` (default the shot's), with
    the mattes that exist at the shot's output paths."""
    import OpenImageIO as oiio

    picked = sample_frames(shot.frames if frames is None else frames, count)
    tiles = [(frame, *_tile_inputs(shot, frame)) for frame in picked]
    sizes = [plate.shape[:2] for _frame, plate, _matte, _label in tiles if plate is not None]
    if not sizes:
        raise PreviewError(f"no plate of frames {picked[0]}-{picked[-1]} can be read ({shot.input})")
    height, width = sizes[0]
    layout = sheet_layout(len(tiles), width, height, max_tile_width)
    pixels = np.empty((layout.height, layout.width, 3), np.float32)
    pixels[:] = BACKGROUND
    missing = []
    for index, (frame, plate, matte, _label) in enumerate(tiles):
        if matte is None:
            missing.append(frame)
        if plate is None:
            continue  # the background shows through, labelled `no plate`
        tile = render_layers_tile(plate, _layers(shot, frame, matte), layout.tile_width, layout.tile_height)
        x, y = layout.origin(index)
        pixels[y : y + layout.tile_height, x : x + layout.tile_width] = tile
    buf = oiio.ImageBuf(pixels)
    size = max(10, min(24, layout.tile_height // 10))
    labels = True
    for index, (frame, _plate, _matte, label) in enumerate(tiles):
        x, y = layout.origin(index)
        if labels:
            labels = _draw_label(buf, x + 4, y + layout.tile_height - 4, label, size)
    if labels:
        pixels = buf.get_pixels(oiio.FLOAT).reshape(pixels.shape)
    else:
        for index, (frame, *_rest) in enumerate(tiles):
            if frame in missing:
                x, y = layout.origin(index)
                _cross(pixels[y : y + layout.tile_height, x : x + layout.tile_width])
    return ContactSheet(np.clip(pixels, 0.0, 1.0), layout, picked, missing, labels)


def _layers(shot: Shot, frame: int, matte: np.ndarray | None) -> list[tuple]:
    """render_layers_tile's layers of a frame: the matte in red (one object), or each object's
    layer in its OBJECT_COLOURS colour."""
    if not shot.objects:
        return [(matte, TINT, shot.clicks_at(frame), POSITIVE)]
    return [(None if matte is None else matte[..., i], OBJECT_COLOURS[i % len(OBJECT_COLOURS)],
             obj.clicks_at(frame), OBJECT_COLOURS[i % len(OBJECT_COLOURS)]) for i, obj in enumerate(shot.objects)]


def write_contact_sheet(
    shot: Shot, out: str | os.PathLike, frames: Sequence[int] | None = None,
    count: int = DEFAULT_COUNT, max_tile_width: int = DEFAULT_TILE_WIDTH,
) -> ContactSheet:
    """Make the contact sheet and write it to `out` (8-bit sRGB, format from the extension,
    normally .png), atomically, through the shot's door. The no-overwrite rule: an existing
    `out` is replaced only when it is a contact sheet hyperseg-vfx wrote (its Software
    attribute says so) or with the shot's `overwrite`."""
    import OpenImageIO as oiio

    sheet = contact_sheet(shot, frames, count, max_tile_width)
    buf = oiio.ImageBuf(np.ascontiguousarray(sheet.pixels))
    buf.specmod().attribute("oiio:ColorSpace", "sRGB")
    buf.specmod().attribute("Software", SHEET_SOFTWARE)
    replace = True if shot.overwrite else Replaceable(lambda path: _is_sheet(path, shot.door),
                                                      "a contact sheet hyperseg-vfx wrote")
    with atomic_output(out, replace, door=shot.door, field="preview") as tmp:
        if not buf.write(str(tmp), oiio.UINT8, Path(out).suffix.lstrip(".") or "png"):
            raise PreviewError(f"cannot write contact sheet {out}: {buf.geterror() or oiio.geterror()}")
    return sheet


#: The Software attribute of the contact sheets written here (what the no-overwrite rule recognises).
SHEET_SOFTWARE = "hyperseg-vfx contact sheet"


def _is_sheet(path: str, door) -> bool:
    import OpenImageIO as oiio

    with door.reading(path, "preview") as opened:
        inp = oiio.ImageInput.open(opened.name)
    if inp is None:
        oiio.geterror()
        return False
    try:
        return inp.spec().get_string_attribute("Software") == SHEET_SOFTWARE
    finally:
        inp.close()


def default_preview_path(shot: Shot) -> Path:
    """`<output folder>/<shot name>_preview.png` (shot name: the shot file's stem)."""
    name = Path(shot.path).stem if shot.path else "shot"
    return Path(os.path.dirname(shot.output)) / f"{name}_preview.png"
