# Issue 23 edge-stage lab (session 10): candidates screened on recorded inputs; see docs/notes/issue23-grabcut.md.
"""Score edge-stage variants on recorded inputs. usage: python lab.py DIR variant..."""
import sys, time
from pathlib import Path
import numpy as np
from scipy import ndimage
from hyperseg_vfx.clicks import Click
from hyperseg_vfx.config import EdgesConfig
from hyperseg_vfx.modeling import edges as E
from hyperseg_vfx.evaluation.metrics import iou, boundary_iou_1px, matting_band, matting_errors, boundary_width
from hyperseg_vfx.evaluation.harness import MATTING_BAND_RATIO

def load(p):
    z = np.load(p)
    clicks = [Click(float(x), float(y), bool(pos)) for x, y, pos in z["clicks"]]
    return dict(alpha=z["alpha"].astype(np.float32), rgb=z["rgb"].astype(np.float32) / 255, mask=z["mask"],
                truth=z["truth"].astype(np.float32), clicks=clicks, factor=float(z["factor"]))

VARIANTS = {}
def variant(f):
    VARIANTS[f.__name__] = f
    return f

@variant
def none(d):
    return d["alpha"]

def gc(d, **kw):
    cfg = dict(method="graphcut", band=1.5, smoothness=2.0, click_radius=1.0); cfg.update(kw)
    return E.decide_edges(d["alpha"][None], d["rgb"], d["clicks"], EdgesConfig(**cfg), d["factor"])[0]

@variant
def shipped(d): return gc(d)
@variant
def b3(d): return gc(d, band=3.0)
@variant
def b3s1(d): return gc(d, band=3.0, smoothness=1.0)

def run(dirname, names):
    files = sorted(Path(dirname).glob("*.npz"))
    data = [load(f) for f in files]
    print(f"{dirname}: {len(data)} samples")
    for name in names:
        rows, t = [], 0.0
        for d in data:
            t0 = time.perf_counter(); a = VARIANTS[name](d); t += time.perf_counter() - t0
            pred = a > 0.5
            band = matting_band(d["truth"], boundary_width(*d["mask"].shape, MATTING_BAND_RATIO))
            m = matting_errors(a, d["truth"], band)
            rows.append([iou(pred, d["mask"]), boundary_iou_1px(pred, d["mask"]), m["sad"], m["mse"], m["gradient"]])
        r = np.mean(rows, axis=0)
        print(f"  {name:14s} mIOU {r[0]:.3f} mBIOU {r[1]:.3f} SAD {r[2]:.2f} MSE {r[3]:.4f} Grad {r[4]:.2f}  {t/len(data):.2f} s/sample", flush=True)


def settings(d, band=1.5):
    return E.settings_for(EdgesConfig(method="graphcut", band=band, smoothness=2.0, click_radius=1.0), d["factor"])

def projection(d, band=1.5, sigma=1.0, offset=1):
    """alpha from the colour line between the nearest sure-fg and sure-bg colours."""
    s = settings(d, band)
    a, rgb = d["alpha"], d["rgb"]
    b = E.band_mask(a, s.factor, s.half_width)
    fg = ~b & (a > 0.5); bg = ~b & (a <= 0.5)
    smooth = ndimage.gaussian_filter(rgb, (sigma, sigma, 0)) if sigma else rgb
    _, fi = ndimage.distance_transform_edt(~fg, return_indices=True)
    _, bi = ndimage.distance_transform_edt(~bg, return_indices=True)
    F = smooth[fi[0], fi[1]]; B = smooth[bi[0], bi[1]]
    diff = F - B
    est = np.clip(((rgb - B) * diff).sum(-1) / ((diff * diff).sum(-1) + 1e-6), 0, 1)
    return b, est, (diff * diff).sum(-1)

@variant
def proj(d):
    b, est, _ = projection(d)
    out = d["alpha"].copy(); out[b] = est[b]; return out

