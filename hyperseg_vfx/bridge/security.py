"""The bridge's security rules, each in one place.

- Bind: 127.0.0.1, ::1 and localhost need nothing more; any other address (another interface,
  0.0.0.0, even another 127.x address) requires a token file, because it may be reachable by
  other users or machines.
- Token: every request then carries `Authorization: Bearer <token>`, compared in constant time.
- Paths: every file a request names must be absolute and resolve, after symlinks (Path.resolve,
  so `..` and links pointing outside are followed first), inside one of the allowed folders.
"""

from __future__ import annotations

import hmac
import os
import stat
from pathlib import Path
from typing import Iterable

from ..errors import HypersegError
from .errors import ApiError

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
MIN_TOKEN_LENGTH = 16


class BridgeSetupError(HypersegError):
    """The bridge cannot start as asked (unsafe bind, bad token file, ...)."""


def check_bind(host: str, token: str | None) -> None:
    """Refuse to bind anything but loopback (127.0.0.1, ::1, localhost) without a token."""
    if host not in LOOPBACK_HOSTS and token is None:
        raise BridgeSetupError(
            f"--host {host}: binding an address other than {', '.join(LOOPBACK_HOSTS)} requires "
            "--token-file (every request then needs `Authorization: Bearer <token>`)"
        )


def read_token_file(path: str | os.PathLike) -> str:
    """The token in `path` (surrounding whitespace dropped). The file must be readable by its
    owner only on POSIX (like an SSH key) and hold at least MIN_TOKEN_LENGTH characters."""
    try:
        info = os.stat(path)
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise BridgeSetupError(f"--token-file {path}: {exc.strerror or exc}") from None
    if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise BridgeSetupError(f"--token-file {path}: other users can read it; `chmod 600 {path}`")
    if len(token) < MIN_TOKEN_LENGTH:
        raise BridgeSetupError(
            f"--token-file {path}: the token must have at least {MIN_TOKEN_LENGTH} characters "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return token


def token_matches(authorization: str | None, token: str) -> bool:
    """Whether an Authorization header value is `Bearer <token>` (constant-time comparison)."""
    scheme, _, credentials = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), token.encode())


class PathGuard:
    """The folders request paths must resolve into."""

    def __init__(self, roots: Iterable[str | os.PathLike]):
        self.roots = tuple(Path(root).resolve() for root in roots)

    def check(self, path: str, field: str) -> str:
        """`path` (absolute, as given) when it resolves inside an allowed folder; ApiError
        422 for a relative path, 403 for one outside."""
        require_absolute(path, field)
        resolved = Path(path).resolve(strict=False)
        if not any(resolved == root or root in resolved.parents for root in self.roots):
            raise ApiError(
                403, "forbidden_path",
                f"{path} resolves to {resolved}, outside the bridge's allowed folders "
                f"({', '.join(map(str, self.roots))}; see --allow-root)",
                field,
            )
        return path


def require_absolute(path: str, field: str) -> None:
    """Request paths are absolute: the bridge's current folder is not the client's."""
    if "\x00" in path:
        raise ApiError(422, "invalid_path", "a path cannot contain a NUL character", field)
    if not os.path.isabs(path):
        raise ApiError(422, "relative_path", f"{path!r} must be an absolute path", field)
