"""Rendering a shot with several `objects:`: one pass over the plates, one EXR with a layer per object.

Per frame the plates are read once and the frame's features computed once
(Segmenter.segment_objects); the network then runs for every object as one batch, each with its
own clicks (its previous frame is the plate t-1, as for one object: the model takes the previous
plate, not a previous matte). Each object's matte then goes through exactly what render does to a
one-object shot (temporal smoothing with its own neighbours' mattes, `binary`), so a layer equals
the one-object render of objects.object_shot up to the batched network's rounding.

`options.exclusive`: the objects' alphas (candidate 1) are shared out so that they never overlap
(exclusive_alphas), before `binary` thresholds them; a pixel a binary object then claims is its
alone (exclusive_mattes); candidates are left as the network gave them.

The layered EXR (io.exr.write_layered_matte_exr): `A` = the union (per-pixel max) of the objects'
alphas, so a Read shows every object in rgba.alpha; `<name>.A` per object, which Nuke reads as
the layer `<name>` with channel `<name>.alpha` (one Shuffle per object); with candidates,
`<name>_candidates.c1..c4`, `<name>_candidates2.c5..`: at most four channels per layer.
`output_per_object`: each object's file is the matte its one-object shot writes.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .objects import object_shot
from .render import (Plate, matte_metadata, matte_planes, output_replaceable, previous_input, read_plate,
                     shot_edges, smoothing_neighbours, write_shot_matte)
from .shot import Shot


@dataclass
class ObjectMattes:
    """The mattes of one frame of a several-object shot: object name -> segmenter.Matte, in the
    shot's object order. timings: the frame's stages (features once, network for all objects)."""

    mattes: dict
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def features_cached(self) -> bool:
        return all(m.features_cached for m in self.mattes.values())

    def coverage(self) -> float:
        """Fraction of the frame inside any object's matte (alpha > 0.5)."""
        inside = np.logical_or.reduce([m.alpha > 0.5 for m in self.mattes.values()])
        return np.count_nonzero(inside) / inside.size

    def object_coverage(self) -> dict[str, float]:
        """name -> fraction of the frame inside that object's matte."""
        return {name: m.coverage() for name, m in self.mattes.items()}


def segment_objects_frame(shot: Shot, segmenter, frame: int, *, read: Callable[..., Plate] = read_plate,
                          raw_mattes: dict | None = None, previous: str | None = None) -> ObjectMattes:
    """render.segment_shot_frame for a shot with `objects:` (it calls this one); plates are read
    through the shot's door.

    raw_mattes: frame -> that frame's raw mattes (name -> Matte before smoothing), kept by a
    caller that segments consecutive frames. previous: `frame`'s previous frame file instead of
    render's rule (a bridge request that names one).
    """
    raw_mattes = {} if raw_mattes is None else raw_mattes
    read = functools.partial(read, door=shot.door)
    smoothed = [obj for obj in shot.objects if obj.options.temporal_smoothing]
    if smoothed:
        read = functools.lru_cache(maxsize=None)(read)
    raw = _raw_object_mattes(shot, segmenter, frame, read, raw_mattes, previous)
    mattes = dict(raw)
    timings = dict(next(iter(raw.values())).timings)
    if smoothed:
        from .segmenter import Matte
        from .smoothing import smooth_candidates

        start = time.perf_counter()
        neighbours = {u: _raw_object_mattes(shot, segmenter, u, read, raw_mattes) for u in smoothing_neighbours(shot, frame)}
        rgb = read(shot.input_path(frame), shot.colorspace, shot.ocio_config).rgb
        for obj in smoothed:
            moved = [(neighbours[u][obj.name].candidates, read(shot.input_path(u), shot.colorspace, shot.ocio_config).rgb)
                     for u in neighbours]
            matte = raw[obj.name]
            mattes[obj.name] = Matte(smooth_candidates(matte.candidates, rgb, moved), matte.features_cached,
                                     dict(matte.timings))
        timings["smoothing"] = time.perf_counter() - start
    if shot.options.exclusive:
        mattes = exclusive_mattes(mattes, frozenset(obj.name for obj in shot.objects if obj.options.matte == "binary"))
    return ObjectMattes(mattes, timings)


def _raw_object_mattes(shot: Shot, segmenter, frame: int, read: Callable[..., Plate], raw_mattes: dict,
                       previous: str | None = None) -> dict:
    """name -> the network's Matte of `frame` for every object (no smoothing), from raw_mattes
    when there. Candidates as each object's one-object render asks: all M with
    options.candidates, else candidate 1 (which is the same either way)."""
    if frame not in raw_mattes:
        plate = read(shot.input_path(frame), shot.colorspace, shot.ocio_config)
        prev_path = previous or previous_input(shot, frame)
        previous = None if prev_path is None else read(prev_path, shot.colorspace, shot.ocio_config)
        all_candidates = any(obj.options.candidates for obj in shot.objects)
        mattes = segmenter.segment_objects(
            plate.rgb, None if previous is None else previous.rgb, [obj.clicks_at(frame) for obj in shot.objects],
            frame_key=plate.key, prev_frame_key=None if previous is None else previous.key, scale=shot.options.scale,
            all_candidates=all_candidates, precision=shot.options.precision, edges=shot_edges(shot))
        raw_mattes[frame] = {
            obj.name: matte if obj.options.candidates else dataclasses.replace(matte, candidates=matte.candidates[:1])
            for obj, matte in zip(shot.objects, mattes)
        }
    return raw_mattes[frame]