@variant
def proj_b3(d):
    b, est, _ = projection(d, band=3.0)
    out = d["alpha"].copy(); out[b] = est[b]; return out

@variant
def proj_conf(d):
    b, est, c2 = projection(d)
    w = c2 / (c2 + 0.01)
    p = np.clip(d["alpha"], 1e-4, 1 - 1e-4); e = np.clip(est, 1e-3, 1 - 1e-3)
    logit = (1 - w) * np.log(p / (1 - p)) + w * np.log(e / (1 - e))
    out = d["alpha"].copy(); out[b] = (1 / (1 + np.exp(-logit)))[b]; return out


def oracle(d, band):
    s = settings(d, band); b = E.band_mask(d["alpha"], s.factor, s.half_width)
    out = d["alpha"].copy(); out[b] = d["mask"][b]; return out
@variant
def oracle15(d): return oracle(d, 1.5)
@variant
def oracle3(d): return oracle(d, 3.0)
@variant
def oracle6(d): return oracle(d, 6.0)

import cv2

def grabcut(d, band=1.5, iters=2, ring=None, margin=None):
    s = settings(d, band); a = d["alpha"]
    b = E.band_mask(a, s.factor, s.half_width)
    mask = np.where(a > 0.5, cv2.GC_FGD, cv2.GC_BGD).astype(np.uint8)
    mask[b] = np.where(a[b] > 0.5, cv2.GC_PR_FGD, cv2.GC_PR_BGD)
    if ring is not None:  # only pixels within ring px of the band train the GMMs: crop to bbox of dilated band
        pass
    img = (np.clip(d["rgb"], 0, 1) * 255 + 0.5).astype(np.uint8)[..., ::-1].copy()
    ys, xs = np.nonzero(b)
    m = margin if margin is not None else int(s.half_width * 3)
    y0, y1 = max(0, ys.min() - m), min(a.shape[0], ys.max() + m + 1)
    x0, x1 = max(0, xs.min() - m), min(a.shape[1], xs.max() + m + 1)
    sub = mask[y0:y1, x0:x1].copy()
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(img[y0:y1, x0:x1], sub, None, bgd, fgd, iters, cv2.GC_INIT_WITH_MASK)
    out = a.copy()
    res = (sub == cv2.GC_FGD) | (sub == cv2.GC_PR_FGD)
    out[y0:y1, x0:x1][b[y0:y1, x0:x1]] = res[b[y0:y1, x0:x1]]
    return out

@variant
def grab(d): return grabcut(d)
@variant
def grab1(d): return grabcut(d, iters=1)
@variant
def grab_b3(d): return grabcut(d, band=3.0)


def cfmatte(d, band=1.5, method="cf", eps=1e-7, margin=4):
    import pymatting
    s = settings(d, band); a = d["alpha"]
    b = E.band_mask(a, s.factor, s.half_width)
    trimap = np.where(a > 0.5, 1.0, 0.0); trimap[b] = 0.5
    ys, xs = np.nonzero(b)
    y0, y1 = max(0, ys.min() - margin), min(a.shape[0], ys.max() + margin + 1)
    x0, x1 = max(0, xs.min() - margin), min(a.shape[1], xs.max() + margin + 1)
    img = np.clip(d["rgb"][y0:y1, x0:x1], 0, 1).astype(np.float64)
    tri = trimap[y0:y1, x0:x1]
    if method == "cf":
        est = pymatting.estimate_alpha_cf(img, tri, laplacian_kwargs=dict(epsilon=eps))
    elif method == "knn":
        est = pymatting.estimate_alpha_knn(img, tri)
    elif method == "lkm":
        est = pymatting.estimate_alpha_lkm(img, tri)
    out = a.copy(); sub = out[y0:y1, x0:x1]; bb = b[y0:y1, x0:x1]
    sub[bb] = np.clip(est, 0, 1)[bb]
    return out

