"""The shot file the node exports for ranges, the farm and the contact sheet: JSON, which the
YAML shot-file reader of hyperseg-vfx reads as is (schema: hyperseg_vfx/shot.py). Paths are
absolute, clicks in top-left pixels (hyperseg_nuke.clicks)."""

import json
import os
import threading
from typing import Dict, List, Optional


def shot_data(input_pattern: str, first: int, last: int, output: str, tracks: List[Dict], options: Dict,
              checkpoint: Optional[str] = None, colorspace: Optional[str] = None,
              ocio_config: Optional[str] = None, objects: Optional[Dict] = None,
              output_per_object: Optional[str] = None) -> Dict:
    """Shot-file data rendering frames first..last of `input_pattern` (in `colorspace`, a name of
    the OCIO config `ocio_config`; None: the renderer's default, its own config) to `output`.
    objects: name -> {"clicks": tracks, "options": {...}} in place of `tracks` (one layer per
    object); output_per_object: the pattern of their own files too ({object}: the name)."""
    data = {
        "input": input_pattern,
        "frames": str(first) if first == last else "{}-{}".format(first, last),
        "output": output,
    }
    data["objects" if objects else "clicks"] = objects or tracks
    if output_per_object:
        data["output_per_object"] = output_per_object
    data["options"] = options
    if checkpoint:
        data["checkpoint"] = checkpoint
    if colorspace:
        data["colorspace"] = colorspace
    if ocio_config:
        data["ocio_config"] = ocio_config
    return data


def write_shot(path: str, data: Dict) -> None:
    """Write shot-file data to `path` atomically (a farm reading it never sees half a file),
    readable as the umask allows (farm workers may run as other users); its folder is made."""
    folder, name = os.path.split(path)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, ".{}.{}-{}.partial".format(name, os.getpid(), threading.get_ident()))
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
