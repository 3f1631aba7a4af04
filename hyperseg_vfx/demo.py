"""The demo shot: generated plates, a shot file with keyframed clicks, and its output folder.

`write_synthetic_shot` writes a plate sequence of the synthetic clip (hyperseg_vfx.synthetic) as
linear half-float EXRs, like a real plate, and a shot file whose positive click follows the
object's centre (keys on the first and last frame: the object moves on a straight line at
constant speed, so linear interpolation follows it exactly) plus, optionally, a negative click
in a background corner. The `demo` command and the tests use it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import yaml

from .atomic import atomic_output
from .errors import HypersegError
from .sequences import format_frame_spec
from .synthetic import synthetic_frame

#: Written into a demo folder; its presence means the folder may be overwritten by `demo`.
DEMO_MARKER = ".hyperseg-demo"

#: The folders and files `demo` writes inside its output folder (and removes on a re-run).
DEMO_CONTENTS = ("clip", "plates", "mattes", "demo.yaml")

UNTRAINED_WARNING = (
    "UNTRAINED model: the matte is not meaningful yet; a trained demo model arrives with the training issue"
)


DEMO_MODEL_NOTICE = (
    "a synthetic-data demonstration model (small network, random VGG-19 backbone, about three hours of CPU "
    "training): expect rough mattes; it is not the paper's model and not for production"
)


class DemoError(HypersegError):
    """The demo cannot write where it was asked to."""


def write_synthetic_plate(path: str | os.PathLike, width: int, height: int, seed: int, index: int) -> None:
    """Frame `index` of synthetic clip `seed` as a linear half-float EXR (atomically).

    The generator draws display-referred sRGB; the plate stores it converted to linear, so
    read_frame (which reads float EXRs as linear) gives the generated picture back.
    """
    import OpenImageIO as oiio

    from .io.images import resolve_colorspace

    rgb = synthetic_frame(width, height, seed, index).rgb
    linear = oiio.ImageBufAlgo.colorconvert(
        oiio.ImageBuf(np.ascontiguousarray(rgb)), resolve_colorspace("sRGB"), resolve_colorspace("linear")
    )
    if linear.has_error:
        raise DemoError(f"cannot convert plate {path} to linear: {linear.geterror()}")
    spec = oiio.ImageSpec(width, height, 3, oiio.HALF)
    spec.attribute("compression", "zip")
    with atomic_output(path) as tmp:
        out = oiio.ImageOutput.create("openexr")
        try:
            ok = out.open(str(tmp), spec) and out.write_image(linear.get_pixels(oiio.FLOAT))
        finally:
            closed = out.close()
        if not (ok and closed):
            raise DemoError(f"cannot write plate {path}: {out.geterror()}")


def _background_corner(width: int, height: int, seed: int, indices: Iterable[int]) -> tuple[float, float]:
    """A point near a corner of the frame that is background (alpha 0) in every given frame."""
    alphas = [synthetic_frame(width, height, seed, i).alpha for i in indices]
    margin_x, margin_y = max(1.0, 0.05 * width), max(1.0, 0.05 * height)
    for x, y in ((margin_x, margin_y), (width - margin_x, margin_y), (margin_x, height - margin_y),
                 (width - margin_x, height - margin_y)):
        row, col = min(int(y), height - 1), min(int(x), width - 1)
        if all(alpha[row, col] == 0 for alpha in alphas):
            return (round(x, 2), round(y, 2))
    raise DemoError(f"no background corner in the synthetic clip {seed} at {width}x{height}")


def write_synthetic_shot(
    folder: str | os.PathLike,
    *,
    name: str = "demo",
    frames: Iterable[int] = range(1001, 1009),
    size: tuple[int, int] = (640, 360),
    seed: int = 7,
    negative_click: bool = True,
    options: dict[str, Any] | None = None,
    checkpoint: str | os.PathLike | None = None,
    origin: int | None = None,
) -> Path:
    """Write plates `folder/plates/<name>.####.exr` for `frames` and the shot file
    `folder/<name>.yaml` (output `mattes/<name>_matte.####.exr`). Returns the shot file's path.

    Frame f of the shot is frame `f - origin` (origin: default the first frame, at most it) of
    synthetic clip `seed`; write_synthetic_plate adds plates around the shot. options: the
    shot's `options` mapping.
    """
    folder = Path(folder)
    frames = sorted(set(frames))
    if not frames:
        raise DemoError("a synthetic shot needs at least one frame")
    width, height = size
    first, last = frames[0], frames[-1]
    origin = first if origin is None else origin
    if origin > first:
        raise DemoError(f"origin {origin} is after the first frame {first}")
    for frame in frames:
        write_synthetic_plate(folder / "plates" / f"{name}.{frame:04d}.exr", width, height, seed, frame - origin)
    centres = {f: synthetic_frame(width, height, seed, f - origin).center for f in {first, last}}
    clicks: list[dict[str, Any]] = [
        {"label": "positive", "keys": {f: [round(x, 3), round(y, 3)] for f, (x, y) in sorted(centres.items())},
         "interpolation": "linear"}
    ]
    if negative_click:
        corner = _background_corner(width, height, seed, (first - origin, last - origin))
        clicks.append({"label": "negative", "keys": {first: list(corner)}, "interpolation": "constant"})
    data: dict[str, Any] = {
        "input": f"plates/{name}.####.exr",
        "frames": format_frame_spec(frames),
        "output": f"mattes/{name}_matte.####.exr",
        "clicks": clicks,
    }
    if checkpoint is not None:
        data["checkpoint"] = os.path.abspath(checkpoint)
    if options:
        data["options"] = dict(options)
    shot_path = folder / f"{name}.yaml"
    with atomic_output(shot_path) as tmp:
        tmp.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=None))
    return shot_path


def write_demo_shot(
    folder: str | os.PathLike, segmenter, *, frames: int = 8, size: tuple[int, int] = (192, 144),
    seed: int = 2024, clicks_per_frame: int = 6,
) -> Path:
    """The demo shot: a photographic synthetic clip (`hyperseg-vfx synth`, what the demo model was
    trained on) with clicks placed the way an artist places them, where the matte is wrong.

    On each frame the evaluation's next-click robot (fixed protocol) adds up to
    `clicks_per_frame` clicks, each at the deepest point of the largest error of `segmenter`'s
    matte so far. The i-th positive (negative) click of every frame forms one click track, keyed
    on every frame and limited to the frames that have it. Writes `folder/clip/...` (plates and
    true mattes, frames from 1001) and `folder/demo.yaml`; returns the shot file's path.
    """
    from .data.datasets import open_dataset
    from .data.synth import generate_clips
    from .evaluation.robot import FIXED, Clicker

    folder = Path(folder)
    width, height = size
    (clip,) = generate_clips(folder / "clip", 1, frames, width, height, seed)
    tracks: dict[tuple[bool, int], dict[int, list[float]]] = {}
    for sample in open_dataset(f"clips:{folder / 'clip'}"):
        loaded = sample.load()
        robot, prediction = Clicker(loaded.mask, None, FIXED), np.zeros_like(loaded.mask)
        while len(robot.clicks) < clicks_per_frame and (click := robot.click(prediction)) is not None:
            matte = segmenter.segment(loaded.rgb, loaded.prev_rgb, robot.clicks, frame_key=sample.key)
            prediction = matte.alpha > 0.5
            index = sum(c.positive == click.positive for c in robot.clicks) - 1
            tracks.setdefault((click.positive, index), {})[sample.frame] = [round(click.x, 3), round(click.y, 3)]
    clicks = [
        {"label": "positive" if positive else "negative", "keys": keys, "interpolation": "constant",
         "frames": format_frame_spec(keys)}
        for (positive, _index), keys in sorted(tracks.items(), key=lambda item: (not item[0][0], item[0][1]))
    ]
    data = {
        "input": f"clip/{clip.name}/rgb/{clip.name}.####.png",
        "frames": f"1001-{1000 + frames}",
        "output": "mattes/demo_matte.####.exr",
        "clicks": clicks,
    }
    shot_path = folder / "demo.yaml"
    with atomic_output(shot_path) as tmp:
        tmp.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=None))
    return shot_path


def prepare_demo_folder(folder: str | os.PathLike, force: bool = False) -> Path:
    """Make `folder` ready for the demo: create it, or clear a previous demo's output in it.

    A non-empty folder without the demo marker is refused (DemoError) unless `force`; with
    `force` nothing in it is deleted, the demo's files are only written over.
    """
    folder = Path(folder).absolute()
    if folder.exists() and not folder.is_dir():
        raise DemoError(f"{folder} exists and is not a folder")
    marker = folder / DEMO_MARKER
    if folder.is_dir() and any(folder.iterdir()):
        if marker.is_file():
            for entry in DEMO_CONTENTS:
                path = folder / entry
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
        elif not force:
            raise DemoError(
                f"{folder} is not empty and is not a previous demo output (no {DEMO_MARKER} file); "
                "choose another --out or pass --force to write the demo files into it"
            )
    folder.mkdir(parents=True, exist_ok=True)
    marker.write_text("Written by `hyperseg-vfx demo`; `demo` may overwrite this folder.\n")
    return folder


def untrained_demo_model():
    """The paper's architecture, untrained: seeded random network and backbone (random:0),
    Tucker factors fitted on one generated plate. What the demo runs without a default model."""
    from .config import ModelConfig
    from .modeling.factory import build_untrained

    config = ModelConfig()
    config.backbone.weights = "random:0"
    return build_untrained(config, seed=0, tucker_frames=1)
