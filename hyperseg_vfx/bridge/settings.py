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
#: Seconds a client has to send a whole request (headers and body) from the moment the connection
#: opens or its previous answer was sent; a slower one is dropped (slow-header/slow-body clients).
DEFAULT_REQUEST_TIMEOUT_S = 15.0
#: Seconds an idle keep-alive connection is held open.
KEEP_ALIVE_S = 5


def default_allow_roots() -> tuple[Path, ...]:
    """The folders request paths may lie in when none are given: the current folder and the
    system temp folder."""
    return (Path(os.getcwd()), Path(tempfile.gettempdir()))


@dataclass(frozen=True)
class BridgeSettings:
    """checkpoint: the model file (None: the bundled default model). token: the secret every
    request must carry as `Authorization: Bearer <token>` (None: no token asked).
    allowed_hosts: `Host` names answered besides the loopback names and `host`.
    allow_origins: web origins (`http://name:port`) whose requests are served (default none).
    allow_roots_file: a file listing more allowed folders, read again when it changes
    (security.RootsFile, through the Door). idle_exit_s: stop after this many seconds idle (bridge.idle; None: never)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    checkpoint: Path | None = None
    device: str = "auto"
    allow_roots: tuple[Path, ...] = field(default_factory=default_allow_roots)
    token: str | None = None
    cache_bytes: int = DEFAULT_CACHE_BYTES
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    allowed_hosts: tuple[str, ...] = ()
    allow_origins: tuple[str, ...] = ()
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
    allow_roots_file: Path | None = None
    idle_exit_s: float | None = None
