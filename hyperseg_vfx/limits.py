"""Resource limits a site may change through the environment ($HYPERSEG_MAX_FRAMES,
$HYPERSEG_MAX_IMAGE_PIXELS): one reader, so every limit is parsed and refused alike."""

from __future__ import annotations

import os


def limit_from_env(name: str, default: int) -> int:
    """$name as a positive whole number, or `default` when it is unset or blank.
    ValueError naming the variable (and at most 80 characters of its value) otherwise."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not (value.isascii() and value.isdigit() and len(value) <= 18) or int(value) < 1:  # checked before int()
        raise ValueError(f"${name} must be a positive whole number of at most 18 digits, got {value[:80]!r}")
    return int(value)