@variant
def cf(d): return cfmatte(d)
@variant
def cf_b3(d): return cfmatte(d, band=3.0)
@variant
def knn(d): return cfmatte(d, method="knn")


from scipy.cluster.vq import kmeans2

def fit_gmm(x, k=5, seed=0):
    """x (N,3) -> list of (weight, mean, inv_cov, logdet) from k-means clusters (one hard-EM step)."""
    if len(x) > 20000:
        x = x[np.random.default_rng(seed).choice(len(x), 20000, replace=False)]
    _, lab = kmeans2(x.astype(np.float64), k, seed=seed, minit="++")
    comps = []
    for j in range(k):
        xs = x[lab == j]
        if len(xs) < 4: continue
        mu = xs.mean(0); cov = np.cov(xs.T) + np.eye(3) * 1e-4
        comps.append((len(xs) / len(x), mu, np.linalg.inv(cov), np.linalg.slogdet(cov)[1]))
    return comps

def gmm_nll(comps, x):
    ll = []
    for w, mu, icov, logdet in comps:
        d = x - mu
        ll.append(np.log(w) - 0.5 * logdet - 0.5 * np.einsum("ni,ij,nj->n", d, icov, d))
    ll = np.stack(ll)
    m = ll.max(0)
    return -(m + np.log(np.exp(ll - m).sum(0)))

def colourcut(d, band=1.5, ring=1.0, smooth=2.0, prior=1.0, k=5, cap=None, include_band=None, iters=1):
    """GMM colour unaries fitted on rings just inside/outside the band + network prior; band maxflow."""
    import maxflow
    s = settings(d, band); a, rgb = d["alpha"], d["rgb"]
    pos, neg = E.click_disks(a.shape, d["clicks"], s.click_radius)
    b = E.band_mask(a, s.factor, s.half_width)
    ringw = max(2, int(round(ring * s.half_width)))
    outer = ndimage.binary_dilation(b, iterations=ringw) & ~b
    fg_ring, bg_ring = outer & (a > 0.5), outer & (a <= 0.5)
    b = b | pos | neg
    if fg_ring.sum() < 20 or bg_ring.sum() < 20:
        return gc(d)
    x = rgb[b].astype(np.float64)
    if include_band is not None:  # band pixels join the samples with the given labels (grabCut's iteration)
        fg_x = np.concatenate([rgb[fg_ring], x[include_band]]); bg_x = np.concatenate([rgb[bg_ring], x[~include_band]])
    else:
        fg_x, bg_x = rgb[fg_ring], rgb[bg_ring]
    F, B = fit_gmm(fg_x, k), fit_gmm(bg_x, k)
    nf, nb = gmm_nll(F, x), gmm_nll(B, x)
    if cap is not None:
        nf, nb = np.minimum(nf - np.minimum(nf, nb), cap), np.minimum(nb - np.minimum(nf, nb), cap)
    p = np.clip(a[b].astype(np.float64), 1e-4, 1 - 1e-4)
    source = nb + prior * -np.log(1 - p) / s.factor  # paid when bg
    sink = nf + prior * -np.log(p) / s.factor
    count = int(b.sum()); index = np.full(a.shape, -1, np.int64); index[b] = np.arange(count)
    pairs = E._neighbour_pairs(b, rgb)
    wts = smooth * np.exp(-E._beta(pairs) * pairs.squared)
    inside = pairs.second_in_band
    g = maxflow.Graph[float](count, int(inside.sum())); g.add_nodes(count)
    f1, f2 = index.ravel()[pairs.first], index.ravel()[pairs.second]
    g.add_edges(f1[inside], f2[inside], wts[inside], wts[inside])
    bd = ~inside; fixed = (a > 0.5).ravel()[pairs.second[bd]]; nodes, w = f1[bd], wts[bd]
    source = source + np.bincount(nodes[fixed], w[fixed], minlength=count)
    sink = sink + np.bincount(nodes[~fixed], w[~fixed], minlength=count)
    source[pos[b]] = 1e9; sink[neg[b]] = 1e9
    g.add_grid_tedges(np.arange(count), source, sink); g.maxflow()
    seg = ~g.get_grid_segments(np.arange(count))
    if iters > 1:
        return colourcut(d, band, ring, smooth, prior, k, cap, include_band=seg, iters=iters - 1)
    out = a.copy(); out[b] = seg.astype(np.float32)
    return out

