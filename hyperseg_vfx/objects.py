"""Several objects in one shot: the `objects:` part of a shot file and each object's own shot.

Production roto separates several elements of a shot (the actor, a prop, the hair), each a matte
the comp uses on its own. Instead of a top-level `clicks:` list (one object), a shot may name
its objects:

    objects:
      actor:                          # a Nuke layer name (check_layer_name): EXR layer `actor`
        clicks: [...]                 # exactly as a one-object shot's `clicks:`
        options: {matte: binary}      # optional: matte, candidates, temporal_smoothing of this object
      prop:
        clicks: [...]
    output: mattes/sh010.####.exr                      # one EXR per frame, a layer per object
    output_per_object: mattes/{object}/sh010.####.exr  # optional: also one file per object
    options: {exclusive: true}        # optional: the objects' mattes never overlap (exclusive_alphas)

Each object is rendered exactly as the one-object shot `object_shot(shot, obj)` (its clicks, its
options over the shot's, the same plates and previous frames), except that the frame's features
are computed once for all objects (render_objects). `scale` and `exclusive` are the shot's only:
the objects share one working size, hence one set of features.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Mapping

from .clicks import Click

#: Object options that an object may set for itself (the others are the shot's).
OBJECT_OPTION_KEYS = ("matte", "candidates", "temporal_smoothing")

#: Token of `output_per_object` replaced by the object's name.
OBJECT_TOKEN = "{object}"

#: Most objects one shot may hold: validation and the per-object output checks cost frames x
#: objects, and a frame's network pass is batched over them.
MAX_OBJECTS = 32

#: Longest object name: Nuke shows layer names in menus; EXR channel names are kept short.
MAX_NAME_LENGTH = 64

#: Layers Nuke reserves or predefines (Foundry, "Renaming Channels": rgba, depth, forward,
#: backward, deep, disparityL/R, mask, rotopaint_mask, mask_planartrack, mask_splinewarp), and
#: Nuke's default view "main" (its exrReader takes a name equal to a view for the view), and
#: this tool's candidate layers (io.exr.candidate_channel: hyperseg, hyperseg2, ...).
RESERVED_LAYERS = frozenset({
    "rgba", "rgb", "alpha", "depth", "forward", "backward", "motion", "deep", "disparityL", "disparityR",
    "mask", "rotopaint_mask", "mask_planartrack", "mask_splinewarp", "main",
})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OWN_LAYER = re.compile(r"hyperseg\d*|.*_candidates\d*")


def check_layer_name(name: Any) -> str | None:
    """Why `name` is not a layer name Nuke reads back unchanged, or None when it is one.

    Nuke's EXR reader (Foundry NDK example ExrChannelNameToNuke.cpp, used by exrReader) turns
    every character that is not a letter or digit into `_` and strips leading digits, so a name
    is kept as written only when it is ASCII letters, digits and `_`, not starting with a digit.
    Reserved layers (RESERVED_LAYERS) and this tool's candidate layers are refused too.
    """
    if not isinstance(name, str) or not name:
        return f"must be a non-empty name, got {name!r}"
    if len(name) > MAX_NAME_LENGTH:
        return f"is longer than {MAX_NAME_LENGTH} characters"
    if not _NAME.fullmatch(name):
        return ("is not a Nuke layer name: use ASCII letters, digits and _, starting with a letter or _ "
                "(Nuke's EXR reader renames anything else)")
    if name in RESERVED_LAYERS:
        return f"is a layer Nuke reserves ({', '.join(sorted(RESERVED_LAYERS))})"
    if _OWN_LAYER.fullmatch(name):
        return "is a name this tool gives its candidate layers (hyperseg, hypersegN, *_candidates)"
    return None


@dataclass(frozen=True)
class ShotObject:
    """One object of a shot: its name (an EXR/Nuke layer name), its click tracks
    (shot.ClickTrack) and its render options (shot.ShotOptions: the shot's, with the object's
    own OBJECT_OPTION_KEYS over them)."""

    name: str
    clicks: list
    options: Any

    def clicks_at(self, frame: int) -> list[Click]:
        """The clicks of this object that count at `frame`, in track order."""
        return [c for c in (track.click_at(frame) for track in self.clicks) if c is not None]


def parse_objects(value: Any, shot_options) -> tuple[ShotObject, ...]:
    """The `objects:` mapping (name -> {clicks, options}) as ShotObjects, in the file's order.

    ShotError naming `objects.<name>...` for a bad name, a name given twice up to case (the
    per-object files of `actor` and `Actor` are one file on case-insensitive file systems),
    or a bad click or option.
    """
    from .shot import MAX_CLICKS, ShotError, _mapping, _tracks

    if not isinstance(value, Mapping) or not value:
        raise ShotError("objects", "must be a non-empty mapping: name -> {clicks: [...]}")
    if len(value) > MAX_OBJECTS:
        raise ShotError("objects", f"holds {len(value)} objects; a shot takes at most {MAX_OBJECTS}")
    objects, seen, count = [], {}, 0
    for name, data in value.items():
        problem = check_layer_name(name)
        if problem is not None:
            raise ShotError(f"objects.{_printable(name)}", problem)
        if name.lower() in seen:
            raise ShotError(f"objects.{name}", f"differs from objects.{seen[name.lower()]} only in case")
        seen[name.lower()] = name
        where = f"objects.{name}"
        data = _mapping(data, where, ("clicks", "options"), ("clicks",))
        clicks = _tracks(data["clicks"], f"{where}.clicks")
        count += len(clicks)
        if count > MAX_CLICKS:
            raise ShotError(f"{where}.clicks", f"the objects hold more than {MAX_CLICKS} clicks together; "
                                               f"a shot takes at most {MAX_CLICKS}")
        objects.append(ShotObject(name, clicks, _object_options(data.get("options"), f"{where}.options", shot_options)))
    return tuple(objects)


def _printable(name: Any) -> str:
    text = name if isinstance(name, str) else repr(name)
    return ascii(text)[1:-1][:80] if isinstance(name, str) else text[:80]


def _object_options(value: Any, where: str, shot_options):
    """The shot's options with the object's own OBJECT_OPTION_KEYS over them."""
    from .shot import MATTES, _choice, _flag, _mapping

    data = _mapping({} if value is None else value, where, OBJECT_OPTION_KEYS, ())
    changes = {}
    if "matte" in data:
        changes["matte"] = _choice(data["matte"], f"{where}.matte", MATTES)
    for key in ("candidates", "temporal_smoothing"):
        if key in data:
            changes[key] = _flag(data[key], f"{where}.{key}")
    return dataclasses.replace(shot_options, **changes)


def object_options_dict(obj: ShotObject, shot_options) -> dict[str, Any]:
    """The object's options that differ from the shot's (what its shot file entry says)."""
    return {key: getattr(obj.options, key) for key in OBJECT_OPTION_KEYS
            if getattr(obj.options, key) != getattr(shot_options, key)}


def object_output(pattern: str, name: str) -> str:
    """`output_per_object` with the object's name in place of {object}."""
    return pattern.replace(OBJECT_TOKEN, name)


