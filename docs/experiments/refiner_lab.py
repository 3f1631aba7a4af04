# Issue 23 learned band refiner lab (session 11): how the lab variants rA-rD of docs/notes/issue23-refiner.md were trained and scored
# on recorded edge-stage states (env: CH, STEPS, THREADS, BLOCK, HALF, NONET=1, SHIFTNET=N). Not package code.
"""Learned band refiner lab: prepare states (grabcut's result per recorded state), train, score.

usage:
  python lab.py prep DUMPDIR...            -> DUMPDIR/prep/*.npz (adds grabcut alpha)
  python lab.py train OUT.pt DUMPDIR...    (photo generator dumps only)
  python lab.py score OUT.pt DUMPDIR...    (dev dumps)
"""
import sys, time, glob, os
from pathlib import Path
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy import ndimage
from hyperseg_vfx.clicks import Click
from hyperseg_vfx.config import EdgesConfig
from hyperseg_vfx.modeling import edges as E
from hyperseg_vfx.evaluation.metrics import iou, boundary_iou_1px, matting_band, matting_errors, boundary_width
from hyperseg_vfx.evaluation.harness import MATTING_BAND_RATIO

SHIPPED = EdgesConfig(method="grabcut", band=1.5, smoothness=2.0, click_radius=1.0, grabcut_smoothness=50.0,
                      soft_width=3.0, grabcut_passes=2)
HALF = int(os.environ.get("HALF", 8))     # refiner band half-width, plate px around grabcut's edge
BLOCK, PAD = int(os.environ.get("BLOCK", 64)), 16
CH = int(os.environ.get("CH", 24))

def load(p):
    z = np.load(p)
    d = {k: z[k] for k in z.files}
    d["clicks"] = [Click(float(x), float(y), bool(pos)) for x, y, pos in z["clicks"]]
    d["alpha"] = d["alpha"].astype(np.float32); d["truth"] = d["truth"].astype(np.float32)
    d["rgbf"] = d["rgb"].astype(np.float32) / 255
    d["factor"] = float(d["factor"])
    return d

def grabcut(d):
    return E.decide_edges(d["alpha"][None], d["rgbf"], d["clicks"], SHIPPED, d["factor"])[0]

def prep(dirs):
    for dd in dirs:
        out = Path(dd) / "prep"; out.mkdir(exist_ok=True)
        for f in sorted(Path(dd).glob("*.npz")):
            if (out / f.name).exists(): continue
            d = load(f); g = grabcut(d)
            np.savez_compressed(out / f.name, grab=g.astype(np.float16))
        print("prepped", dd, flush=True)

def refine_band(grab, half):
    inside = grab > 0.5
    edge = inside ^ ndimage.binary_erosion(inside, border_value=1)
    edge |= ~inside ^ ndimage.binary_erosion(~inside, border_value=1)
    return ndimage.binary_dilation(edge, iterations=half) if edge.any() else edge

class Refiner(nn.Module):
    def __init__(self, ch=CH, inputs=5):
        super().__init__()
        dil = [1, 2, 4, 8, 1]
        layers, c = [], inputs
        for k in dil:
            layers += [nn.Conv2d(c, ch, 3, padding=k, dilation=k), nn.ReLU(inplace=True)]; c = ch
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(ch, 1, 1)
    def forward(self, x):   # x (B, 5, H, W): rgb-0.5, net alpha-0.5, grab alpha-0.5 -> logit (B,1,H,W)
        return self.head(self.body(x)) + 6.0 * x[:, 4:5]

NONET = os.environ.get("NONET") == "1"
def features(d, grab):
    net = np.zeros_like(grab) + 0.5 if NONET else d["alpha"]
    return np.concatenate([d["rgbf"] - 0.5, net[..., None] - 0.5, grab[..., None] - 0.5], -1).transpose(2, 0, 1)

def apply(model, d, grab, half=HALF):
    band = refine_band(grab, half)
    pos, neg = E.click_disks(grab.shape, d["clicks"], d["factor"])
    band &= ~(pos | neg)
    out = grab.copy()
    if not band.any(): return out
    H, W = grab.shape
    feats = np.pad(features(d, grab), ((0, 0), (PAD, PAD + BLOCK), (PAD, PAD + BLOCK)), mode="edge")
    bh, bw = (H + BLOCK - 1) // BLOCK, (W + BLOCK - 1) // BLOCK
    cells = np.zeros((bh * BLOCK, bw * BLOCK), bool); cells[:H, :W] = band
    hit = cells.reshape(bh, BLOCK, bw, BLOCK).any(axis=(1, 3))
    ys, xs = np.nonzero(hit)
    S = BLOCK + 2 * PAD
    with torch.inference_mode():
        for s in range(0, len(ys), 256):
            batch = np.stack([feats[:, y * BLOCK:y * BLOCK + S, x * BLOCK:x * BLOCK + S] for y, x in zip(ys[s:s+256], xs[s:s+256])])
            prob = torch.sigmoid(model(torch.from_numpy(batch)))[:, 0, PAD:PAD + BLOCK, PAD:PAD + BLOCK].numpy()
            full = np.zeros((bh * BLOCK, bw * BLOCK), np.float32)
            for p, y, x in zip(prob, ys[s:s+256], xs[s:s+256]):
                full[y * BLOCK:(y + 1) * BLOCK, x * BLOCK:(x + 1) * BLOCK] = p
            sel = np.zeros((bh * BLOCK, bw * BLOCK), bool)
            for y, x in zip(ys[s:s+256], xs[s:s+256]):
                sel[y * BLOCK:(y + 1) * BLOCK, x * BLOCK:(x + 1) * BLOCK] = True
            sel = sel[:H, :W] & band
            out[sel] = full[:H, :W][sel]
    return out

