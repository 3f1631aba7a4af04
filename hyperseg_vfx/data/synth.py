"""Synthetic composited clips with exact mattes, in the `clips:` dataset layout.

The stand-in for the paper's (private) VFX Segmentation Dataset in tests and demos. Each clip is a
photographic foreground shape composited over a photographic background (scikit-image's bundled
photographs), as a compositor would build it:

- the shape is a random star-shaped outline with fine detail along its edge, or the horse
  silhouette of skimage.data; its edge softness varies along the outline;
- it is textured with another photograph that moves with it (object space);
- it moves along a smooth random path, turns and changes scale; motion blur integrates the
  matte and the premultiplied colour over the shutter interval;
- 0 to 2 distractor shapes (not in the matte) sit on the background, which pans slowly;
- lighting changes over time (gain and colour temperature); sensor noise (read + shot noise);
- with `greenscreen`, the background is an uneven green plate and the edges carry green spill;
- with `objects` 2 or 3, further textured shapes start overlapping the subject and pass in front
  of it (composited over it in order), each with its own truth: its visible matte, what the
  objects in front of it leave of its coverage (OUT/<clip>/alpha/object<k>/..., see
  generate_clips).

Compositing happens in linear light; plates are written as 8-bit sRGB PNG, mattes as 8-bit
one-channel PNG. Everything is drawn from numpy Generators seeded by (seed, clip) and
(seed, clip, frame), so a seed always gives the same files.
"""

from __future__ import annotations

import functools
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from ..atomic import atomic_output
from ..srgb import linear_to_srgb, srgb_to_linear
from .datasets import check_object_count, object_matte_paths

FIRST_FRAME = 1001
SHUTTER_SAMPLES = 5
COLOUR_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "retina",
                 "immunohistochemistry", "motorcycle")
GREY_PHOTOS = ("brick", "grass", "gravel", "camera", "moon")


@functools.lru_cache(maxsize=None)
def photograph(name: str) -> np.ndarray:
    """A scikit-image photograph as linear RGB, (H, W, 3) float32 (grey ones replicated)."""
    import skimage.data

    image = skimage.data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(skimage.data, name)()
    image = image.astype(np.float32) / 255.0
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return srgb_to_linear(image[..., :3]).astype(np.float32)


@functools.lru_cache(maxsize=1)
def horse_distance() -> tuple[np.ndarray, float]:
    """Signed distance (pixels, > 0 inside) to skimage's horse silhouette, and the horse's
    half-extent in pixels; the array is centred on the silhouette's centroid by the caller."""
    import skimage.data

    inside = ~skimage.data.horse()
    signed = ndimage.distance_transform_edt(inside) - ndimage.distance_transform_edt(~inside)
    ys, xs = np.nonzero(inside)
    half = 0.5 * max(ys.max() - ys.min(), xs.max() - xs.min())
    return signed.astype(np.float32), float(half)


@dataclass(frozen=True)
class Motion:
    """A smooth random path: centre (pixels), angle (radians) and scale as functions of time."""

    centre: np.ndarray  # (2,) x, y
    amplitude: np.ndarray  # (2, 2) per axis, two sinusoids
    omega: np.ndarray  # (2, 2)
    phase: np.ndarray  # (2, 2)
    angle: float
    spin: float
    scale: float
    breathe: float
    breathe_omega: float

    @staticmethod
    def draw(rng: np.random.Generator, width: int, height: int, speed: float) -> "Motion":
        short = min(width, height)
        omega = rng.uniform(0.03, 0.15, size=(2, 2))
        amplitude = rng.uniform(0.2, 1.0, size=(2, 2)) * speed * short / omega / 2
        amplitude = np.minimum(amplitude, 0.1 * np.array([[width], [height]]))
        return Motion(
            centre=np.array([rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height]),
            amplitude=amplitude, omega=omega, phase=rng.uniform(0, 2 * np.pi, size=(2, 2)),
            angle=rng.uniform(-np.pi, np.pi), spin=rng.uniform(-0.04, 0.04), scale=1.0,
            breathe=rng.uniform(0.0, 0.15), breathe_omega=rng.uniform(0.02, 0.1),
        )

    def at(self, time: float) -> tuple[np.ndarray, float, float]:
        """(centre (2,), angle, scale) at `time` (frames)."""
        offset = (self.amplitude * np.sin(self.omega * time + self.phase)).sum(axis=1)
        scale = self.scale * (1.0 + self.breathe * np.sin(self.breathe_omega * time))
        return self.centre + offset, self.angle + self.spin * time, scale