for _n, _kw in {"cc": {}, "cc_s1": dict(smooth=1.0), "cc_s05": dict(smooth=0.5), "cc_s4": dict(smooth=4.0),
                "cc_b3": dict(band=3.0), "cc_b3_s1": dict(band=3.0, smooth=1.0), "cc_p0": dict(prior=0.0),
                "cc_p3": dict(prior=3.0), "cc_ring2": dict(ring=2.0), "cc_k3": dict(k=3), "cc_k8": dict(k=8)}.items():
    VARIANTS[_n] = (lambda kw: (lambda d: colourcut(d, **kw)))(_kw)

for _n, _kw in {"cc_s20": dict(smooth=20.0), "cc_s50": dict(smooth=50.0), "cc_s50_b3": dict(smooth=50.0, band=3.0),
                "cc_s50_p10": dict(smooth=50.0, prior=10.0), "cc_s20_p5": dict(smooth=20.0, prior=5.0)}.items():
    VARIANTS[_n] = (lambda kw: (lambda d: colourcut(d, **kw)))(_kw)


for _n, _kw in {"cc_r3_s50": dict(ring=3.0, smooth=50.0), "cc_r3_s50_i2": dict(ring=3.0, smooth=50.0, iters=2),
                "cc_s50_i2": dict(smooth=50.0, iters=2), "cc_r3_s20": dict(ring=3.0, smooth=20.0),
                "cc_r6_s50": dict(ring=6.0, smooth=50.0)}.items():
    VARIANTS[_n] = (lambda kw: (lambda d: colourcut(d, **kw)))(_kw)


