"""The bridge's security rules, each in one place.

- Bind: 127.0.0.1, ::1 and localhost need nothing more; any other address (another interface,
  0.0.0.0, even another 127.x address) requires a token file, because it may be reachable by
  other users or machines.
- Token: every request then carries `Authorization: Bearer <token>`, compared in constant time.
- Paths: every file a request names must be absolute valid text (require_absolute); where it
  leads is the door's rule (hyperseg_vfx.door: walked from an allowed folder, never out of it,
  at every open). A refusal repeats the path as given and nothing about what is there.
- Host: a request is served only when its `Host` header names the bound address (127.0.0.1,
  localhost, [::1], the --host given, --allowed-host names): a DNS-rebinding page sends its own.
"""

from __future__ import annotations

import hmac
import os
import re
import stat
from pathlib import Path
from typing import Iterable

from ..errors import HypersegError
from .errors import ApiError

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
#: Folders too wide to be the default allowed roots (the bridge started from them with no --allow-root).
TOO_WIDE = ("/", "~")
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


def host_name(header: str) -> str:
    """The host name of a `Host` header value, lower case, without port or IPv6 brackets
    ("[::1]:8765" -> "::1", "LocalHost:80" -> "localhost"; "" when empty or malformed)."""
    header = header.strip().lower()
    if header.startswith("["):
        name, bracket, rest = header[1:].partition("]")
        return name if bracket and (not rest or rest[:1] == ":") else ""
    name, _, port = header.partition(":")
    return name if ":" not in port else ""


def allowed_host_names(bind: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The `Host` names a bridge bound to `bind` answers: the loopback names, `bind`, `extra`."""
    return tuple(dict.fromkeys([*LOOPBACK_HOSTS, host_name(bind) or bind.lower(),
                                *(host_name(name) or name.lower() for name in extra)]))


def check_default_roots(roots: Iterable[Path]) -> None:
    """Refuse default roots that open the whole disk or home folder (a bridge started in `/` or ~
    with no --allow-root)."""
    wide = {Path(os.path.expanduser(p)).resolve() for p in TOO_WIDE}
    for root in roots:
        if Path(root).resolve() in wide:
            raise BridgeSetupError(
                f"the bridge was started in {root} with no --allow-root: that would allow every file under "
                f"{root}; pass --allow-root FOLDER (e.g. the show's folder) or start it in a project folder"
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


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

#: Longest path text repeated in an error message (and so in the log).
SHOWN_PATH_CHARS = 300


def _shown(path: str) -> str:
    """`path` for a message: truncated, control characters and lone surrogates escaped."""
    text = path if len(path) <= SHOWN_PATH_CHARS else path[:SHOWN_PATH_CHARS] + "..."
    return ascii(text)[1:-1] if not text.isprintable() or _has_surrogate(text) else text


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def require_absolute(path: str, field: str) -> None:
    """Request paths are absolute (the bridge's current folder is not the client's), valid text
    (no NUL, control character or lone surrogate) and of a length the system takes."""
    if "\x00" in path:
        raise ApiError(422, "invalid_path", "a path cannot contain a NUL character", field)
    if _has_surrogate(path) or _CONTROL.search(path):
        raise ApiError(422, "invalid_path", f"{_shown(path)}: a path cannot hold control characters or "
                                            "lone surrogates", field)
    if not os.path.isabs(path):
        raise ApiError(422, "relative_path", f"{_shown(path)!r} must be an absolute path", field)
    if len(path.encode("utf-8")) > 255 and any(len(part.encode("utf-8")) > 255 for part in path.split(os.sep)):
        raise ApiError(422, "invalid_path", f"{_shown(path)}: a path component is longer than 255 bytes", field)
