"""Colour models of a matte's foreground and background near its edge, learned by OpenCV's GrabCut.

The band stage's "grabcut" method (modeling/edges.py) decides each band pixel by which colour
distribution it belongs to, as GrabCut does (Rother, Kolmogorov and Blake, SIGGRAPH 2004): a
Gaussian mixture of 5 components for the foreground and one for the background, in 8-bit RGB.
Colour says where the object ends even where a stronger edge lies nearby inside it (a stripe,
a shadow, a motion-blur step), which the contrast-only graph cut cannot tell apart.

The mixtures are learned by `cv2.grabCut` itself (k-means initialisation, then `iterations`
rounds of fitting and cutting), on a crop around the band taken every `stride`-th pixel: the
pixels outside the band are fixed to the matte's label (GC_FGD / GC_BGD), the band's pixels are
probable foreground or background by the matte (GC_PR_FGD / GC_PR_BGD). The fitted models are
read back from OpenCV's model arrays and evaluated on the full-resolution band by `costs`.
OpenCV's k-means seeds from its thread's RNG, which is reseeded before every fit so that the same
inputs always give the same models.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Mixture components per label (OpenCV's GrabCut uses 5; its model array holds
#: 5 weights, then 5 RGB means, then 5 row-major 3x3 covariances: 65 float64).
COMPONENTS = 5
#: Fewest pixels of each label the strided crop must hold for a fit (else no models).
MIN_SAMPLES = 16


@dataclass(frozen=True)
class Mixture:
    """One label's Gaussian mixture in 8-bit RGB units: weights (K,), means (K, 3), inverse
    covariances (K, 3, 3), log-determinants of the covariances (K,)."""

    weights: np.ndarray
    means: np.ndarray
    inverses: np.ndarray
    log_dets: np.ndarray

    @classmethod
    def from_opencv(cls, model: np.ndarray) -> "Mixture | None":
        """The mixture in an OpenCV GrabCut model array (1, 65), components of weight 0 left out;
        None when none is left."""
        coefs = model.reshape(-1)
        weights = coefs[:COMPONENTS]
        means = coefs[COMPONENTS : 4 * COMPONENTS].reshape(COMPONENTS, 3)
        covariances = coefs[4 * COMPONENTS :].reshape(COMPONENTS, 3, 3)
        keep = weights > 0
        if not keep.any():
            return None
        signs, log_dets = np.linalg.slogdet(covariances[keep])
        if (signs <= 0).any():
            return None
        return cls(weights[keep], means[keep], np.linalg.inv(covariances[keep]), log_dets)

    def negative_log_likelihood(self, pixels: np.ndarray) -> np.ndarray:
        """(N, 3) 8-bit-unit RGB -> (N,) -log p(colour | label) (up to a constant shared by labels)."""
        logs = []
        for weight, mean, inverse, log_det in zip(self.weights, self.means, self.inverses, self.log_dets):
            d = pixels - mean
            logs.append(np.log(weight) - 0.5 * log_det - 0.5 * np.einsum("ni,ij,nj->n", d, inverse, d))
        stacked = np.stack(logs)
        peak = stacked.max(axis=0)
        return -(peak + np.log(np.exp(stacked - peak).sum(axis=0)))


@dataclass(frozen=True)
class ColourModels:
    """The foreground and background mixtures of one matte's edge region."""

    foreground: Mixture
    background: Mixture

    def costs(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) float RGB in [0, 1] -> (-log p(colour | fg), -log p(colour | bg)), each (N,)."""
        pixels = to_8bit(rgb).astype(np.float64)
        return self.foreground.negative_log_likelihood(pixels), self.background.negative_log_likelihood(pixels)


def to_8bit(rgb: np.ndarray) -> np.ndarray:
    """Float RGB in [0, 1] (values outside are clipped) -> uint8, as GrabCut takes it."""
    return (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def learn(plate: np.ndarray, alpha: np.ndarray, band: np.ndarray, margin: int, stride: int,
          iterations: int = 2) -> ColourModels | None:
    """Mixtures of the foreground and background around `band`, learned by cv2.grabCut.

    plate (H, W, 3) float RGB in [0, 1]; alpha (H, W) the matte (label: alpha > 0.5); band (H, W)
    bool, not empty. The crop is the band's bounding box grown by `margin` px, sampled every
    `stride`-th pixel. None when the crop holds fewer than MIN_SAMPLES pixels of either label.
    """
    rows, cols = np.nonzero(band)
    top, bottom = max(0, rows.min() - margin), min(band.shape[0], rows.max() + margin + 1)
    left, right = max(0, cols.min() - margin), min(band.shape[1], cols.max() + margin + 1)
    window = (slice(top, bottom, stride), slice(left, right, stride))
    inside = alpha[window] > 0.5
    if min(np.count_nonzero(inside), np.count_nonzero(~inside)) < MIN_SAMPLES:
        return None
    mask = np.where(inside, cv2.GC_FGD, cv2.GC_BGD).astype(np.uint8)
    uncertain = band[window]
    mask[uncertain] = np.where(inside[uncertain], cv2.GC_PR_FGD, cv2.GC_PR_BGD)
    image = np.ascontiguousarray(to_8bit(plate[window]))
    background, foreground = np.zeros((1, 13 * COMPONENTS)), np.zeros((1, 13 * COMPONENTS))
    cv2.setRNGSeed(0)
    cv2.grabCut(image, mask, None, background, foreground, iterations, cv2.GC_INIT_WITH_MASK)
    fg, bg = Mixture.from_opencv(foreground), Mixture.from_opencv(background)
    return None if fg is None or bg is None else ColourModels(fg, bg)
