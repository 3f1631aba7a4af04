"""Datasets as ordered lists of samples: one frame of one object, with its previous frame.

Two layouts, named by a spec string:

clips:ROOT
    ROOT/<clip>/rgb/<name>.<frame>.<ext> and ROOT/<clip>/alpha/<name>.<frame>.<ext> with the same
    frame numbers. The matte is a one-channel image or the A channel of an image (EXR); the truth
    mask is matte > 0.5. Plates in any format io.images.read_frame reads. One sample per frame.
    A clip of several objects has one folder per object in alpha/ instead (alpha/<object>/, as
    `synth --objects` writes them): one sample per object per frame, the other objects' mattes
    > 0.5 its `others` (the negatives DOS strategy 2 draws: an object's positives are another's
    negatives).
davis:ROOT[:SPLIT][:480p|Full-Resolution]
    DAVIS 2017: ROOT/JPEGImages/<res>/<seq>/<frame>.jpg and ROOT/Annotations/<res>/<seq>/<frame>.png
    (palette PNG: pixel value = object id, 0 background, 255 void). SPLIT names
    ROOT/ImageSets/2017/<SPLIT>.txt; without it every annotated sequence is used. Default
    resolution 480p. One sample per object present in a frame; void pixels are reported apart.

Samples are ordered by clip name, then frame, then object id, so a spec always gives the same list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import HypersegError

DAVIS_RESOLUTIONS = ("480p", "Full-Resolution")
DAVIS_VOID = 255

_NUMBERED = re.compile(r"^(?P<name>.+)\.(?P<frame>-?\d+)\.(?P<ext>[^.]+)$")


class DatasetError(HypersegError, ValueError):
    """A dataset spec or folder cannot be used; the message names the spec or the path."""


@dataclass(frozen=True)
class LoadedSample:
    """The pixels of one sample.

    rgb, prev_rgb: (H, W, 3) float32 display-referred sRGB in [0, 1] (prev_rgb is rgb itself on
    a clip's first frame); mask: (H, W) bool truth; void: (H, W) bool pixels to ignore, or None;
    others: (H, W) bool pixels of the frame's other labelled objects (DAVIS), or None; alpha:
    (H, W) float32 soft truth in [0, 1] (clips: the matte file, motion blur and soft edges
    included), None where the data has none (DAVIS).
    """

    rgb: np.ndarray
    prev_rgb: np.ndarray
    mask: np.ndarray
    void: np.ndarray | None
    others: np.ndarray | None = None
    alpha: np.ndarray | None = None


@dataclass(frozen=True)
class Sample:
    """One frame of one object.

    object_id: None for a clip (the truth is matte > 0.5), the DAVIS object id otherwise, the
    object's folder name for a clip of several objects.
    key: '<clip>/<frame>' or '<clip>/<frame>/<object_id>', unique within a dataset.
    mask_path: the matte (clips) or the palette annotation (DAVIS).
    other_mask_paths: the frame's other objects' mattes (a clip of several objects).
    """

    clip: str
    frame: int
    rgb_path: str
    prev_rgb_path: str | None
    object_id: int | str | None
    key: str
    mask_path: str
    other_mask_paths: tuple[str, ...] = ()

    def load(self, size: tuple[int, int] | None = None, same_aspect: bool = False) -> LoadedSample:
        """Read the frame, its previous frame and the truth; DatasetError if their sizes differ.

        size: (height, width) to resample everything to (modeling.resize): plates bilinear, the
        truth from the soft matte (clips) or the object's mask (DAVIS) resized bilinearly and
        thresholded at 0.5, so an upsampled truth has smooth edges; void and other objects nearest.
        same_aspect: DatasetError when `size` has another aspect ratio than the plate (by more than
        1%): resampling would stretch the scene (`evaluate --size`).
        """
        from ..io.images import read_frame, read_matte

        rgb = read_frame(self.rgb_path).rgb
        prev_rgb = read_frame(self.prev_rgb_path).rgb if self.prev_rgb_path else rgb
        if self.object_id is None or isinstance(self.object_id, str):
            matte, void, others = read_matte(self.mask_path), None, None
            if self.other_mask_paths:
                others = np.logical_or.reduce([read_matte(p) > 0.5 for p in self.other_mask_paths])
        else:
            labels = read_palette_indices(self.mask_path)
            matte, void = (labels == self.object_id).astype(np.float32), labels == DAVIS_VOID
            others = (labels != self.object_id) & ~void & (labels != 0)
        for name, array in (("previous frame", prev_rgb), ("truth", matte)):
            if array.shape[:2] != rgb.shape[:2]:
                raise DatasetError(
                    f"{self.key}: {name} is {array.shape[1]}x{array.shape[0]}, the frame "
                    f"{self.rgb_path} is {rgb.shape[1]}x{rgb.shape[0]}"
                )
        height, width = rgb.shape[:2]
        if same_aspect and size is not None and abs((width / height) / (size[1] / size[0]) - 1) > 0.01:
            raise DatasetError(f"{self.rgb_path}: a {width}x{height} plate cannot be resampled to {size[1]}x{size[0]} "
                               f"without stretching it (aspect {width / height:.3f} against {size[1] / size[0]:.3f}); "
                               "generate clips at that aspect (synth --size)")
        if size is not None and size != rgb.shape[:2]:
            from ..modeling.resize import resize_array, resize_mask

            same = prev_rgb is rgb
            rgb, matte = resize_array(rgb, size), resize_array(matte, size)
            prev_rgb = rgb if same else resize_array(prev_rgb, size)
            void, others = (None if m is None else resize_mask(m, size) for m in (void, others))
        alpha = np.asarray(matte, dtype=np.float32) if self.object_id is None else None
        return LoadedSample(rgb, prev_rgb, matte > 0.5, void, others, alpha)


@dataclass(frozen=True)
class ResampledSample:
    """A sample read at another size (`evaluate --size`): same clip, frame and object, key
    '<key>@<W>x<H>' (another size, other pixels)."""

    sample: Sample
    height: int
    width: int

    clip = property(lambda self: self.sample.clip)
    frame = property(lambda self: self.sample.frame)
    object_id = property(lambda self: self.sample.object_id)
    rgb_path = property(lambda self: self.sample.rgb_path)

    @property
    def key(self) -> str:
        return f"{self.sample.key}@{self.width}x{self.height}"

    def load(self) -> LoadedSample:
        """The sample at height x width; DatasetError when its plate's aspect ratio differs by
        more than 1% (resampling would stretch the scene: generate clips at that aspect)."""
        return self.sample.load((self.height, self.width), same_aspect=True)


def resampled(samples: list[Sample], width: int, height: int) -> list[ResampledSample]:
    """`samples` read at width x height."""
    return [ResampledSample(sample, height, width) for sample in samples]


def read_palette_indices(path: str | Path) -> np.ndarray:
    """The palette indices of an indexed PNG (DAVIS annotation), (H, W) uint8."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            if image.mode not in ("P", "L"):
                raise DatasetError(f"{path}: expected an indexed (palette) annotation, got mode {image.mode}")
            return np.asarray(image, dtype=np.uint8)
    except OSError as exc:
        raise DatasetError(f"cannot read annotation {path}: {exc}") from None


def open_dataset(spec: str) -> list[Sample]:
    """The samples of `spec` (see the module docstring), ordered by clip, frame, object."""
    kind, _, rest = spec.partition(":")
    if kind == "clips" and rest:
        samples = _clips(Path(rest), spec)
    elif kind == "davis" and rest:
        samples = _davis(spec, *rest.split(":"))
    else:
        raise DatasetError(f"bad dataset spec {spec!r}: expected clips:ROOT or davis:ROOT[:split][:480p|Full-Resolution]")
    if not samples:
        raise DatasetError(f"dataset {spec!r} has no samples")
    return samples


def _numbered_files(folder: Path) -> dict[int, Path]:
    """Frame number -> file for the `<name>.<frame>.<ext>` files of `folder` (hidden files skipped)."""
    files: dict[int, Path] = {}
    for path in folder.iterdir():
        match = _NUMBERED.match(path.name)
        if match and not path.name.startswith(".") and path.is_file():
            frame = int(match["frame"])
            if frame in files:
                raise DatasetError(f"{folder}: two files for frame {frame}: {files[frame].name}, {path.name}")
            files[frame] = path
    return files


def _clips(root: Path, spec: str) -> list[Sample]:
    if not root.is_dir():
        raise DatasetError(f"dataset {spec!r}: {root} is not a folder")
    samples = []
    for clip_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        rgb_dir, alpha_dir = clip_dir / "rgb", clip_dir / "alpha"
        if not rgb_dir.is_dir() or not alpha_dir.is_dir():
            raise DatasetError(f"dataset {spec!r}: clip folder {clip_dir} needs rgb/ and alpha/ folders")
        plates = _numbered_files(rgb_dir)
        objects = {p.name: _numbered_files(p) for p in sorted(alpha_dir.iterdir())
                   if p.is_dir() and not p.name.startswith(".")}
        if not objects:
            objects = {None: _numbered_files(alpha_dir)}
        for name, mattes in objects.items():
            unmatched = sorted(set(plates) ^ set(mattes))
            if unmatched:
                what = "a matte" if name is None else f"a matte of object {name}"
                raise DatasetError(
                    f"dataset {spec!r}: clip {clip_dir.name}: frames {unmatched[:5]} have a plate or {what} but not both"
                )
        for frame in sorted(plates):
            previous = plates.get(frame - 1)
            for name, mattes in objects.items():
                samples.append(Sample(
                    clip=clip_dir.name, frame=frame, rgb_path=str(plates[frame]),
                    prev_rgb_path=str(previous) if previous else None, object_id=name,
                    key=f"{clip_dir.name}/{frame}" + ("" if name is None else f"/{name}"),
                    mask_path=str(mattes[frame]),
                    other_mask_paths=tuple(str(m[frame]) for other, m in objects.items() if other != name),
                ))
    return samples


def _davis(spec: str, root: str, *options: str) -> list[Sample]:
    resolutions = [o for o in options if o in DAVIS_RESOLUTIONS]
    splits = [o for o in options if o not in DAVIS_RESOLUTIONS]
    if len(resolutions) > 1 or len(splits) > 1 or any(not o for o in options):
        raise DatasetError(f"bad dataset spec {spec!r}: expected davis:ROOT[:split][:480p|Full-Resolution]")
    resolution = resolutions[0] if resolutions else "480p"
    base = Path(root)
    annotations = base / "Annotations" / resolution
    if not annotations.is_dir():
        raise DatasetError(f"dataset {spec!r}: {annotations} is not a folder (is {root} a DAVIS 2017 root?)")
    if splits:
        listing = base / "ImageSets" / "2017" / f"{splits[0]}.txt"
        if not listing.is_file():
            raise DatasetError(f"dataset {spec!r}: split file {listing} not found")
        sequences = sorted({line.strip() for line in listing.read_text().splitlines() if line.strip()})
    else:
        sequences = sorted(p.name for p in annotations.iterdir() if p.is_dir())
    samples = []
    for sequence in sequences:
        samples += _davis_sequence(spec, base, resolution, sequence)
    return samples


def _davis_sequence(spec: str, base: Path, resolution: str, sequence: str) -> list[Sample]:
    image_dir = base / "JPEGImages" / resolution / sequence
    annotation_dir = base / "Annotations" / resolution / sequence
    if not image_dir.is_dir() or not annotation_dir.is_dir():
        raise DatasetError(f"dataset {spec!r}: sequence {sequence} needs {image_dir} and {annotation_dir}")
    images = {int(p.stem): p for p in image_dir.glob("*.jpg") if p.stem.isdigit()}
    samples = []
    for annotation in sorted(annotation_dir.glob("*.png")):
        if not annotation.stem.isdigit():
            continue
        frame = int(annotation.stem)
        if frame not in images:
            raise DatasetError(f"dataset {spec!r}: annotation {annotation} has no frame in {image_dir}")
        previous = images.get(frame - 1)
        ids = np.unique(read_palette_indices(annotation))
        for object_id in (int(i) for i in ids if i not in (0, DAVIS_VOID)):
            samples.append(Sample(
                clip=sequence, frame=frame, rgb_path=str(images[frame]),
                prev_rgb_path=str(previous) if previous else None, object_id=object_id,
                key=f"{sequence}/{frame}/{object_id}", mask_path=str(annotation),
            ))
    return samples


#: Objects a generated clip may hold (synth, procedural).
MAX_OBJECTS = 3


def check_object_count(objects: int) -> None:
    """ValueError unless a generator can write `objects` objects per clip."""
    if not 1 <= objects <= MAX_OBJECTS:
        raise ValueError(f"objects must be 1 to {MAX_OBJECTS}, got {objects}")


def object_matte_paths(folder: Path, name: str, frame: int, objects: int) -> list[Path]:
    """Where a generated clip's mattes of `frame` go: alpha/<clip>.<frame>.png for one object,
    alpha/object<k>/<clip>.<frame>.png for each of several (both generators write this layout)."""
    if objects == 1:
        return [folder / "alpha" / f"{name}.{frame:04d}.png"]
    return [folder / "alpha" / f"object{k}" / f"{name}.{frame:04d}.png" for k in range(1, objects + 1)]