def cv_models(d, band=1.5, stride=None, iters=1, margin_mult=3):
    """GMMs (OpenCV grabCut's, in BGR 0-255) learned on a crop around the band, optionally strided."""
    s = settings(d, band); a = d["alpha"]
    b = E.band_mask(a, s.factor, s.half_width)
    mask = np.where(a > 0.5, cv2.GC_FGD, cv2.GC_BGD).astype(np.uint8)
    mask[b] = np.where(a[b] > 0.5, cv2.GC_PR_FGD, cv2.GC_PR_BGD)
    img = (np.clip(d["rgb"], 0, 1) * 255 + 0.5).astype(np.uint8)[..., ::-1].copy()
    ys, xs = np.nonzero(b); m = int(s.half_width * margin_mult)
    y0, y1 = max(0, ys.min() - m), min(a.shape[0], ys.max() + m + 1)
    x0, x1 = max(0, xs.min() - m), min(a.shape[1], xs.max() + m + 1)
    st = stride or max(1, s.factor // 2)
    sub_img = np.ascontiguousarray(img[y0:y1:st, x0:x1:st]); sub = np.ascontiguousarray(mask[y0:y1:st, x0:x1:st])
    bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.grabCut(sub_img, sub, None, bgd, fgd, iters, cv2.GC_INIT_WITH_MASK)
    def comps(model):
        c = model[0]; out = []
        for j in range(5):
            w = c[j]
            if w <= 0: continue
            mu = c[5 + 3 * j: 8 + 3 * j]; cov = c[20 + 9 * j: 29 + 9 * j].reshape(3, 3) + np.eye(3) * 0.01
            out.append((w, mu, np.linalg.inv(cov), np.linalg.slogdet(cov)[1]))
        return out
    return comps(fgd), comps(bgd), img

def cvcut(d, band=1.5, smooth=50.0, prior=0.0, stride=None, iters=1):
    import maxflow
    s = settings(d, band); a, rgb = d["alpha"], d["rgb"]
    F, Bm, img = cv_models(d, band, stride, iters)
    if not F or not Bm:
        return gc(d)
    pos, neg = E.click_disks(a.shape, d["clicks"], s.click_radius)
    b = E.band_mask(a, s.factor, s.half_width) | pos | neg
    x = img[b].astype(np.float64)
    nf, nb = gmm_nll(F, x), gmm_nll(Bm, x)
    p = np.clip(a[b].astype(np.float64), 1e-4, 1 - 1e-4)
    source = nb + prior * -np.log(1 - p) / s.factor
    sink = nf + prior * -np.log(p) / s.factor
    count = int(b.sum()); index = np.full(a.shape, -1, np.int64); index[b] = np.arange(count)
    pairs = E._neighbour_pairs(b, rgb)
    wts = smooth * np.exp(-E._beta(pairs) * pairs.squared)
    inside = pairs.second_in_band
    g = maxflow.Graph[float](count, int(inside.sum())); g.add_nodes(count)
    f1, f2 = index.ravel()[pairs.first], index.ravel()[pairs.second]
    g.add_edges(f1[inside], f2[inside], wts[inside], wts[inside])
    bd = ~inside; fixed = (a > 0.5).ravel()[pairs.second[bd]]; nodes, w = f1[bd], wts[bd]
    source = source + np.bincount(nodes[fixed], w[fixed], minlength=count)
    sink = sink + np.bincount(nodes[~fixed], w[~fixed], minlength=count)
    source[pos[b]] = 1e9; sink[neg[b]] = 1e9
    g.add_grid_tedges(np.arange(count), source, sink); g.maxflow()
    out = a.copy(); out[b] = (~g.get_grid_segments(np.arange(count))).astype(np.float32)
    return out

for _n, _kw in {"cv": {}, "cv_st1": dict(stride=1), "cv_s20": dict(smooth=20.0), "cv_p1": dict(prior=1.0),
                "cv_i2": dict(iters=2), "cv_b3": dict(band=3.0)}.items():
    VARIANTS[_n] = (lambda kw: (lambda d: cvcut(d, **kw)))(_kw)


def cvsoft(d, zone=3, sigma=1.0, temp=1.0, **kw):
    """cvcut, then within `zone` px of the cut's boundary alpha = the GMM posterior (smoothed)."""
    s = settings(d, kw.get("band", 1.5)); a = d["alpha"]
    cut = cvcut(d, **kw)
    F, Bm, img = cv_models(d, kw.get("band", 1.5), kw.get("stride"), kw.get("iters", 1))
    if not F or not Bm:
        return cut
    b = E.band_mask(a, s.factor, s.half_width)
    hard = cut > 0.5
    edge = hard ^ ndimage.binary_erosion(hard) | (~hard ^ ndimage.binary_erosion(~hard))
    z = ndimage.binary_dilation(edge, iterations=zone) & b
    ys, xs = np.nonzero(z)
    x = img[z].astype(np.float64)
    llr = (gmm_nll(Bm, x) - gmm_nll(F, x)) / temp
    post = np.zeros(a.shape); post[z] = 1 / (1 + np.exp(-np.clip(llr, -30, 30)))
    if sigma:
        wz = ndimage.gaussian_filter(z.astype(float), sigma); post = ndimage.gaussian_filter(post, sigma) / np.maximum(wz, 1e-6)
    out = cut.copy(); out[z] = post[z].astype(np.float32)
    pos, neg = E.click_disks(a.shape, d["clicks"], s.click_radius)
    out[pos] = 1; out[neg] = 0
    return out

for _n, _kw in {"cvs": dict(iters=2), "cvs_z2": dict(iters=2, zone=2), "cvs_z5": dict(iters=2, zone=5),
                "cvs_sig0": dict(iters=2, sigma=0), "cvs_t5": dict(iters=2, temp=5.0), "cvs_p1": dict(prior=1.0)}.items():
    VARIANTS[_n] = (lambda kw: (lambda d: cvsoft(d, **kw)))(_kw)

@variant
def grabcut_impl(d): return gc(d, method="grabcut")
@variant
def grabcut_hard(d): return gc(d, method="grabcut", soft_width=0.0)


def proj_soften(d, soft_width=3, sigma=1.0, mix=None):
    from hyperseg_vfx.modeling import colour_models as CM
    cfg = EdgesConfig(method="grabcut", soft_width=0.0)
    s = E.settings_for(cfg, d["factor"]); a, plate = d["alpha"], d["rgb"]
    hard = E.grabcut_band(a, plate, d["clicks"], s)
    band, pos, neg = E._band_and_disks(a, d["clicks"], s)
    eb = band & ~(pos | neg)
    if not eb.any(): return hard
    models = CM.learn(plate, a, eb, margin=int(np.ceil(3 * s.half_width)), stride=max(1, s.factor // 2))
    if models is None: return hard
    inside = hard > 0.5
    edge = (inside ^ ndimage.binary_erosion(inside, border_value=1)) | (~inside ^ ndimage.binary_erosion(~inside, border_value=1))
    zone = ndimage.binary_dilation(edge, iterations=soft_width) & band
    px = CM.to_8bit(plate[zone]).astype(np.float64)
    def best_mean(m):
        ll = []
        for w, mu, inv, ld in zip(m.weights, m.means, m.inverses, m.log_dets):
            dd = px - mu; ll.append(np.log(w) - 0.5 * ld - 0.5 * np.einsum("ni,ij,nj->n", dd, inv, dd))
        return m.means[np.argmax(np.stack(ll), 0)]
    mf, mb = best_mean(models.foreground), best_mean(models.background)
    diff = mf - mb
    al = np.clip(((px - mb) * diff).sum(1) / np.maximum((diff * diff).sum(1), 1e-6), 0, 1)
    out = hard.copy()
    if sigma:
        full = np.zeros(a.shape); full[zone] = al
        wgt = ndimage.gaussian_filter(zone.astype(float), sigma); sm = ndimage.gaussian_filter(full, sigma) / np.maximum(wgt, 1e-12)
        al = sm[zone]
    out[zone] = al
    out[pos] = 1; out[neg] = 0
    return out

@variant
def gproj(d): return proj_soften(d)
@variant
def gproj_s0(d): return proj_soften(d, sigma=0)
@variant
def gproj_z2(d): return proj_soften(d, soft_width=2)

for _n, _kw in {"g_s20": dict(grabcut_smoothness=20.0), "g_s100": dict(grabcut_smoothness=100.0),
                "g_b2": dict(band=2.0), "g_b1": dict(band=1.0), "g_w2": dict(soft_width=2.0), "g_w4": dict(soft_width=4.0),
                "g_w1": dict(soft_width=1.0)}.items():
    VARIANTS[_n] = (lambda kw: (lambda d: gc(d, method="grabcut", **kw)))(_kw)

@variant
def g_twice(d):
    first = gc(d, method="grabcut")
    return gc(dict(d, alpha=first), method="grabcut")
@variant
def g_twice_hard(d):
    first = gc(d, method="grabcut", soft_width=0.0)
    return gc(dict(d, alpha=first), method="grabcut")

@variant
def g_thrice(d):
    a = d["alpha"]
    for _ in range(3):
        a = gc(dict(d, alpha=a), method="grabcut")
    return a
@variant
def g_twice_hard_then_soft(d):
    a = gc(d, method="grabcut", soft_width=0.0)
    a = gc(dict(d, alpha=a), method="grabcut", soft_width=0.0)
    return gc(dict(d, alpha=a), method="grabcut")

if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2:])
