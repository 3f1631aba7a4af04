"""Depth-only Tucker compression of backbone features (paper section 2.2).

For one tap, the features of many frames form a C x N matrix (channels x pixels). A Tucker
decomposition that compresses only the channel mode (a partial Tucker / HOSVD) is the top-r left
singular vectors U (C x r) of that matrix; the compressed features are U^T f (r channels).
The factors are fitted once on many frames and stored with the model: a per-frame basis would
change meaning from frame to frame.

Two fits that span the same subspace:
  fit_factor_tensorly  tensorly's partial_tucker on an in-memory C x N sample;
  StreamingTuckerFit   accumulates the C x C Gram matrix F F^T over any number of frames in
                       float64 and takes its top-r eigenvectors, for datasets that do not fit in
                       memory.
Signs are canonical (largest-magnitude entry of each column positive) so factors are reproducible.
"""

from __future__ import annotations

import numpy as np
import torch


def canonical_signs(factor: np.ndarray) -> np.ndarray:
    """Flip columns so the largest-magnitude entry of each is positive. (C, r) -> (C, r)."""
    pivots = factor[np.abs(factor).argmax(axis=0), np.arange(factor.shape[1])]
    return factor * np.where(pivots < 0, -1.0, 1.0)


def fit_factor_tensorly(samples: np.ndarray, rank: int) -> np.ndarray:
    """Channel-mode factor of a (C, N) sample with tensorly's partial Tucker. Returns (C, rank)."""
    import tensorly as tl
    from tensorly.decomposition import partial_tucker

    tl.set_backend("numpy")
    (_core, factors), _errors = partial_tucker(samples.astype(np.float64), rank=[rank], modes=[0], init="svd")
    return canonical_signs(np.asarray(factors[0]))


class StreamingTuckerFit:
    """Accumulates per-tap Gram matrices over frames, then solves for the factors.

    update(features): features is a list, one (N, C_k, h, w) tensor per tap.
    factors(): list of (C_k, r_k) float32 tensors with orthonormal columns.
    """

    def __init__(self, channels: tuple[int, ...], ranks: tuple[int, ...]):
        self.ranks = ranks
        self.grams = [np.zeros((c, c), dtype=np.float64) for c in channels]
        self.pixels = 0

    def update(self, features: list[torch.Tensor]) -> None:
        for gram, tap in zip(self.grams, features):
            flat = tap.detach().double().transpose(0, 1).reshape(tap.shape[1], -1)
            gram += (flat @ flat.T).cpu().numpy()
        self.pixels += features[0].shape[0] * features[0].shape[2] * features[0].shape[3]

    def factors(self) -> list[torch.Tensor]:
        if self.pixels == 0:
            raise ValueError("Tucker fit: no frames were accumulated")
        result = []
        for gram, rank in zip(self.grams, self.ranks):
            _values, vectors = np.linalg.eigh(gram)
            top = vectors[:, ::-1][:, :rank]
            result.append(torch.from_numpy(canonical_signs(top).astype(np.float32)))
        return result


def subspace_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Spectral norm of the difference of the orthogonal projectors onto span(a) and span(b).

    0 when the (C, r) column spaces coincide, 1 when some direction of one is orthogonal to the other.
    """
    return float(np.linalg.norm(a @ a.T - b @ b.T, ord=2))
