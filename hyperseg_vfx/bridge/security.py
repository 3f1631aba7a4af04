"""The bridge's security rules, each in one place.

- Bind: 127.0.0.1, ::1 and localhost need nothing more; any other address (another interface,
  0.0.0.0, even another 127.x address) requires a token file, because it may be reachable by
  other users or machines.
- Token: every request then carries `Authorization: Bearer <token>`, compared in constant time as
  UTF-8 bytes (the header's bytes against the token file's), so a non-ASCII token works when the
  client sends it UTF-8 encoded, as the Nuke plugin does. The token file is read only when it is
  a regular file (not a link, FIFO or device: opened without following links and without
  blocking, then checked with fstat), owned by the user running the bridge, readable by nobody
  else, and UTF-8 text.
- Paths: every file a request names must be absolute valid text (require_absolute); where it
  leads is the door's rule (hyperseg_vfx.door: walked from an allowed folder, never out of it,
  at every open). A refusal repeats the path as given and nothing about what is there.
  The folders are the --allow-root ones and those listed in the --allow-roots-file (RootsFile),
  which is read again when it changes and, like a token file, must not be writable by other users.
- Host: a request is served only when its `Host` header names the bound address (127.0.0.1,
  localhost, [::1], the --host given, --allowed-host names): a DNS-rebinding page sends its own.
"""

from __future__ import annotations

import errno
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


#: Largest token file read (a token is a line of text).
MAX_TOKEN_FILE_BYTES = 4096


def read_token_file(path: str | os.PathLike) -> str:
    """The token in `path` (surrounding whitespace dropped). The file must be a regular file, not
    a symbolic link, owned by this user and readable by its owner only on POSIX (like an SSH key),
    UTF-8 text of at least MIN_TOKEN_LENGTH characters with no space or control character inside.
    A FIFO or device is refused without blocking (opened O_NONBLOCK, checked with fstat)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        if not hasattr(os, "O_NOFOLLOW") and os.path.islink(path):
            raise BridgeSetupError(f"--token-file {path}: is a symbolic link; name the file itself")
        handle = os.open(path, flags)
    except OSError as exc:
        reason = "is a symbolic link; name the file itself" if exc.errno == errno.ELOOP else exc.strerror or exc
        raise BridgeSetupError(f"--token-file {path}: {reason}") from None
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            raise BridgeSetupError(f"--token-file {path}: not a regular file")
        if os.name == "posix" and info.st_uid != os.getuid():
            raise BridgeSetupError(f"--token-file {path}: owned by another user; the token file must be yours")
        if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise BridgeSetupError(f"--token-file {path}: other users can read it; `chmod 600 {path}`")
        raw = os.read(handle, MAX_TOKEN_FILE_BYTES + 1)
    except OSError as exc:
        raise BridgeSetupError(f"--token-file {path}: {exc.strerror or exc}") from None
    finally:
        os.close(handle)
    if len(raw) > MAX_TOKEN_FILE_BYTES:
        raise BridgeSetupError(f"--token-file {path}: larger than {MAX_TOKEN_FILE_BYTES} bytes: not a token file")
    try:
        token = raw.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise BridgeSetupError(f"--token-file {path}: not UTF-8 text (byte {exc.start})") from None
    if len(token) < MIN_TOKEN_LENGTH:
        raise BridgeSetupError(
            f"--token-file {path}: the token must have at least {MIN_TOKEN_LENGTH} characters "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    if any(c.isspace() or not c.isprintable() for c in token):
        raise BridgeSetupError(f"--token-file {path}: the token holds a space or control character; "
                               "a token is one word on one line")
    return token


def token_matches(authorization: bytes | None, token: str) -> bool:
    """Whether an Authorization header value (its raw bytes) is `Bearer <token>`, the token UTF-8
    encoded (constant-time comparison)."""
    scheme, _, credentials = (authorization or b"").partition(b" ")
    return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), token.encode("utf-8"))


def read_roots_file(path: str | os.PathLike) -> tuple[Path, ...]:
    """The folders listed in an allowed-folders file: one absolute folder a line; blank lines and
    lines starting with `#` are skipped. BridgeSetupError when it cannot be read, when other
    users may write it (POSIX: they could allow themselves any folder) or for a relative folder."""
    try:
        info = os.stat(path)
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BridgeSetupError(f"--allow-roots-file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if os.name == "posix" and info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise BridgeSetupError(f"--allow-roots-file {path}: other users can write it; `chmod 600 {path}`")
    folders = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    for folder in folders:
        if not os.path.isabs(folder):
            raise BridgeSetupError(f"--allow-roots-file {path}: {folder!r} is not an absolute folder")
    return tuple(Path(folder) for folder in folders)


class RootsFile:
    """The folders listed in an --allow-roots-file, read again whenever the file changes (its
    date, size or inode), so that a folder the Nuke plugin adds there is allowed at the next
    request, without a restart. A missing file lists nothing; a changed file that cannot be used
    leaves the folders as they were (and says why in the log). The bridge's Door calls it
    (Door(listed_roots=...)) before each check."""

    def __init__(self, path: str | os.PathLike):
        self.path = path
        self._version: tuple[int, int, int] | None = None
        self._listed: tuple[Path, ...] = ()
        if os.path.exists(path):
            self._listed = read_roots_file(path)  # a bad file at start-up is an error, not a log line
            self._version = self._stat()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size, info.st_ino

    def __call__(self) -> tuple[Path, ...]:
        version = self._stat()
        if version != self._version:
            try:
                self._listed = read_roots_file(self.path) if version is not None else ()
            except BridgeSetupError as exc:
                import logging

                logging.getLogger("hyperseg_vfx.bridge").warning("%s; the allowed folders stay as they were", exc)
                return self._listed
            self._version = version
        return self._listed


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
