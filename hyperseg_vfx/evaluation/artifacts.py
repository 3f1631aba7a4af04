"""Image outputs of `evaluate`: final masks and overlays, written as each row is done.

    DIR/masks/<method>/<clip>/<frame>.png       final prediction, 8-bit grey 0/255 (--save-masks)
    DIR/overlays/<method>/<clip>_<frame>.png    the first few samples of each method: the plate
                                                with the truth (left) and the final prediction
                                                with its clicks (right), dimmed outside the
                                                mask, its contour in yellow

A clip holding several objects (DAVIS) gets the object id in the name: <frame>_<object_id>.png
and <clip>_<frame>_<object_id>.png. Every file is written atomically.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable

import numpy as np

from ..atomic import atomic_output
from ..errors import HypersegError
from .harness import EvalSample, SampleResult, Trial
from .metrics import inner_boundary

GAP = 4  # px of black between the two panels of an overlay
DIM = 0.35  # brightness of the plate outside a mask
CONTOUR = (1.0, 0.85, 0.0)


class ArtifactWriteError(HypersegError, OSError):
    """A mask or overlay could not be written; the message names the file."""


def write_png(path: str | Path, pixels: np.ndarray) -> None:
    """Write (H, W) or (H, W, C) pixels as an 8-bit PNG, atomically: uint8 as is, float
    ([0, 1], display-referred) quantised and tagged sRGB."""
    import OpenImageIO as oiio

    buf = oiio.ImageBuf(np.ascontiguousarray(pixels))
    if pixels.dtype != np.uint8:
        buf.specmod().attribute("oiio:ColorSpace", "sRGB")
    with atomic_output(path) as tmp:
        if not buf.write(str(tmp), oiio.UINT8, "png"):
            raise ArtifactWriteError(f"cannot write {path}: {buf.geterror() or oiio.geterror()}")


def highlight(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32: `rgb` dimmed outside `mask`, the mask's 1-px inner contour in yellow
    (readable whatever the object's colour)."""
    out = np.where(mask[..., None], rgb, rgb * DIM).astype(np.float32)
    out[inner_boundary(mask, 1)] = CONTOUR
    return out


def overlay(sample: EvalSample, trial: Trial) -> np.ndarray:
    """(H, 2W + GAP, 3) float32: truth | final prediction with the clicks as dots (green
    positive, red negative; drawn by preview.render_tile)."""
    from ..preview import render_tile

    height, width = sample.mask.shape
    predicted = render_tile(highlight(sample.rgb, trial.prediction), None, trial.clicks, width, height)
    return np.concatenate([highlight(sample.rgb, sample.mask), np.zeros((height, GAP, 3), np.float32), predicted],
                          axis=1)


class ArtifactWriter:
    """harness.evaluate's on_result callback that writes masks and overlays under `folder`.

    samples: every sample of the run (to know which clips hold several objects).
    save_masks: write masks/; overlays_per_method: how many samples (the first ones) of each
    method get an overlay.
    """

    def __init__(self, folder: str | Path, samples: Iterable, save_masks: bool, overlays_per_method: int = 3):
        self.folder = Path(folder)
        self.save_masks = save_masks
        self.overlays_per_method = overlays_per_method
        self._objects = defaultdict(set)
        for sample in samples:
            self._objects[sample.clip].add(sample.object_id)
        self._overlays = Counter()

    def stem(self, result: SampleResult) -> str:
        """<frame>, or <frame>_<object_id> in a clip with several objects."""
        several = len(self._objects[result.clip]) > 1
        return f"{result.frame}_{result.object_id}" if several else f"{result.frame}"

    def __call__(self, result: SampleResult, sample: EvalSample, trial: Trial) -> None:
        if self.save_masks:
            write_png(self.folder / "masks" / result.method / result.clip / f"{self.stem(result)}.png",
                      trial.prediction.astype(np.uint8) * 255)
        if self._overlays[result.method] < self.overlays_per_method:
            self._overlays[result.method] += 1
            write_png(self.folder / "overlays" / result.method / f"{result.clip}_{self.stem(result)}.png",
                      overlay(sample, trial))