@dataclass(frozen=True)
class Shape:
    """A textured foreground shape of radius `radius` pixels (at scale 1)."""

    kind: str  # "star" or "horse"
    radius: float
    harmonics: np.ndarray  # (K, 3): order, amplitude, phase of the outline (star)
    softness: np.ndarray  # (3,): base px, variation px, order of the softness along the outline
    texture: str
    texture_origin: np.ndarray  # (2,) x, y in the texture
    texture_scale: float  # texture pixels per object-space unit
    gain: np.ndarray  # (3,) colour gain applied to the texture
    motion: Motion

    @staticmethod
    def draw(rng: np.random.Generator, width: int, height: int, texture: str, size: tuple[float, float], speed: float) -> "Shape":
        short = min(width, height)
        orders = np.arange(2, 25)
        amplitudes = np.where(orders <= 5, rng.uniform(0.0, 0.18, orders.size) / orders ** 0.5,
                              rng.uniform(0.0, 0.25, orders.size) / orders ** 1.3)
        harmonics = np.stack([orders, amplitudes, rng.uniform(0, 2 * np.pi, orders.size)], axis=1)
        photo = photograph(texture)
        scale = rng.uniform(0.25, 0.45) * min(photo.shape[:2])
        origin = np.array([rng.uniform(scale, photo.shape[1] - scale), rng.uniform(scale, photo.shape[0] - scale)])
        return Shape(
            kind="horse" if rng.random() < 0.25 else "star",
            radius=rng.uniform(*size) * short,
            harmonics=harmonics,
            softness=np.array([rng.uniform(0.5, 1.5), rng.uniform(0.0, 2.5), rng.integers(2, 9)]),
            texture=texture, texture_origin=origin, texture_scale=scale,
            gain=rng.uniform(0.6, 1.4, size=3), motion=Motion.draw(rng, width, height, speed),
        )

    def render(self, xs: np.ndarray, ys: np.ndarray, time: float) -> tuple[np.ndarray, np.ndarray]:
        """Matte (H, W) and linear colour (H, W, 3) of the shape at `time`, without motion blur."""
        centre, angle, scale = self.motion.at(time)
        cos, sin = np.cos(angle), np.sin(angle)
        dx, dy = xs - centre[0], ys - centre[1]
        pixels_per_unit = self.radius * scale
        u = (cos * dx + sin * dy) / pixels_per_unit  # object space, radius 1
        v = (-sin * dx + cos * dy) / pixels_per_unit
        theta = np.arctan2(v, u)
        if self.kind == "star":
            order, amplitude, phase = self.harmonics.T
            outline = 1.0 + (amplitude * np.cos(order * theta[..., None] + phase)).sum(axis=-1)
            signed = (outline - np.hypot(u, v)) * pixels_per_unit
        else:
            distance, half = horse_distance()
            rows, cols = (distance.shape[0] - 1) / 2 + v * half, (distance.shape[1] - 1) / 2 + u * half
            signed = ndimage.map_coordinates(distance, [rows, cols], order=1, mode="nearest") * pixels_per_unit / half
        base, variation, order = self.softness
        softness = base + variation * 0.5 * (1 + np.sin(order * theta))
        matte = np.clip(signed / softness + 0.5, 0.0, 1.0)
        photo = photograph(self.texture)
        rows = self.texture_origin[1] + v * self.texture_scale
        cols = self.texture_origin[0] + u * self.texture_scale
        colour = np.stack([ndimage.map_coordinates(photo[..., c], [rows, cols], order=1, mode="mirror")
                           for c in range(3)], axis=-1) * self.gain
        return matte.astype(np.float32), colour.astype(np.float32)

    def render_blurred(self, xs: np.ndarray, ys: np.ndarray, time: float, shutter: float) -> tuple[np.ndarray, np.ndarray]:
        """Matte (H, W) and premultiplied colour (H, W, 3) integrated over the shutter interval."""
        matte = np.zeros(xs.shape, np.float32)
        premultiplied = np.zeros(xs.shape + (3,), np.float32)
        for offset in np.linspace(-shutter / 2, shutter / 2, SHUTTER_SAMPLES):
            sample_matte, colour = self.render(xs, ys, time + offset)
            matte += sample_matte / SHUTTER_SAMPLES
            premultiplied += (sample_matte[..., None] * colour) / SHUTTER_SAMPLES
        return matte, premultiplied


