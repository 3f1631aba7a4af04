"""The training loss of HyperSeg, the paper's equations 1-5, per sample.

For a sample with truth Y (H, W) in {0, 1}, candidates f_m (M, H, W) in [0, 1] and click masks
S_p, S_n (H, W) in {0, 1}:

  L = min_m [ l(Y, f_m) + l_IC(S_p, S_n, f_m) ]                   Jaccard + interactive context
    + sum_m lambda_m l(Y, f_m),  lambda_m = 1e-2 * 2^(M - m)       ranked diversity (m = 1..M)
    + sum_m l_dPHL(Y, f_m)                                         boundary pseudo-Huber

  l(A, B)           = 1 - sum_p min(A, B) / sum_p max(A, B)                           (eq. 4)
  l_IC(S_p, S_n, A) = |S_p * (S_p - A)|_1 + |S_n * (S_n - (1 - A))|_1                  (eq. 5)
  l_dPHL(Y, f_m)    = sum over the pixels p of the largest outer contour of (f_m > 0.5) of
                      delta^2 (sqrt(1 + ((Y(p) - f_m(p)) / delta)^2) - 1)               (eq. 2)

Pixels marked void (DAVIS 255) take no part in any term. The boundary term can be weighted or
switched off (the 'no boundary loss' ablation). One term that is NOT the paper's can be added
(cross_entropy_weight > 0, off by default): the per-pixel binary cross-entropy of the winning
candidate f_b, mean over valid pixels. Its gradient on the network's logit is f_b - Y, which
does not vanish on confidently wrong pixels, where the Jaccard's gradient is scaled by the
saturated sigmoid's f (1 - f). A batch's loss is the mean of its samples'
(the paper's sum over the data set, up to a constant that Adam does not see).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage


@dataclass
class LossConfig:
    """boundary: include eq. 1 (the 'no boundary loss' ablation sets it False); boundary_weight
    multiplies it (1 = the paper); boundary_delta is the pseudo-Huber delta (large: severe, close
    to r^2 / 2 for |r| <= 1); diversity_scale is the 1e-2 of lambda_m; cross_entropy_weight:
    weight of the added cross-entropy term (not the paper's; 0 = off)."""

    boundary: bool = True
    boundary_weight: float = 1.0
    boundary_delta: float = 10.0
    diversity_scale: float = 1e-2
    cross_entropy_weight: float = 0.0


@dataclass(frozen=True)
class LossTerms:
    """One sample's loss and its parts (0-d tensors); `total` is what is minimised."""

    total: torch.Tensor
    jaccard_ic: torch.Tensor  # min_m of Jaccard + interactive context
    diversity: torch.Tensor
    boundary: torch.Tensor
    cross_entropy: torch.Tensor  # 0 unless cross_entropy_weight > 0
    best: int  # the candidate that achieved the minimum (0-based)


def jaccard_loss(truth: torch.Tensor, candidates: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 4 per candidate. truth (H, W), candidates (M, H, W), valid (H, W) or None -> (M,).

    0 when both are empty (nothing to get wrong).
    """
    intersection = torch.minimum(candidates, truth)
    union = torch.maximum(candidates, truth)
    if valid is not None:
        intersection, union = intersection * valid, union * valid
    intersection, union = intersection.sum(dim=(-2, -1)), union.sum(dim=(-2, -1))
    return torch.where(union > 0, 1.0 - intersection / union.clamp_min(1e-12), torch.zeros_like(union))


def interactive_context_loss(positive: torch.Tensor, negative: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """Eq. 5 per candidate. positive, negative (H, W) click masks in {0, 1}; candidates (M, H, W) -> (M,)."""
    on_positive = (positive * (positive - candidates)).abs().sum(dim=(-2, -1))
    on_negative = (negative * (negative - (1.0 - candidates))).abs().sum(dim=(-2, -1))
    return on_positive + on_negative


def diversity_weights(candidates: int, scale: float = 1e-2) -> torch.Tensor:
    """lambda_m = scale * 2^(M - m) for m = 1..M, shape (M,): decreasing, candidate 1 weighted most."""
    return scale * 2.0 ** torch.arange(candidates - 1, -1, -1, dtype=torch.float32)


def largest_outer_contour(binary: np.ndarray) -> np.ndarray:
    """Pixels of the largest outer contour of a (H, W) bool mask, as a (H, W) bool mask.

    Each 8-connected component's holes are filled (holes: background not 4-connected to the
    frame edge); its outer contour is its pixels that touch (4-neighbourhood) a pixel outside it
    or the frame edge. The component whose contour has the most pixels wins. All False when the
    mask is empty.
    """
    background, _ = ndimage.label(~binary)
    edge = np.concatenate([background[0], background[-1], background[:, 0], background[:, -1]])
    filled = ~np.isin(background, edge[edge > 0])
    components, _ = ndimage.label(filled, structure=np.ones((3, 3), dtype=bool))
    contour = filled & ~ndimage.binary_erosion(filled, border_value=0)
    if not contour.any():
        return contour
    lengths = np.bincount(components[contour])
    lengths[0] = 0
    return contour & (components == lengths.argmax())


def pseudo_huber(residual: torch.Tensor, delta: float) -> torch.Tensor:
    """delta^2 (sqrt(1 + (r / delta)^2) - 1), elementwise."""
    return delta**2 * (torch.sqrt(1.0 + (residual / delta) ** 2) - 1.0)


def boundary_loss(truth: torch.Tensor, candidates: torch.Tensor, delta: float, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 2 per candidate. truth (H, W), candidates (M, H, W) -> (M,).

    The contour is found on the thresholded candidate (no gradient flows through its choice);
    the loss is summed over its pixels.
    """
    binary = (candidates.detach() > 0.5).cpu().numpy()
    contours = torch.from_numpy(np.stack([largest_outer_contour(b) for b in binary])).to(candidates.device)
    weights = contours.to(candidates.dtype)
    if valid is not None:
        weights = weights * valid
    return (pseudo_huber(truth - candidates, delta) * weights).sum(dim=(-2, -1))


def cross_entropy_loss(truth: torch.Tensor, candidate: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Mean binary cross-entropy of one candidate (H, W) against truth (H, W) over valid pixels -> 0-d."""
    per_pixel = F.binary_cross_entropy(candidate, truth, reduction="none")
    if valid is None:
        return per_pixel.mean()
    return (per_pixel * valid).sum() / valid.sum().clamp_min(1.0)


def hyperseg_loss(
    candidates: torch.Tensor,
    truth: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    config: LossConfig,
    valid: torch.Tensor | None = None,
) -> LossTerms:
    """Eq. 3 for one sample. candidates (M, H, W) in [0, 1]; truth, positive, negative, valid (H, W).

    Computed in float32 whatever the candidates' dtype (mixed precision).
    """
    candidates = candidates.float()
    truth = truth.to(candidates)
    valid = None if valid is None else valid.to(candidates)
    jaccard = jaccard_loss(truth, candidates, valid)
    matching = jaccard + interactive_context_loss(positive.to(candidates), negative.to(candidates), candidates)
    best = int(matching.argmin())
    weights = diversity_weights(candidates.shape[0], config.diversity_scale).to(candidates.device)
    diversity = (weights * jaccard).sum()
    if config.boundary:
        boundary = config.boundary_weight * boundary_loss(truth, candidates, config.boundary_delta, valid).sum()
    else:
        boundary = candidates.new_zeros(())
    if config.cross_entropy_weight > 0:
        cross_entropy = config.cross_entropy_weight * cross_entropy_loss(truth, candidates[best], valid)
    else:
        cross_entropy = candidates.new_zeros(())
    total = matching[best] + diversity + boundary + cross_entropy
    return LossTerms(total, matching[best], diversity, boundary, cross_entropy, best)
