"""A second clip generator, sharing no code with `synth`: procedural scenes for held-out checks.

`synth` composites photographs (scikit-image's) cut by star-shaped or horse outlines. A model
trained on it can learn those photographs and outlines; this generator draws everything else,
so a score on its clips says how far the model generalises (never train on it):

- shapes: signed-distance shapes in frame-relative units: a rotated rounded box, a ring with a
  gap (a hole in the matte), a branching stick figure of capsules (thin parts), a smooth union of
  circles (a blob with necks);
- textures: procedural, no photographs: value-noise fBm through a random colour ramp, stripes,
  checks, dots; the background gets its own fBm and a sky-to-ground gradient, defocused;
- motion: a Lissajous path, rotation and a breathing scale, under a hand-held camera shake that
  moves background and object together; motion blur over three shutter samples;
- compositing: `over` in linear light with a soft drop shadow cast onto the background, light
  wrap (the defocused background bleeding into the object's edge) and a semi-transparent fringe;
- lighting: a directional shading ramp over the object, a vignette, per-frame exposure flicker,
  luminance-dependent grain.

Every scene parameter is drawn in frame-relative units from numpy Generators seeded by
(seed, clip), so one seed renders the same scenes at every resolution (the per-pixel grain is
seeded by (seed, clip, frame)). Edges are analytically antialiased from the signed distance
(coverage = clip(0.5 - d / pixel, 0, 1)), so a matte is exact to a fraction of a pixel at any
size. Output layout as `synth`: OUT/<clip>/rgb/<clip>.<frame>.png (8-bit sRGB) and
OUT/<clip>/alpha/<clip>.<frame>.png; the truth is matte > 0.5. With `objects` 2 or 3, further
scenes' objects (their shape, texture, path and shading; the first scene's camera, background and
lens) pass in front of the first, each with its own visible matte in
OUT/<clip>/alpha/object<k>/ (datasets.object_matte_paths).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from ..atomic import atomic_output

FIRST_FRAME = 1001
SHAPES = ("rounded_box", "ring", "stick_figure", "blob")
TEXTURES = ("fbm", "stripes", "checks", "dots")
SHUTTER = (-0.25, 0.0, 0.25)  # sample times within a frame, in frames


def clip_name(seed: int, index: int) -> str:
    """The folder name of clip `index` of `seed` (never the same as a `synth` clip's)."""
    return f"proc{seed}_{index:03d}"


def _encode_srgb(linear: np.ndarray) -> np.ndarray:
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(linear, 1 / 2.4) - 0.055)


def _value_noise(rng: np.random.Generator, u: np.ndarray, v: np.ndarray, octaves: int) -> np.ndarray:
    """fBm of smoothly interpolated lattice noise at frame-relative coordinates (u, v), in [0, 1]."""
    total, weight, norm = np.zeros_like(u), 1.0, 0.0
    for octave in range(octaves):
        cells = 4 * 2**octave
        lattice = rng.random((cells + 2, cells + 2))
        x, y = (u % 1.0) * cells, (v % 1.0) * cells
        total += weight * ndimage.map_coordinates(lattice, [y, x], order=3, mode="wrap")
        norm += weight
        weight *= 0.5
    return np.clip(total / norm, 0, 1)