@dataclass(frozen=True)
class ClipPlan:
    """Everything random about a clip, drawn once; frames are rendered from it."""

    width: int
    height: int
    background: str | None  # photograph name, None for a green screen
    background_origin: np.ndarray  # (2,) x, y in the photograph
    background_scale: float  # photograph pixels per frame pixel
    pan: np.ndarray  # (2,) photograph pixels per frame
    green: np.ndarray  # (3,) linear green-screen colour
    subject: Shape
    distractors: tuple[Shape, ...]
    shutter: float
    lighting: np.ndarray  # (4,): gain amplitude, gain omega, tint amplitude, phase
    noise: np.ndarray  # (2,): read noise sigma, shot noise gain
    spill: float
    extra_subjects: tuple[Shape, ...] = ()  # further objects, in front of the subject, in order

    @staticmethod
    def draw(rng: np.random.Generator, width: int, height: int, frames: int, greenscreen: bool) -> "ClipPlan":
        names = list(rng.permutation(COLOUR_PHOTOS + GREY_PHOTOS))
        background = None if greenscreen else names.pop()
        colour_textures = [n for n in names if n in COLOUR_PHOTOS]
        subject = Shape.draw(rng, width, height, colour_textures[0], (0.15, 0.3), speed=rng.uniform(0.003, 0.02))
        distractors = tuple(
            Shape.draw(rng, width, height, name, (0.06, 0.15), speed=rng.uniform(0.0, 0.01))
            for name in names[1 : 1 + rng.integers(0, 3)]
        )
        photo = photograph(background) if background else np.zeros((1024, 1024, 3))
        travel = 1.3
        scale = min(photo.shape[1] / (width * travel), photo.shape[0] / (height * travel)) * rng.uniform(0.5, 1.0)
        span = np.array([width, height]) * scale
        origin = np.array([rng.uniform(0, photo.shape[1] - span[0] * travel),
                           rng.uniform(0, photo.shape[0] - span[1] * travel)])
        max_pan = (travel - 1.0) * span / max(frames, 1)
        return ClipPlan(
            width=width, height=height, background=background, background_origin=origin,
            background_scale=scale, pan=rng.uniform(0.0, 1.0, size=2) * np.minimum(max_pan, 0.005 * span.min()),
            green=np.array([rng.uniform(0.02, 0.08), rng.uniform(0.3, 0.55), rng.uniform(0.03, 0.12)]),
            subject=subject, distractors=distractors, shutter=rng.uniform(0.0, 0.6),
            lighting=np.array([rng.uniform(0.0, 0.2), rng.uniform(0.02, 0.2), rng.uniform(0.0, 0.08),
                               rng.uniform(0, 2 * np.pi)]),
            noise=np.array([rng.uniform(0.002, 0.012), rng.uniform(0.0, 0.02)]),
            spill=rng.uniform(0.0, 0.15) if greenscreen else 0.0,
        )

    def background_plate(self, xs: np.ndarray, ys: np.ndarray, time: float) -> np.ndarray:
        """The linear background (H, W, 3) at `time`, distractors not included."""
        if self.background is None:
            unevenness = 0.8 + 0.2 * np.cos(2 * np.pi * (xs / self.width - 0.5)) * np.cos(np.pi * (ys / self.height - 0.5))
            cloth = ndimage.map_coordinates(photograph("gravel")[..., 0], [ys, xs], order=1, mode="mirror")
            return (unevenness * (0.9 + 0.2 * cloth))[..., None] * self.green
        photo = photograph(self.background)
        cols = self.background_origin[0] + self.pan[0] * time + xs * self.background_scale
        rows = self.background_origin[1] + self.pan[1] * time + ys * self.background_scale
        return np.stack([ndimage.map_coordinates(photo[..., c], [rows, cols], order=1, mode="mirror")
                         for c in range(3)], axis=-1)

    def with_objects(self, rng: np.random.Generator, count: int) -> "ClipPlan":
        """This plan with count - 1 further objects, each starting overlapping the subject (its
        centre 0.3 to 0.6 of the two radii away, in a random direction) so that they occlude it."""
        extras = []
        start = self.subject.motion.centre
        for _ in range(count - 1):
            shape = Shape.draw(rng, self.width, self.height, str(rng.choice(COLOUR_PHOTOS)), (0.1, 0.2),
                               speed=rng.uniform(0.003, 0.02))
            angle = rng.uniform(0, 2 * np.pi)
            reach = rng.uniform(0.3, 0.6) * (self.subject.radius + shape.radius)
            centre = start + reach * np.array([np.cos(angle), np.sin(angle)])
            extras.append(dataclasses.replace(shape, motion=dataclasses.replace(shape.motion, centre=centre)))
        return dataclasses.replace(self, extra_subjects=tuple(extras))

    def render(self, time: float, noise_rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """sRGB plate (H, W, 3) float in [0, 1] and matte (H, W) in [0, 1] at `time` (frames)."""
        plate, mattes = self.render_objects(time, noise_rng)
        return plate, mattes[0]

    def render_objects(self, time: float, noise_rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray]]:
        """render() with every object's visible matte (H, W), the subject's first: an object's
        coverage times what each object in front of it leaves (1 - its coverage)."""
        ys, xs = np.mgrid[0 : self.height, 0 : self.width].astype(np.float32) + 0.5
        plate = self.background_plate(xs, ys, time)
        for shape in self.distractors:
            matte, premultiplied = shape.render_blurred(xs, ys, time, self.shutter)
            plate = plate * (1 - matte[..., None]) + premultiplied
        coverages = []
        for shape in (self.subject, *self.extra_subjects):
            matte, premultiplied = shape.render_blurred(xs, ys, time, self.shutter)
            plate = plate * (1 - matte[..., None]) + premultiplied
            coverages.append(matte)
        visible = [m * np.prod([1 - front for front in coverages[i + 1 :]], axis=0) if i + 1 < len(coverages) else m
                   for i, m in enumerate(coverages)]
        matte = visible[0] if len(visible) == 1 else 1 - np.prod([1 - m for m in coverages], axis=0)
        if self.spill:
            plate += (self.spill * 4 * matte * (1 - matte))[..., None] * self.green
        gain_amplitude, omega, tint, phase = self.lighting
        gain = 1.0 + gain_amplitude * np.sin(omega * time + phase)
        plate = plate * gain * (1.0 + tint * np.sin(0.5 * omega * time) * np.array([1.0, 0.0, -1.0]))
        read, shot = self.noise
        sigma = np.sqrt(read**2 + shot**2 * np.clip(plate, 0, None))
        plate = plate + sigma * noise_rng.standard_normal(plate.shape)
        return linear_to_srgb(plate).astype(np.float32), visible