def exclusive_alphas(alphas: np.ndarray) -> np.ndarray:
    """(N, H, W) alphas in [0, 1] -> (N, H, W) float32 that never overlap: sum over N <= 1.

    The rule: where the alphas sum to more than 1, each is divided by the sum (every object keeps
    its share of the pixel, in proportion to its probability); elsewhere they are unchanged.
    The results are rounded down to half floats (what the EXR stores), and where rounding
    still leaves a sum above 1 the largest is lowered by the excess, so the written file
    sums to at most 1 exactly (in float64) at every pixel. Binary mattes threshold these
    (> 0.5), so at most one object claims a pixel.
    """
    alphas = np.asarray(alphas, dtype=np.float64)
    total = alphas.sum(axis=0)
    shared = alphas / np.maximum(total, 1.0)
    half = _half_down(shared)
    excess = half.astype(np.float64).sum(axis=0) - 1.0
    over = excess > 0
    if over.any():
        largest = half.argmax(axis=0)
        rows, cols = np.nonzero(over)
        picked = largest[rows, cols]
        lowered = half[picked, rows, cols].astype(np.float64) - excess[rows, cols]
        half[picked, rows, cols] = _half_down(np.maximum(lowered, 0.0))
    return half.astype(np.float32)


def _half_down(values: np.ndarray) -> np.ndarray:
    """float64 values -> the largest float16 at or below each (round toward -inf)."""
    half = values.astype(np.float16)
    up = half.astype(np.float64) > values
    half[up] = np.nextafter(half[up], np.float16(-np.inf))
    return half


def exclusive_mattes(mattes: dict, binary: frozenset = frozenset()) -> dict:
    """mattes (name -> Matte) with their candidate 1 made exclusive (exclusive_alphas). binary:
    the names of objects whose matte is `binary`: where one's shared alpha is above 0.5 (1 once
    thresholded) the pixel is its alone, every other object's alpha 0 there, so a binary object
    beside soft ones still never sums above 1 with them."""
    names = list(mattes)
    alphas = exclusive_alphas(np.stack([mattes[n].alpha for n in names]))
    for i, name in enumerate(names):
        if name in binary:
            claimed = alphas[i] > 0.5
            others = [j for j in range(len(names)) if j != i]
            alphas[others] = np.where(claimed, 0.0, alphas[others])
    out = {}
    for name, alpha in zip(names, alphas):
        candidates = mattes[name].candidates.copy()
        candidates[0] = alpha
        out[name] = dataclasses.replace(mattes[name], candidates=candidates)
    return out


def object_layers(shot: Shot, frame_mattes: ObjectMattes) -> dict[str, np.ndarray]:
    """channel name -> (H, W) plane of the layered EXR, in writing order: `A` (the union), then
    per object `<name>.A` and its candidate channels (see the module docstring)."""
    from .io.exr import candidate_channel

    channels: dict[str, np.ndarray] = {}
    for obj in shot.objects:
        alpha, candidates = matte_planes(object_shot(shot, obj), frame_mattes.mattes[obj.name])
        channels[f"{obj.name}.A"] = alpha
        for m, plane in enumerate([] if candidates is None else candidates, start=1):
            channels[candidate_channel(m, f"{obj.name}_candidates")] = plane
    union = np.max([channels[f"{obj.name}.A"] for obj in shot.objects], axis=0)
    return {"A": union, **channels}


def write_objects_matte(shot: Shot, frame: int, frame_mattes: ObjectMattes, segmenter, *,
                        pixel_aspect: float | None = None, previous: str | None = None) -> str:
    """render.write_shot_matte for a shot with `objects:`: the layered EXR at the shot's
    output, then each object's own file (output_per_object), each atomically. Returns the
    layered file's path. Metadata: the one-object keys, with `objects` (the names in order),
    `clicks_hash.<name>` and `matte.<name>` per object."""
    from .clicks import clicks_hash
    from .io.exr import write_layered_matte_exr
    from .io.images import read_header

    source = shot.input_path(frame)
    if pixel_aspect is None:
        pixel_aspect = read_header(source, shot.door)[2]
    metadata = matte_metadata(shot, frame, segmenter, source, previous or previous_input(shot, frame))
    metadata["objects"] = ",".join(obj.name for obj in shot.objects)
    metadata["clicks_hash"] = clicks_hash([c for obj in shot.objects for c in obj.clicks_at(frame)])
    for obj in shot.objects:
        metadata[f"clicks_hash.{obj.name}"] = clicks_hash(obj.clicks_at(frame))
        metadata[f"matte.{obj.name}"] = obj.options.matte
    path = shot.output_path(frame)
    write_layered_matte_exr(path, object_layers(shot, frame_mattes), pixel_aspect=pixel_aspect, metadata=metadata,
                            door=shot.door, replace=output_replaceable(shot))
    if shot.output_per_object is not None:
        for obj in shot.objects:
            write_shot_matte(object_shot(shot, obj, own_output=True), frame, frame_mattes.mattes[obj.name],
                             segmenter, pixel_aspect=pixel_aspect, previous=previous)
    return path
