# Issue 23 lab (session 12): the procedural dev scenes without the generator's light wrap and fringe;
# see docs/notes/issue23-projection.md, "Why procedural stays below".
"""Write procedural clips (8 clips x 2 frames, seed 904, as the dev sets) with the light wrap and
the semi-transparent fringe switched off: the generator's frame function, its two lines removed.

    PYTHONPATH=. python docs/experiments/procedural_without_light_wrap.py OUT WxH
"""
import inspect
import sys
from pathlib import Path

import hyperseg_vfx.data.procedural as procedural

source = inspect.getsource(procedural.render_frame_objects)
light_wrap = "    premultiplied = premultiplied * (1 - 0.5 * edge) + 0.5 * edge * matte[..., None] * background\n"
fringe = "    seen = matte * (1 - scene.fringe * edge[..., 0] * (matte < 1))\n"
assert light_wrap in source and fringe in source, "the generator changed: update this lab script"
exec(compile(source.replace(light_wrap, "").replace(fringe, "    seen = matte\n"), procedural.__file__, "exec"),
     procedural.__dict__)
width, height = map(int, sys.argv[2].split("x"))
procedural.generate_procedural_clips(Path(sys.argv[1]), 8, 2, width, height, 904, 1)