def _write_png(path: Path, pixels: np.ndarray) -> None:
    """Write float pixels in [0, 1] ((H, W) or (H, W, C)) as an 8-bit PNG, atomically."""
    import OpenImageIO as oiio

    data = np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)
    data = data[..., None] if data.ndim == 2 else data
    with atomic_output(path) as tmp:
        out = oiio.ImageOutput.create(path.suffix.lstrip(".") or "png")
        if out is None or not out.open(str(tmp), oiio.ImageSpec(data.shape[1], data.shape[0], data.shape[2], "uint8")):
            raise OSError(f"cannot write {path}: {oiio.geterror()}")
        out.write_image(np.ascontiguousarray(data))
        out.close()


def clip_name(seed: int, index: int) -> str:
    """The folder name of clip `index` of `seed` (seeds never share names)."""
    return f"synth{seed}_{index:03d}"


def generate_clips(out: Path, clips: int, frames: int, width: int, height: int, seed: int,
                   greenscreen: bool = False, objects: int = 1) -> list[Path]:
    """Write `clips` clips of `frames` frames (numbered from 1001) under `out`; returns the clip folders.

    Layout: OUT/<clip>/rgb/<clip>.<frame:04d>.png (8-bit sRGB) and OUT/<clip>/alpha/<clip>.<frame:04d>.png
    (8-bit matte; the truth mask is matte > 0.5). Deterministic per (seed, clip index). objects 2 or
    3: OUT/<clip>/alpha/object<k>/<clip>.<frame:04d>.png, object k's visible matte (the
    clips: dataset then gives one sample per object; object 1 is the one-object clip's subject).
    """
    if clips < 1 or frames < 1 or width < 16 or height < 16:
        raise ValueError("synth: clips and frames must be at least 1, width and height at least 16")
    check_object_count(objects)
    folders = []
    for index in range(clips):
        name = clip_name(seed, index)
        plan = ClipPlan.draw(np.random.Generator(np.random.PCG64([seed, index])), width, height, frames, greenscreen)
        if objects > 1:
            plan = plan.with_objects(np.random.Generator(np.random.PCG64([seed, index, objects])), objects)
        folder = Path(out) / name
        for time in range(frames):
            frame = FIRST_FRAME + time
            plate, mattes = plan.render_objects(float(time), np.random.Generator(np.random.PCG64([seed, index, frame])))
            _write_png(folder / "rgb" / f"{name}.{frame:04d}.png", plate)
            for path, matte in zip(object_matte_paths(folder, name, frame, objects), mattes):
                _write_png(path, matte)
        folders.append(folder)
    return folders

