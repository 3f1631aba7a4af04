"""Rendering a shot: one matte EXR per frame, the way every front end does it.

    shot = load_shot("sh010.yaml", frames="1001-1050")
    segmenter = render_segmenter(resolve_checkpoint(shot), device="auto")
    report = render_shot(shot, segmenter, skip_existing=True, continue_on_error=True)
    report.written, report.skipped, report.failed   # FrameResult lists

The previous-frame rule: frame t is segmented with X_{t-1} = the input file of frame t-1 when that
file exists, even when t-1 is outside the frames being rendered, else with the frame itself. So
any split of a shot into chunks (farm tasks) gives exactly the mattes of one run, and the
bridge's single-frame `segment_shot_frame` gives exactly the rendered matte.

The render is a pipeline: while the network works on frame t, a reader thread reads and
colour-converts the inputs of the next frame (a plate is read once even when it is both a
current and a previous frame) and a writer thread writes frame t-1's EXR. A frame counts as done
only when its file has been renamed into place (io.exr writes atomically), so a killed render
leaves complete mattes or none, never a partial one under the final name.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .door import ANYWHERE, Door, PathRefused, Replaceable
from .errors import HypersegError
from .shot import Shot

log = logging.getLogger(__name__)

#: Feature-cache budget of the renderer's Segmenter. Rendering uses each frame once as the current
#: frame (only the current frame's features are computed; X_{t-1} enters as context pixels), so a
#: cache would never hit: keep nothing and leave the memory to the network.
RENDER_CACHE_BYTES = 0

#: The model used when neither --checkpoint nor the shot names one (shipped with the package).
DEFAULT_CHECKPOINT = Path(__file__).parent / "models" / "default.pt"


class RenderSetupError(HypersegError):
    """The render cannot start (no model, bad arguments); nothing was rendered."""


# -- set-up ---------------------------------------------------------------------------------------


def resolve_checkpoint(shot: Shot | None, override: str | os.PathLike | None = None) -> Path:
    """The checkpoint to render `shot` with: `override`, else the shot's `checkpoint`, else the
    bundled default model. RenderSetupError when there is none or the file is missing."""
    if override is not None:
        path = Path(override)
        if not ANYWHERE.is_file(path):
            raise RenderSetupError(f"--checkpoint {path}: file not found")
        return path
    if shot is not None and shot.checkpoint is not None:
        path = Path(shot.checkpoint)
        if not shot.door.is_file(path, "checkpoint"):
            raise RenderSetupError(f"checkpoint: file not found: {path} (named by the shot file)")
        return path
    if DEFAULT_CHECKPOINT.is_file():
        return DEFAULT_CHECKPOINT
    raise RenderSetupError(
        "no model to render with: the shot names no checkpoint and no default model is installed "
        f"({DEFAULT_CHECKPOINT}); pass --checkpoint FILE or create one with "
        "`hyperseg-vfx checkpoint init FILE`"
    )


def render_segmenter(checkpoint: str | os.PathLike, device: str = "auto"):
    """A Segmenter for rendering: the checkpoint's model with the renderer's (empty) cache."""
    from .segmenter import Segmenter

    return Segmenter.from_checkpoint(checkpoint, device=device, cache_bytes=RENDER_CACHE_BYTES)


# -- one frame ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plate:
    """An input frame as the model sees it. key: plate_key, the Segmenter's frame_key (a
    rewritten file, another colour space or an edited OCIO config gets a new key)."""

    rgb: np.ndarray
    path: str
    key: tuple
    pixel_aspect: float


def frame_key(path: str | os.PathLike, door: Door = ANYWHERE) -> tuple[str, int, int]:
    """(real path, mtime_ns, size) of a file, opened through `door`: the identity of its pixels
    for the cache (a rewritten file gets a new key)."""
    with door.reading(path, "input") as opened:
        return (opened.real, opened.stat.st_mtime_ns, opened.stat.st_size)


def plate_key(path: str | os.PathLike, colorspace: str | None = None, ocio_config: str | None = None,
              door: Door = ANYWHERE) -> tuple:
    """The identity of a plate's pixels as the model sees them: frame_key and the colour
    conversion (colour space, OCIO config and its file's version), so that the bridge's caches
    never serve a frame converted another way."""
    return (*frame_key(path, door), colorspace, ocio_config, _config_version(ocio_config))


def _config_version(ocio_config: str | None) -> tuple[int, int] | None:
    from .io.images import config_version

    try:
        return config_version(ocio_config)
    except ValueError:
        return None  # read_frame says why, naming the file


def read_plate(path: str | os.PathLike, colorspace: str | None = None, ocio_config: str | None = None,
               door: Door = ANYWHERE) -> Plate:
    """Read and colour-convert one input frame through `door`, from `colorspace` of the OCIO
    config `ocio_config` (None: the active one); ImageReadError naming the file on failure, the
    door's PathRefused for a path it refuses. key: plate_key of what was read."""
    from .io.images import read_frame

    frame = read_frame(path, colorspace, ocio_config, door)
    if frame.nonfinite_pixels:
        log.warning("%s: %d pixels held NaN or Inf; they were replaced by 0", path, frame.nonfinite_pixels)
    key = (*frame.identity, colorspace, ocio_config, _config_version(ocio_config))
    return Plate(frame.rgb, frame.identity[0], key, frame.pixel_aspect)


def previous_input(shot: Shot, frame: int) -> str | None:
    """The file used as X_{t-1} for `frame`: input frame t-1 when it exists (in the rendered
    range or not), None when it does not (the frame is its own previous frame). A pattern
    without a frame token names one file for every frame: None too. Asked through the shot's
    door: a t-1 that leads out of its roots is refused (PathRefused), whether it exists or not."""
    return _adjacent_input(shot, frame, -1)


def _adjacent_input(shot: Shot, frame: int, step: int) -> str | None:
    """Input frame `frame + step` when that file exists and is not frame's own file, else None."""
    path = shot.input_path(frame + step)
    role = "previous" if step < 0 else "next"
    if path == shot.input_path(frame) or not shot.door.is_file(path, role):
        return None
    return path


def smoothing_neighbours(shot: Shot, frame: int) -> list[int]:
    """The frames whose mattes temporal smoothing averages into `frame`'s: t-1 and t+1 when their
    input files exist, in the rendered range or not (as previous_input), so that any chunking of
    a shot gives the mattes of one run."""
    return [frame + step for step in (-1, 1) if _adjacent_input(shot, frame, step) is not None]


def _segment_plates(shot: Shot, segmenter, frame: int, plate: Plate, previous: Plate | None):
    """The matte of `frame` from its plates: the single place where rendering calls the model."""
    return segmenter.segment(
        plate.rgb,
        None if previous is None else previous.rgb,
        shot.clicks_at(frame),
        frame_key=plate.key,
        prev_frame_key=None if previous is None else previous.key,
        scale=shot.options.scale,
        all_candidates=shot.options.candidates,
        precision=shot.options.precision,
        edges=shot_edges(shot),
    )


def shot_edges(shot: Shot) -> str | None:
    """The Segmenter's `edges` argument for a shot's options.edges ("model": the model's own)."""
    return None if shot.options.edges == "model" else shot.options.edges


class CachedPlateReader:
    """read_plate with an LRU of decoded plates keyed by plate_key, bounded in bytes.

    For interactive use (the bridge): every click on a frame needs the same two plates, and
    decoding two 2K EXRs costs more than everything else around the network. A rewritten file (or
    OCIO config) has a new key, so it is read again.
    """

    def __init__(self, max_bytes: int):
        from .cache import ByteLRU

        self.cache = ByteLRU(max_bytes, size_of=lambda plate: plate.rgb.nbytes)

    def __call__(self, path: str | os.PathLike, colorspace: str | None = None, ocio_config: str | None = None,
                 door: Door = ANYWHERE) -> Plate:
        key = plate_key(path, colorspace, ocio_config, door)
        plate = self.cache.get(key)
        if plate is None:
            plate = read_plate(path, colorspace, ocio_config, door)
            self.cache.put(plate.key, plate)
        return plate


def segment_shot_frame(
    shot: Shot, segmenter, frame: int, *, read: Callable[..., Plate] = read_plate, raw_mattes: dict | None = None,
    previous: str | None = None,
):
    """The Matte of one frame of `shot`, exactly as render_shot computes it.

    read: how plates are read, read(path, colorspace, ocio_config, door=) (read_plate, or a CachedPlateReader
    for interactive use); every plate is read through the shot's door.
    previous: the file used as `frame`'s previous frame instead of render's rule (a bridge
    request that names one).
    raw_mattes: frame -> that frame's Matte before temporal smoothing, kept by a caller that
    segments consecutive frames of a smoothed shot (each raw matte then serves three frames).
    With options.temporal_smoothing the raw mattes of the smoothing_neighbours are averaged in
    (hyperseg_vfx.smoothing); timings["smoothing"] says how long that took.
    A shot with `objects:` gives a render_objects.ObjectMattes (name -> Matte) instead.
    """
    if shot.objects:
        from .render_objects import segment_objects_frame

        return segment_objects_frame(shot, segmenter, frame, read=read, raw_mattes=raw_mattes, previous=previous)
    raw_mattes = {} if raw_mattes is None else raw_mattes
    read = functools.partial(read, door=shot.door)
    if shot.options.temporal_smoothing:  # up to four plates, each wanted twice: read each once
        read = functools.lru_cache(maxsize=None)(read)
    raw = _raw_matte(shot, segmenter, frame, read, raw_mattes, previous)
    if not shot.options.temporal_smoothing:
        return raw
    from .segmenter import Matte
    from .smoothing import smooth_candidates

    neighbours = [(_raw_matte(shot, segmenter, u, read, raw_mattes).candidates,
                   read(shot.input_path(u), shot.colorspace, shot.ocio_config).rgb)
                  for u in smoothing_neighbours(shot, frame)]
    start = time.perf_counter()
    plate = read(shot.input_path(frame), shot.colorspace, shot.ocio_config).rgb
    smoothed = smooth_candidates(raw.candidates, plate, neighbours)
    return Matte(smoothed, raw.features_cached, dict(raw.timings, smoothing=time.perf_counter() - start))


def _raw_matte(shot: Shot, segmenter, frame: int, read: Callable[..., Plate], raw_mattes: dict,
               previous: str | None = None):
    """The network's matte of `frame` (no temporal smoothing), from raw_mattes when it is there.
    previous: frame's previous frame file instead of previous_input's."""
    if frame not in raw_mattes:
        plate = read(shot.input_path(frame), shot.colorspace, shot.ocio_config)
        prev_path = previous or previous_input(shot, frame)
        previous = None if prev_path is None else read(prev_path, shot.colorspace, shot.ocio_config)
        raw_mattes[frame] = _segment_plates(shot, segmenter, frame, plate, previous)
    return raw_mattes[frame]


def matte_planes(shot: Shot, matte) -> tuple[np.ndarray, np.ndarray | None]:
    """(alpha, candidates or None) as written for `shot`: `binary` mattes are alpha > 0.5 as
    0/1 (the candidates too), candidates only when options.candidates."""
    candidates = matte.candidates
    if shot.options.matte == "binary":
        candidates = (candidates > 0.5).astype(np.float32)
    return candidates[0], (candidates if shot.options.candidates else None)


def matte_metadata(shot: Shot, frame: int, segmenter, source: str, previous: str | None) -> dict[str, str]:
    """The provenance written into a matte (EXR attributes `hyperseg/<key>`)."""
    from . import __version__
    from .clicks import clicks_hash

    meta = segmenter.metadata
    return {
        "source": os.path.abspath(source),
        "previous": os.path.abspath(previous) if previous else "",
        "frame": str(frame),
        "model": segmenter.model_name,
        "model_version": str(meta.get("version") or meta.get("created") or "unknown"),
        "package_version": __version__,
        "clicks_hash": clicks_hash(shot.clicks_at(frame)),
        "matte": shot.options.matte,
        "scale": f"{shot.options.scale:g}",
        "device": segmenter.device.type,
        "precision": shot.options.precision,
        "edges": shot.options.edges,
    }


def write_shot_matte(
    shot: Shot, frame: int, matte, segmenter, *, pixel_aspect: float | None = None, previous: str | None = None
) -> str:
    """Write `matte` (of `frame`) to the shot's output file, atomically, through the shot's door
    and its no-overwrite rule (output_replaceable), checked again at this write. Returns the path.

    pixel_aspect: the source plate's (read from its header when None). previous: the previous
    frame file the matte was made with, when not render's rule's (for the metadata).
    A shot with `objects:` writes its layered EXR and the objects' own files
    (render_objects.write_objects_matte).
    """
    if shot.objects:
        from .render_objects import write_objects_matte

        return write_objects_matte(shot, frame, matte, segmenter, pixel_aspect=pixel_aspect, previous=previous)
    from .io.exr import write_matte_exr
    from .io.images import read_header

    source = shot.input_path(frame)
    if pixel_aspect is None:
        pixel_aspect = read_header(source, shot.door)[2]
    alpha, candidates = matte_planes(shot, matte)
    path = shot.output_path(frame)
    write_matte_exr(
        path, alpha, candidates=candidates, pixel_aspect=pixel_aspect,
        metadata=matte_metadata(shot, frame, segmenter, source, previous or previous_input(shot, frame)),
        door=shot.door, replace=output_replaceable(shot),
    )
    return path


def output_is_complete(path: str | os.PathLike, door: Door = ANYWHERE) -> bool:
    """Whether a rendered matte exists at `path` and its pixels read back (what --skip-existing
    keeps): a file whose header reads but whose pixel data is cut short is rendered again.

    Temporary files of an interrupted write have other names (door.TEMP_PREFIX) and are never
    taken for outputs. A path the door refuses (out of its roots) raises PathRefused.
    """
    from .io.images import ImageReadError, read_matte

    try:
        read_matte(path, door)
    except PathRefused as exc:
        if exc.outside:
            raise
        return False
    except (ImageReadError, OSError):
        return False
    return True


class PrecisionMismatchError(RenderSetupError):
    """A matte this render continues from (the previous frame's, or one --skip-existing keeps)
    was computed at another precision than the shot's: the shot's mattes would mix two
    arithmetics. Nothing was rendered."""

    field = "options.precision"


def check_matte_precision(shot: Shot, todo: list[int], kept: set[int] | frozenset[int] = frozenset()) -> None:
    """PrecisionMismatchError when the matte of a frame just before a rendered frame (t - 1, not
    rendered now: the chunk edge) or a kept matte (`kept`) records another precision than
    `shot.options.precision`. Mattes without a recorded precision (written before hyperseg-vfx
    recorded it) are not judged."""
    from .io.exr import read_matte_metadata

    rendered = {shot.output_path(f) for f in todo}
    for frame in sorted({f - 1 for f in todo} | set(kept)):
        path = shot.output_path(frame)
        if path in rendered or not os.path.isfile(path):
            continue
        metadata = read_matte_metadata(path, shot.door) or {}
        made, device = metadata.get("precision"), metadata.get("device", "an unknown device")
        if made and made != shot.options.precision:
            raise PrecisionMismatchError(
                f"options.precision: {path} (frame {frame}) was rendered at {made} on {device}, this shot renders "
                f"at {shot.options.precision}; one shot's mattes share one precision: remove the shot's {made} mattes "
                f"and render them again, or set `options.precision: {made}` in the shot"
            )


def is_hyperseg_matte(path: str | os.PathLike, door: Door = ANYWHERE) -> bool:
    """Whether `path` is an image whose `hyperseg/*` metadata says hyperseg-vfx wrote it."""
    from .io.exr import read_matte_metadata

    metadata = read_matte_metadata(path, door)
    return bool(metadata) and "model" in metadata and "source" in metadata


def output_replaceable(shot: Shot) -> bool | Replaceable:
    """The no-overwrite rule of `shot`'s outputs, for its door: anything with the shot's
    `overwrite`, else only a matte hyperseg-vfx wrote."""
    return True if shot.overwrite else Replaceable(functools.partial(is_hyperseg_matte, door=shot.door),
                                                   "a matte hyperseg-vfx wrote")


#: Longest path component the usual file systems take (ext4, XFS, APFS, NTFS: 255 bytes/characters).
MAX_NAME_BYTES = 255


def check_outputs(shot: Shot, frames: list[int] | None = None, *, overwrite: bool = False) -> None:
    """Check, before any frame is computed, that every output of `frames` (default the shot's)
    can be written through the shot's door and replaces nothing of the user's: the door's
    OutputExistsError naming the first file that exists and is not a matte hyperseg-vfx wrote
    (unless `overwrite` or the shot's `overwrite`), its PathRefused for a folder in the way, a
    FIFO or other non-regular file, a parent that is a file, a name too long, or an output folder
    that refuses a test file (read-only, full). Each folder is probed once."""
    replace = True if overwrite else output_replaceable(shot)
    probed: set[str] = set()
    for path in [p for frame in (shot.frames if frames is None else frames) for p in shot.output_paths(frame)]:
        if any(len(os.fsencode(part)) > MAX_NAME_BYTES for part in Path(path).parts):
            raise PathRefused(_clip(path), f": a path component is longer than {MAX_NAME_BYTES} bytes", "output")
        folder = os.path.dirname(path)
        shot.door.check_output(path, "output", replace=replace, probe=folder not in probed)
        probed.add(folder)


#: Longest path component the usual file systems take (ext4, XFS, APFS, NTFS: 255 bytes/characters).
MAX_NAME_BYTES = 255


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def remove_stale_temporaries(shot: Shot, frames: list[int]) -> list[str]:
    """Remove what killed writes of these outputs left behind: the door's temporary files
    (door.TEMP_PREFIX, a writer token and the digest of an output name of `frames`), regular
    files only, in the output folders. Nothing else is touched. Returns them."""
    wanted: dict[str, set[str]] = {}
    for path in [p for frame in frames for p in shot.output_paths(frame)]:
        wanted.setdefault(os.path.dirname(path), set()).add(os.path.basename(path))
    removed = []
    for folder, names in wanted.items():
        removed += shot.door.remove_stale_temporaries(folder, names)
    return removed


# -- the shot -------------------------------------------------------------------------------------

WRITTEN, SKIPPED, FAILED = "written", "skipped", "failed"


@dataclass
class FrameResult:
    """What happened to one frame. status: written | skipped | failed. seconds: wall time of its
    work (waiting for its inputs, segmenting, writing); timings: those parts and the model's
    stages. error: the message of a failed frame; detail: its traceback when the error was not
    a user error (a bug or a device failure)."""

    frame: int
    status: str
    path: str
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    detail: str | None = None


@dataclass
class RenderReport:
    """The outcome of render_shot. frames: the frames asked for; results: one per frame that
    was written, skipped or failed, in the order they finished; cancelled: stopped by `cancel`;
    stopped: stopped at the first failure (continue_on_error False)."""

    frames: list[int]
    results: list[FrameResult] = field(default_factory=list)
    cancelled: bool = False
    stopped: bool = False
    seconds: float = 0.0

    def _with(self, status: str) -> list[FrameResult]:
        return [r for r in self.results if r.status == status]

    @property
    def written(self) -> list[FrameResult]:
        return self._with(WRITTEN)

    @property
    def skipped(self) -> list[FrameResult]:
        return self._with(SKIPPED)

    @property
    def failed(self) -> list[FrameResult]:
        return self._with(FAILED)

    @property
    def not_done(self) -> list[int]:
        """Frames neither written, skipped nor failed (after a cancel or a stop)."""
        seen = {r.frame for r in self.results}
        return [f for f in self.frames if f not in seen]

    @property
    def ok(self) -> bool:
        """Every frame has its matte (written now or kept)."""
        return not self.failed and not self.not_done


ProgressCallback = Callable[[FrameResult, int, int], None]


def _describe(exc: BaseException) -> tuple[str, str | None]:
    """(message, traceback or None): user errors carry their own message."""
    if isinstance(exc, HypersegError):
        return str(exc), None
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""), None
    return f"{type(exc).__name__}: {exc}", "".join(traceback.format_exception(exc))


