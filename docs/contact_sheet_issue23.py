"""Contact sheet of issue 23: three scikit-image photographs cut to 16:9, fixed clicks, the bundled
model's matte before issue 23 (the paper's tile grid, `edges: none`), with the tile extent 192x144
and `edges: graphcut` (session 9), with `edges: grabcut` in 2 passes and the posterior soft edge
(session 10), and as shipped (the same with the projection soft edge, session 12): the same
weights. The photographs are 512 px wide (2x the 256x144 working size): the smallest plates the
projection runs on.

    PYTHONPATH=. python docs/contact_sheet_issue23.py docs/issue23_contact_sheet.png
"""

import sys

import numpy as np
import skimage.data
from PIL import Image, ImageDraw

from hyperseg_vfx.checkpoint import load_checkpoint
from hyperseg_vfx.clicks import Click
from hyperseg_vfx.segmenter import Segmenter

# (photo, crop rows, positive clicks, negative clicks), clicks in crop pixels (x, y)
SHOTS = [
    ("astronaut", (60, 348), [(250, 110), (220, 250), (330, 230)], [(40, 40), (470, 60)]),
    ("chelsea", (10, 264), [(300, 110), (200, 180), (120, 220)], [(30, 20), (430, 30)]),
    ("coffee", (31, 369), [(300, 200), (220, 170), (400, 190)], [(40, 40), (560, 300)]),
]


def overlay(rgb: np.ndarray, alpha: np.ndarray, clicks) -> Image.Image:
    tinted = rgb * 0.45 + 0.55 * np.where(alpha[..., None] > 0.5, [0.1, 0.9, 0.2], rgb)
    image = Image.fromarray(np.uint8(np.clip(tinted, 0, 1) * 255))
    draw = ImageDraw.Draw(image)
    for c in clicks:
        colour = (255, 255, 0) if c.positive else (255, 0, 0)
        draw.ellipse([c.x - 4, c.y - 4, c.x + 4, c.y + 4], outline=colour, width=2)
    return image


def main(out: str) -> None:
    shipped = Segmenter.from_checkpoint("hyperseg_vfx/models/default.pt", device="cpu")
    model, metadata = load_checkpoint("hyperseg_vfx/models/default.pt")
    model.config.backbone.tile_extent, model.config.backbone.tile_overlap = (0, 0), "none"  # the paper's grid, as before issue 23
    before = Segmenter(model, device="cpu", metadata=metadata)
    posterior_model, _ = load_checkpoint("hyperseg_vfx/models/default.pt")
    posterior_model.config.edges.soft_edge = "posterior"  # session 10's soft edge
    posterior = Segmenter(posterior_model, device="cpu", metadata=metadata)
    rows = []
    for name, (top, bottom), positives, negatives in SHOTS:
        rgb = getattr(skimage.data, name)()[top:bottom, :, :3].astype(np.float32) / 255
        clicks = [Click(x, y, True) for x, y in positives] + [Click(x, y, False) for x, y in negatives]
        tiles = [overlay(rgb, segmenter.segment(rgb, None, clicks, edges=e, all_candidates=False).alpha, clicks)
                 for segmenter, e in ((before, "none"), (shipped, "graphcut"), (posterior, "grabcut"), (shipped, "grabcut"))]
        rows.append(tiles)
    width = max(t.width for r in rows for t in r)
    columns = len(rows[0])
    sheet = Image.new("RGB", (columns * (width + 8) - 8, sum(r[0].height + 8 for r in rows)), "white")
    y = 0
    for row in rows:
        for column, tile in enumerate(row):
            sheet.paste(tile, (column * (width + 8), y))
        y += row[0].height + 8
    sheet.quantize(256).save(out, optimize=True)  # a palette PNG: a quarter of the bytes


if __name__ == "__main__":
    main(sys.argv[1])
