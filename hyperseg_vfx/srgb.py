"""The sRGB transfer functions (IEC 61966-2-1), shared by the synthetic data generator (which
composites in linear light and encodes the plate) and the edge stage (which solves the
compositing equation, true in linear light, on display-referred plates)."""

from __future__ import annotations

import numpy as np


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 decoding, any shape, values in [0, 1]."""
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(values: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 encoding, any shape; values are clipped to [0, 1] first."""
    values = np.clip(values, 0.0, 1.0)
    return np.where(values <= 0.0031308, values * 12.92, 1.055 * values ** (1 / 2.4) - 0.055)
