# Issue 23 edge-stage lab (session 10): candidates screened on recorded inputs; see docs/notes/issue23-grabcut.md.
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from edge_lab import *
for dirname in sys.argv[2:]:
    hist = []
    for f in sorted(Path(dirname).glob("*.npz")):
        d = load(f); pred = VARIANTS[sys.argv[1]](d) > 0.5; m = d["mask"]
        din = ndimage.distance_transform_edt(m); dout = ndimage.distance_transform_edt(~m)
        signed = np.where(m, -din + 0.5, dout - 0.5)  # >0 outside truth
        contour = pred ^ ndimage.binary_erosion(pred, border_value=1)
        hist.append(signed[contour])
    h = np.concatenate(hist)
    print(dirname.split("/")[-1], sys.argv[1], "median %.2f" % np.median(h), "within1 %.2f within2 %.2f" % ((np.abs(h) <= 1).mean(), (np.abs(h) <= 2).mean()),
          "pcts", np.percentile(h, [10, 25, 50, 75, 90]).round(1))