def object_shot(shot, obj: ShotObject, *, own_output: bool = False):
    """The one-object shot that renders `obj` of `shot`: the same plates, frames and previous
    frames, the object's clicks and options. own_output: its output is the object's
    output_per_object file (else the shot's output pattern)."""
    output = object_output(shot.output_per_object, obj.name) if own_output else shot.output
    return dataclasses.replace(shot, clicks=list(obj.clicks), options=obj.options, objects=(),
                               output=output, output_per_object=None)


def check_objects(shot) -> None:
    """Checks of a several-object shot that need no files (that every object has a positive click
    at every frame is shot._check_consistency's): output_per_object names {object}, a file per
    frame, and none of the inputs or the layered outputs. ShotError naming the field (and frame)."""
    from .sequences import frame_path, has_frame_token
    from .shot import ShotError

    if shot.output_per_object is None:
        return
    pattern = shot.output_per_object
    if not shot.objects:
        raise ShotError("output_per_object", "needs `objects:` (a shot with `clicks:` has one object)")
    if OBJECT_TOKEN not in pattern:
        raise ShotError("output_per_object", f"must contain {OBJECT_TOKEN}, replaced by each object's name")
    if len(shot.frames) > 1 and not has_frame_token(pattern):
        raise ShotError("output_per_object", f"{pattern} has no frame token (####, %04d) "
                                             f"but {len(shot.frames)} frames are rendered")
    taken = {shot.input_path(f): "an input file" for f in shot.frames}
    taken.update({shot.output_path(f): "the layered output" for f in shot.frames})
    for frame in shot.frames:
        for obj in shot.objects:
            path = frame_path(object_output(pattern, obj.name), frame)
            if path in taken:
                raise ShotError("output_per_object", f"{path} would overwrite {taken[path]}", frame)
            taken[path] = f"the file of another object or frame ({obj.name})"