def patches(files, n_per, rng, size=64):
    X, Y, M = [], [], []
    for f in files:
        d = load(f); grab = np.load(f.parent / "prep" / f.name)["grab"].astype(np.float32)
        band = refine_band(grab, HALF)
        pos, neg = E.click_disks(grab.shape, d["clicks"], d["factor"]); band &= ~(pos | neg)
        ys, xs = np.nonzero(band)
        if len(ys) == 0: continue
        feats = np.pad(features(d, grab), ((0, 0), (size, size), (size, size)), mode="edge")
        truth = np.pad(d["truth"], size, mode="edge"); bandp = np.pad(band, size)
        for k in rng.integers(0, len(ys), n_per):
            y, x = ys[k] + size - size // 2 + rng.integers(-8, 9), xs[k] + size - size // 2 + rng.integers(-8, 9)
            X.append(feats[:, y:y + size, x:x + size]); Y.append(truth[y:y + size, x:x + size]); M.append(bandp[y:y + size, x:x + size])
    return torch.from_numpy(np.stack(X)), torch.from_numpy(np.stack(Y))[:, None], torch.from_numpy(np.stack(M))[:, None]

def train(out, dirs, steps=int(os.environ.get("STEPS", 3000))):
    torch.manual_seed(0); rng = np.random.default_rng(0)
    files = [f for dd in dirs for f in sorted(Path(dd).glob("*.npz"))]
    t0 = time.time()
    X, Y, M = patches(files, 64, rng)
    print(f"{len(files)} states, {len(X)} patches in {time.time()-t0:.0f}s", flush=True)
    model = Refiner()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    c = PAD
    for step in range(steps):
        idx = torch.randint(0, len(X), (32,))
        x, y, m = X[idx].clone(), Y[idx], M[idx].float()
        if step % 2: x, y, m = x.flip(-1), y.flip(-1), m.flip(-1)
        if (step // 2) % 2: x, y, m = x.transpose(-1, -2), y.transpose(-1, -2), m.transpose(-1, -2)
        if os.environ.get("SHIFTNET"):
            k = int(os.environ["SHIFTNET"])
            for i in range(len(x)):
                if torch.rand(()) < 0.5:
                    dy, dx = (int(v) for v in torch.randint(-k, k + 1, (2,)))
                    x[i, 3] = torch.roll(x[i, 3], (dy, dx), (0, 1))
        x[:, :3] = x[:, :3] * torch.empty(len(x), 1, 1, 1).uniform_(0.6, 1.4) + torch.empty(len(x), 3, 1, 1).uniform_(-0.1, 0.1)
        logit = model(x)[..., c:-c, c:-c]; y, m = y[..., c:-c, c:-c], m[..., c:-c, c:-c]
        loss = (F.binary_cross_entropy_with_logits(logit, y, reduction="none") * m).sum() / m.sum().clamp(min=1)
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        if step % 250 == 0 or step == steps - 1:
            print(step, round(loss.item(), 4), f"{time.time()-t0:.0f}s", flush=True)
    torch.save(model.state_dict(), out)

def score(ckpt, dirs):
    model = Refiner(); model.load_state_dict(torch.load(ckpt)); model.eval()
    for dd in dirs:
        rows = {"shipped": [], "refined": []}; t = 0
        for f in sorted(Path(dd).glob("*.npz")):
            d = load(f); grab = np.load(f.parent / "prep" / f.name)["grab"].astype(np.float32)
            t0 = time.perf_counter(); r = apply(model, d, grab); t += time.perf_counter() - t0
            band = matting_band(d["truth"], boundary_width(*d["mask"].shape, MATTING_BAND_RATIO))
            for name, a in (("shipped", grab), ("refined", r)):
                m = matting_errors(a, d["truth"], band)
                rows[name].append([iou(a > 0.5, d["mask"]), boundary_iou_1px(a > 0.5, d["mask"]), m["sad"], m["mse"], m["gradient"]])
        for name, r in rows.items():
            r = np.mean(r, 0)
            print(f"{dd:45s} {name:8s} mIOU {r[0]:.3f} mBIOU {r[1]:.3f} SAD {r[2]:.2f} MSE {r[3]:.4f} Grad {r[4]:.3f}", flush=True)
        print(f"   refiner {t/len(rows['refined']):.3f} s/sample", flush=True)

if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("THREADS", 1)))
    cmd = sys.argv[1]
    if cmd == "prep": prep(sys.argv[2:])
    elif cmd == "train": train(sys.argv[2], sys.argv[3:])
    elif cmd == "score": score(sys.argv[2], sys.argv[3:])
