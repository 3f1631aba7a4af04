"""What a bridge is started with: address, model, device, security and limits."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
#: Feature-cache budget. At 1920x1080 a frame's features are about 290 MB in half precision (CUDA)
#: or 580 MB in float32 (CPU), so 4 GiB keeps the frames around the artist's current one.
DEFAULT_CACHE_BYTES = 4 * 1024**3
#: Request bodies are small JSON (a shot with a key on every frame of 1000 is ~50 KB).
DEFAULT_MAX_BODY_BYTES = 1024**2


def default_allow_roots() -> tuple[Path, ...]:
    """The folders request paths may lie in when none are given: the current folder and the
    system temp folder."""
    return (Path(os.getcwd()), Path(tempfile.gettempdir()))


@dataclass(frozen=True)
class BridgeSettings:
    """checkpoint: the model file (None: the bundled default model). token: the secret every
    request must carry as `Authorization: Bearer <token>` (None: no token asked)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    checkpoint: Path | None = None
    device: str = "auto"
    allow_roots: tuple[Path, ...] = field(default_factory=default_allow_roots)
    token: str | None = None
    cache_bytes: int = DEFAULT_CACHE_BYTES
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