class _Failure(Exception):
    """A frame's failure inside the pipeline, with the stage it happened in."""

    def __init__(self, message: str, detail: str | None):
        super().__init__(message)
        self.message, self.detail = message, detail


def _timed_write(shot: Shot, frame: int, matte, segmenter, pixel_aspect: float) -> float:
    """write_shot_matte, returning the seconds it took (runs in the writer thread)."""
    start = time.perf_counter()
    write_shot_matte(shot, frame, matte, segmenter, pixel_aspect=pixel_aspect)
    return time.perf_counter() - start


def render_shot(
    shot: Shot,
    segmenter,
    *,
    skip_existing: bool = False,
    continue_on_error: bool = False,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> RenderReport:
    """Render every frame of `shot` (its `frames`, already validated) to its output files.

    skip_existing: keep outputs that exist and whose pixels read; render the others. Before the
    first frame, check_outputs refuses outputs that are not this tool's mattes (unless the
    shot's `overwrite`) and unwritable folders, raising the door's OutputExistsError /
    PathRefused; PrecisionError when this device cannot compute the shot's precision,
    EdgeMethodError when the model cannot decide edges as the shot asks (options.edges learned on a
    model without a band refiner); PrecisionMismatchError when the previous frame's matte or a kept one has another precision
    (check_matte_precision); stale temporary files of the outputs are removed. Every plate is read and every
    matte written through the shot's door, each frame checked again where its files are opened;
    outputs are replaced atomically. continue_on_error: a failed frame (unreadable
    plate, write error, ...) is reported and the render goes on; otherwise the render stops after
    the first failure. A failed frame leaves no file. progress(result, done, total) is called in
    the calling thread as each frame finishes. cancel: when set, the render stops after the
    frame in flight (its matte is written) and the report says `cancelled`.
    """
    start = time.perf_counter()
    report = RenderReport(list(shot.frames))
    total = len(report.frames)

    def finish(result: FrameResult) -> None:
        report.results.append(result)
        if progress is not None:
            progress(result, len(report.results), total)

    from .devices import check_precision

    check_precision(segmenter.device, shot.options.precision)
    segmenter.edge_config(shot_edges(shot))
    kept = {f for f in report.frames if skip_existing
            and all(output_is_complete(p, shot.door) for p in shot.output_paths(f))}
    todo = [f for f in report.frames if f not in kept]
    check_outputs(shot, todo)
    check_matte_precision(shot, todo, kept)
    for path in remove_stale_temporaries(shot, todo):
        log.info("removed %s, left by an interrupted write", path)
    for frame in sorted(kept):
        finish(FrameResult(frame, SKIPPED, shot.output_path(frame)))

    def inputs(frame: int) -> list[str]:
        """The plates frame t needs: t, its previous frame, and with temporal smoothing t + 1
        (t - 1's raw matte is kept from the frame before; at a chunk's start it is read then)."""
        adjacent = [previous_input(shot, frame)]
        if shot.options.temporal_smoothing:
            adjacent.append(_adjacent_input(shot, frame, 1))
        return [shot.input_path(frame)] + [path for path in adjacent if path]

    loads: dict[str, Future] = {}
    raw_mattes: dict = {}  # frame -> raw Matte, for temporal smoothing's neighbours
    with ThreadPoolExecutor(2, thread_name_prefix="hyperseg-read") as reader, \
            ThreadPoolExecutor(1, thread_name_prefix="hyperseg-write") as writer:

        def prefetch(frame: int) -> None:
            for path in inputs(frame):
                if path not in loads:
                    loads[path] = reader.submit(read_plate, path, shot.colorspace, shot.ocio_config, shot.door)

        def load(path: str, what: str) -> Plate:
            if path not in loads:  # a plate no prefetch asked for (a chunk's first neighbours)
                loads[path] = reader.submit(read_plate, path, shot.colorspace, shot.ocio_config, shot.door)
            try:
                return loads[path].result()
            except Exception as exc:  # noqa: BLE001 - a frame's failure, reported with it
                message, detail = _describe(exc)
                raise _Failure(f"{what}: {message}" if what else message, detail) from None

        def reader_for(frame: int) -> Callable[..., Plate]:
            """read() for segment_shot_frame of `frame`: prefetched plates, failures named by
            their role (`previous frame 1002: ...`)."""
            roles = {shot.input_path(frame + step): f"{'previous' if step < 0 else 'next'} frame {frame + step}"
                     for step in (-2, -1, 1)}
            roles[shot.input_path(frame)] = ""
            return lambda path, colorspace=None, ocio_config=None, door=None: load(path, roles.get(path, path))

        pending: tuple[FrameResult, Future] | None = None  # the write in flight

        def collect() -> bool:
            """Wait for the write in flight; report it. False when it failed."""
            nonlocal pending
            if pending is None:
                return True
            result, future = pending
            pending = None
            try:
                result.timings["write"] = future.result()
            except Exception as exc:  # noqa: BLE001
                result.status, (result.error, result.detail) = FAILED, _describe(exc)
            result.seconds = sum(result.timings.get(k, 0.0) for k in ("read", "segment", "write"))
            finish(result)
            return result.status != FAILED

        for index, frame in enumerate(todo):
            if cancel is not None and cancel.is_set():
                report.cancelled = True
                break
            prefetch(frame)
            if index + 1 < len(todo):
                prefetch(todo[index + 1])
            result = FrameResult(frame, WRITTEN, shot.output_path(frame))
            t0 = time.perf_counter()
            try:
                plate = load(shot.input_path(frame), "")
                wait([loads[path] for path in inputs(frame)])  # reading time; a failure is reported where used
                t1 = time.perf_counter()
                try:
                    matte = segment_shot_frame(shot, segmenter, frame, read=reader_for(frame), raw_mattes=raw_mattes)
                except _Failure:
                    raise
                except Exception as exc:  # noqa: BLE001
                    raise _Failure(*_describe(exc)) from None
                result.timings.update(read=t1 - t0, segment=time.perf_counter() - t1)
                result.timings.update({f"model_{k}": v for k, v in matte.timings.items()})
            except _Failure as failure:
                result.status, result.error, result.detail = FAILED, failure.message, failure.detail
                result.seconds = time.perf_counter() - t0
            # The previous frame's write ran alongside this frame's network: report it first.
            if not collect() and not continue_on_error:
                report.stopped = True
                break
            if result.status == FAILED:
                finish(result)
                if not continue_on_error:
                    report.stopped = True
                    break
            else:
                pending = (result, writer.submit(_timed_write, shot, frame, matte, segmenter, plate.pixel_aspect))
            keep = set(inputs(todo[index + 1])) if index + 1 < len(todo) else set()
            for path in [p for p in loads if p not in keep]:
                del loads[path]
            for done in [f for f in raw_mattes if f < frame]:  # the next frame needs t and later
                del raw_mattes[done]
        if not collect() and not continue_on_error:
            report.stopped = True
        for future in loads.values():
            future.cancel()
    report.seconds = time.perf_counter() - start
    return report