def _colour_ramp(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """t (H, W) in [0, 1] through a random three-colour ramp -> linear RGB (H, W, 3)."""
    stops = rng.random((3, 3)) ** 1.5
    t = t[..., None]
    return np.where(t < 0.5, stops[0] + (stops[1] - stops[0]) * 2 * t, stops[1] + (stops[2] - stops[1]) * (2 * t - 1))


@dataclass(frozen=True)
class Scene:
    """One clip's parameters, all in frame-relative units (lengths in short sides)."""

    shape: str
    shape_params: np.ndarray
    texture: str
    texture_seed: int
    background_seed: int
    path: np.ndarray  # centre, amplitude, frequency, phase of the Lissajous path
    spin: float
    breathing: float
    shake: float
    shadow: np.ndarray  # offset x, y, softness, strength
    light: np.ndarray  # direction angle, strength
    flicker: float
    defocus: float
    fringe: float
    grain: float

    @staticmethod
    def draw(rng: np.random.Generator) -> "Scene":
        return Scene(
            shape=SHAPES[rng.integers(len(SHAPES))],
            shape_params=rng.random(16),
            texture=TEXTURES[rng.integers(len(TEXTURES))],
            texture_seed=int(rng.integers(2**31)),
            background_seed=int(rng.integers(2**31)),
            path=np.concatenate([rng.uniform(-0.15, 0.15, 2), rng.uniform(0.02, 0.1, 2), rng.uniform(0.05, 0.2, 2),
                                 rng.uniform(0, 2 * np.pi, 2)]),
            spin=float(rng.uniform(-0.08, 0.08)),
            breathing=float(rng.uniform(0, 0.06)),
            shake=float(rng.uniform(0.001, 0.008)),
            shadow=np.array([rng.uniform(-0.05, 0.05), rng.uniform(0.01, 0.06), rng.uniform(0.01, 0.04), rng.uniform(0.2, 0.6)]),
            light=np.array([rng.uniform(0, 2 * np.pi), rng.uniform(0.2, 0.7)]),
            flicker=float(rng.uniform(0, 0.12)),
            defocus=float(rng.uniform(0.002, 0.012)),
            fringe=float(rng.uniform(0, 0.5)),
            grain=float(rng.uniform(0.005, 0.03)),
        )

    def distance(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Signed distance (short sides; negative inside) of the shape centred at 0, unrotated."""
        p = self.shape_params
        if self.shape == "rounded_box":
            half = np.array([0.12 + 0.12 * p[0], 0.08 + 0.12 * p[1]])
            corner = 0.01 + 0.05 * p[2]
            qx, qy = np.abs(x) - half[0] + corner, np.abs(y) - half[1] + corner
            return np.hypot(np.maximum(qx, 0), np.maximum(qy, 0)) + np.minimum(np.maximum(qx, qy), 0) - corner
        if self.shape == "ring":
            radius, thickness = 0.12 + 0.1 * p[0], 0.025 + 0.04 * p[1]
            ring = np.abs(np.hypot(x, y) - radius) - thickness
            gap_angle, gap_width = 2 * np.pi * p[2], 0.2 + 0.5 * p[3]
            angle = np.abs(np.angle(np.exp(1j * (np.arctan2(y, x) - gap_angle))))
            return np.maximum(ring, (gap_width - angle) * radius)
        if self.shape == "stick_figure":
            limbs = [((0, -0.02), (0, -0.2 - 0.08 * p[0]))]  # trunk, then arms and legs from its ends
            for k in range(4):
                start = limbs[0][1] if k < 2 else limbs[0][0]
                angle = (-0.6 - 0.8 * p[1 + k]) * np.pi / 2 if k % 2 == 0 else (0.6 + 0.8 * p[1 + k]) * np.pi / 2
                angle = angle + (np.pi if k < 2 else 0)
                length = 0.1 + 0.1 * p[5 + k]
                limbs.append((start, (start[0] + length * np.sin(angle), start[1] + length * np.cos(angle))))
            width = 0.012 + 0.02 * p[9]
            distance = np.hypot(x, y - limbs[0][1][1] + 0.05) - (0.04 + 0.02 * p[10])  # the head
            for (ax, ay), (bx, by) in limbs:
                dx, dy = bx - ax, by - ay
                t = np.clip(((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy), 0, 1)
                distance = np.minimum(distance, np.hypot(x - ax - t * dx, y - ay - t * dy) - width)
            return distance
        # blob: a smooth union of circles (polynomial smooth minimum)
        distance, k = None, 0.03
        for i in range(5):
            cx, cy = 0.18 * (p[2 * i] - 0.5), 0.18 * (p[2 * i + 1] - 0.5)
            circle = np.hypot(x - cx, y - cy) - (0.05 + 0.06 * p[10 + i])
            if distance is None:
                distance = circle
            else:
                h = np.clip(0.5 + 0.5 * (circle - distance) / k, 0, 1)
                distance = circle * (1 - h) + distance * h - k * h * (1 - h)
        return distance

    def pose(self, time: float) -> tuple[float, float, float, float]:
        """Object centre (relative to the frame centre), rotation and scale at `time` (frames)."""
        c, a, f, ph = self.path[:2], self.path[2:4], self.path[4:6], self.path[6:8]
        centre = c + a * np.sin(f * time + ph)
        return float(centre[0]), float(centre[1]), self.spin * time, 1.0 + self.breathing * np.sin(0.4 * time)

    def camera(self, time: float) -> tuple[float, float]:
        """Camera shake offset at `time`: a sum of incommensurate sines."""
        return (self.shake * (np.sin(1.7 * time + 0.3) + 0.5 * np.sin(4.1 * time)),
                self.shake * (np.cos(1.3 * time + 1.1) + 0.5 * np.sin(3.7 * time + 2.0)))


def _coverage(scene: Scene, u: np.ndarray, v: np.ndarray, time: float, pixel: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Object coverage (H, W) at `time` and the object-space coordinates of every pixel."""
    cx, cy, angle, scale = scene.pose(time)
    sx, sy = scene.camera(time)
    dx, dy = u - cx - sx, v - cy - sy
    cos, sin = np.cos(angle), np.sin(angle)
    ox, oy = (cos * dx + sin * dy) / scale, (-sin * dx + cos * dy) / scale
    distance = scene.distance(ox, oy) * scale
    return np.clip(0.5 - distance / pixel, 0, 1), ox, oy


def _texture(scene: Scene, ox: np.ndarray, oy: np.ndarray) -> np.ndarray:
    """The object's linear RGB in object space (it moves with the object)."""
    rng = np.random.default_rng(scene.texture_seed)
    if scene.texture == "fbm":
        t = _value_noise(rng, ox + 0.5, oy + 0.5, 4)
    elif scene.texture == "stripes":
        frequency, tilt = rng.uniform(15, 45), rng.uniform(0, np.pi)
        t = 0.5 + 0.5 * np.sin(frequency * (np.cos(tilt) * ox + np.sin(tilt) * oy) * 2 * np.pi / 3)
    elif scene.texture == "checks":
        cells = rng.uniform(8, 25)
        t = ((np.floor(ox * cells) + np.floor(oy * cells)) % 2) * 0.8 + 0.1
    else:
        cells = rng.uniform(10, 30)
        fx, fy = (ox * cells) % 1 - 0.5, (oy * cells) % 1 - 0.5
        t = np.clip((0.3 - np.hypot(fx, fy)) * 8, 0, 1)
    return _colour_ramp(rng, t)


def render_frame(scene: Scene, width: int, height: int, time: float, grain_rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(plate (H, W, 3) sRGB float32, matte (H, W) float32) of `scene` at frame `time`."""
    plate, mattes = render_frame_objects(scene, width, height, time, grain_rng)
    return plate, mattes[0]


def _object_layer(scene: Scene, u: np.ndarray, v: np.ndarray, time: float, pixel: float, camera: Scene):
    """An object's coverage (H, W) and premultiplied linear colour (H, W, 3), averaged over the
    shutter samples (motion blur); `camera`: the scene whose camera shake moves it (the clip's
    first scene)."""
    height, width = u.shape
    matte = np.zeros((height, width))
    premultiplied = np.zeros((height, width, 3))
    for offset in SHUTTER:
        moved = dataclasses.replace(scene, shake=camera.shake)
        coverage, ox, oy = _coverage(moved, u, v, time + offset, pixel)
        lx, ly = np.cos(scene.light[0]), np.sin(scene.light[0])
        shading = np.clip(1.0 + scene.light[1] * (lx * ox + ly * oy) / 0.2, 0.2, 1.6)[..., None]
        matte += coverage / len(SHUTTER)
        premultiplied += coverage[..., None] * _texture(scene, ox, oy) * shading / len(SHUTTER)
    return matte, premultiplied


def render_frame_objects(scene: Scene, width: int, height: int, time: float, grain_rng: np.random.Generator,
                         extra: tuple[Scene, ...] = ()) -> tuple[np.ndarray, list[np.ndarray]]:
    """render_frame with further objects: the objects of the `extra` scenes composited `over` in
    front of `scene`'s object, in order (before the lens and grain); the mattes are each object's
    visible coverage (times what every object in front of it leaves), `scene`'s first."""
    short = min(width, height)
    pixel = 1.0 / short
    u = ((np.arange(width, dtype=np.float64) + 0.5) - width / 2) / short
    v = ((np.arange(height, dtype=np.float64) + 0.5) - height / 2) / short
    u, v = np.meshgrid(u, v)
    sx, sy = scene.camera(time)
    bg_rng = np.random.default_rng(scene.background_seed)
    ground = _value_noise(bg_rng, (u - sx) * 0.7 + 0.5, (v - sy) * 0.7 + 0.5, 5)
    background = _colour_ramp(bg_rng, ground) * 0.6 + 0.25 * _colour_ramp(bg_rng, np.clip(v + 0.5, 0, 1))
    background = ndimage.gaussian_filter(background, (scene.defocus * short, scene.defocus * short, 0))
    matte, premultiplied = _object_layer(scene, u, v, time, pixel, scene)
    shadow_shift = (scene.shadow[1] * short, scene.shadow[0] * short)
    shadow = ndimage.gaussian_filter(ndimage.shift(matte, shadow_shift, order=1), scene.shadow[2] * short)
    background = background * (1 - scene.shadow[3] * shadow)[..., None]
    # Light wrap: the defocused background bleeds into the object's edge; a semi-transparent fringe.
    edge = np.clip(matte * (1 - ndimage.gaussian_filter(matte, 0.01 * short)) * 4, 0, 1)[..., None]
    premultiplied = premultiplied * (1 - 0.5 * edge) + 0.5 * edge * matte[..., None] * background
    seen = matte * (1 - scene.fringe * edge[..., 0] * (matte < 1))
    plate = premultiplied + (1 - seen[..., None]) * background
    mattes = [matte]
    for other in extra:
        coverage, colour = _object_layer(other, u, v, time, pixel, scene)
        plate = colour + (1 - coverage[..., None]) * plate
        mattes = [m * (1 - coverage) for m in mattes] + [coverage]
    vignette = 1 - 0.35 * (u**2 + v**2)
    exposure = 1 + scene.flicker * np.sin(2.3 * time)
    plate = plate * (vignette * exposure)[..., None]
    plate = plate + scene.grain * np.sqrt(np.clip(plate, 0, None)) * grain_rng.standard_normal(plate.shape)
    return _encode_srgb(plate).astype(np.float32), [m.astype(np.float32) for m in mattes]


def _write_png(path: Path, pixels: np.ndarray) -> None:
    """Float pixels in [0, 1] as an 8-bit PNG (RGB or one channel), written atomically."""
    data = np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)
    with atomic_output(path) as tmp:
        Image.fromarray(data).save(tmp, format="PNG")


def generate_procedural_clips(out: Path, clips: int, frames: int, width: int, height: int, seed: int,
                              objects: int = 1) -> list[Path]:
    """Write `clips` clips of `frames` frames (numbered from 1001) under `out`; returns the clip folders.

    objects 2 or 3: further objects in front of the first, mattes as synth.object_matte_paths."""
    from .datasets import check_object_count, object_matte_paths

    if clips < 1 or frames < 1 or width < 16 or height < 16:
        raise ValueError("procedural: clips and frames must be at least 1, width and height at least 16")
    check_object_count(objects)
    folders = []
    for index in range(clips):
        name = clip_name(seed, index)
        scene = Scene.draw(np.random.Generator(np.random.PCG64([seed, index, 17])))
        extra = tuple(_overlapping(Scene.draw(np.random.Generator(np.random.PCG64([seed, index, 17, k]))), scene)
                      for k in range(1, objects))
        folder = Path(out) / name
        for time in range(frames):
            frame = FIRST_FRAME + time
            plate, mattes = render_frame_objects(scene, width, height, float(time),
                                                 np.random.Generator(np.random.PCG64([seed, index, frame, 17])), extra)
            _write_png(folder / "rgb" / f"{name}.{frame:04d}.png", plate)
            for path, matte in zip(object_matte_paths(folder, name, frame, objects), mattes):
                _write_png(path, matte)
        folders.append(folder)
    return folders


def _overlapping(other: Scene, first: Scene) -> Scene:
    """`other` following `first`'s path 0.15 short sides off in x and y (so the objects meet and
    occlude each other), at a different phase."""
    path = first.path.copy()
    path[:2] = first.path[:2] + 0.15 * (other.path[:2] / np.maximum(np.abs(other.path[:2]), 1e-9))
    path[6:8] = other.path[6:8]
    return dataclasses.replace(other, path=path)
