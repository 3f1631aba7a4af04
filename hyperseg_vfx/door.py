"""One door to the file system: every file hyperseg-vfx reads or writes for a user is opened here.

    door = Door(["/shows/abc"])                 # the bridge: only files under its allowed folders
    with door.reading("/shows/abc/p.1001.exr", "input") as plate:
        oiio.ImageInput.open(plate.name)        # /proc/self/fd/N: the file the door opened
    with door.writing("/shows/abc/m.1001.exr", "output", replace=is_ours) as tmp:
        ...write to tmp (a pathlib.Path naming the door's temporary file)...
    ANYWHERE                                    # the CLI: the user's own files, wherever they are

Check and open are one step. A path is walked one component at a time, each opened with O_NOFOLLOW
relative to the folder descriptor before it (openat); a symbolic link is read (readlinkat) and
followed by the walk itself, so where a path leads is decided by the walk that opens it: a folder
swapped for a link between two frames of a job is seen at the next frame, never written through.
With roots, a walk starts at the root's folder and a link or `..` that leads out of every root is
refused at once, before anything out there is looked at: the refusal reads the same whether the
file outside exists or not. Without roots (the CLI) links are followed anywhere, as the user's
shell would.

A file is opened with O_NONBLOCK and fstat-ed before anything reads it: a FIFO, device, socket or
folder is refused at once instead of blocking the process (a FIFO as a plate or as an existing
output used to freeze the whole bridge). Libraries that open files by name (OpenImageIO, torch,
PIL, matplotlib, plain `open`) are handed the descriptor's name, `/proc/self/fd/N` (`/dev/fd/N`
elsewhere), which is the opened file whatever happens to its path meanwhile.

Writes go to a temporary file `.hyperseg-tmp-<writer token>-<digest of the name>.partial` created
with O_EXCL in the walked folder, renamed into place through the same folder descriptor. The
no-overwrite rule lives here: an existing file is replaced only when the caller says it may be
(`replace`: True, or a Replaceable that recognises the file as one hyperseg-vfx wrote). Temporaries
of killed writes are recognised by that marker only (remove_stale_temporaries), never a link.

POSIX only for the descriptor walk (os.supports_dir_fd); elsewhere a path is opened by name and
its fstat compared with the lstat of the resolved path (a check as close to the open as the
platform allows).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .errors import HypersegError

#: Links followed in one walk before it is called a loop (Linux's MAXSYMLINKS).
MAX_LINKS = 40
#: Marker of the door's temporary files; no user file plausibly starts with it.
TEMP_PREFIX = ".hyperseg-tmp-"
_TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"(?P<token>[0-9a-f]{16})-(?P<digest>[0-9a-f]{16})\.partial")
#: Longest path text repeated in a message.
SHOWN_PATH_CHARS = 300

_WALK = hasattr(os, "O_NOFOLLOW") and \
    {os.open, os.stat, os.mkdir, os.rename, os.unlink, os.readlink} <= os.supports_dir_fd
_DIRECTORY = getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_FD_FOLDER = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"


class PathRefused(HypersegError):
    """A path the door will not open. outside: it leads out of the allowed folders (the bridge
    answers 403; the message then says nothing about what is there). field: the request or shot
    field that named it."""

    def __init__(self, path: str | os.PathLike, message: str, field: str | None = None, *, outside: bool = False):
        self.path, self.field, self.outside = os.fspath(path), field, outside
        super().__init__(f"{shown(path)}{message}")


class OutputExistsError(PathRefused):
    """An output exists and the caller did not allow replacing it (the no-overwrite rule)."""


@dataclass(frozen=True)
class Replaceable:
    """The no-overwrite rule's one exception: an existing file that `test(path)` recognises as
    `what` (e.g. "a matte hyperseg-vfx wrote") may be replaced."""

    test: Callable[[str], bool]
    what: str


class DoorSetupError(HypersegError):
    """A root the door cannot stand on (missing, not a folder)."""


def shown(path: str | os.PathLike) -> str:
    """`path` for a message: truncated, control characters and lone surrogates escaped."""
    text = os.fspath(path)
    text = text if isinstance(text, str) else os.fsdecode(text)
    text = text if len(text) <= SHOWN_PATH_CHARS else text[:SHOWN_PATH_CHARS] + "..."
    try:
        text.encode("utf-8")
        printable = text.isprintable()
    except UnicodeEncodeError:
        printable = False
    return text if printable else ascii(text)[1:-1]


def fd_name(fd: int) -> str:
    """A name that opens the file of descriptor `fd` (for libraries that open by name)."""
    return f"{_FD_FOLDER}/{fd}"


@dataclass(frozen=True)
class Opened:
    """A file the door opened for reading. name: the descriptor's name, for libraries that
    open by name; path: the path as given (for messages); real: where the walk led; stat: its
    fstat."""

    fd: int
    name: str
    path: str
    real: str
    stat: os.stat_result


class Door:
    """The one way to a user's files. roots: the folders every path must stay in (the bridge's
    --allow-root); None: anywhere (the CLI, which acts for the user who runs it). files: single
    files outside the roots that may be read too (the bridge's own checkpoint, which shot files
    name): a path written as one of them (as given or resolved) is let through, read without
    following a link at its end."""

    def __init__(self, roots: Iterable[str | os.PathLike] | None = None, files: Iterable[str | os.PathLike] = (),
                 listed_roots: Callable[[], Iterable[str | os.PathLike]] | None = None):
        self._roots: tuple[str, ...] | None = None
        self._given: tuple[tuple[str, str], ...] = ()
        self._files = {os.path.abspath(os.fspath(f)): os.path.realpath(os.fspath(f)) for f in files}
        self._files |= {real: real for real in self._files.values()}
        self._fixed = self._pairs(roots or (), strict=True) if roots is not None or listed_roots else None
        self._listed_roots = listed_roots
        self._listed: tuple[str, ...] | None = None
        if self._fixed is not None:
            self._use(self._fixed)

    @staticmethod
    def _pairs(roots: Iterable[str | os.PathLike], strict: bool) -> list[tuple[str, str]]:
        """(as given, real) pairs of the folders `roots`; strict: a missing one is a
        DoorSetupError (--allow-root), else it is left out (a listed folder not made yet)."""
        pairs = []
        for root in roots:
            text = os.path.abspath(os.fspath(root))
            real = os.path.realpath(text)
            if not os.path.isdir(real):
                if strict:
                    raise DoorSetupError(f"--allow-root {shown(text)}: no such folder (create it first)")
                continue
            pairs += [(text, real), (real, real)]
        return pairs

    def _use(self, pairs: list[tuple[str, str]]) -> None:
        # the outermost root first: a `..` between nested roots stays inside the outer one
        self._given = tuple(sorted(set(pairs), key=lambda pair: len(pair[0])))
        self._roots = tuple(dict.fromkeys(real for _text, real in pairs))  # in the order given

    @property
    def roots(self) -> tuple[str, ...] | None:
        """The real allowed folders (None: anywhere): the fixed ones, then those listed_roots()
        lists now (checked again at every call, so a folder added to the bridge's roots file is
        allowed at the next request)."""
        if self._listed_roots is not None:
            listed = tuple(os.fspath(folder) for folder in self._listed_roots())
            if listed != self._listed:
                self._listed = listed
                self._use(self._fixed + self._pairs(listed, strict=False))
        return self._roots

    def __repr__(self) -> str:
        return f"Door({list(self.roots) if self.roots is not None else 'anywhere'})"

    # -- reading ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self, path: str | os.PathLike, field: str | None = None) -> Iterator[Opened]:
        """Open `path` for reading: Opened, closed on exit. PathRefused for a path out of the
        roots or a file that is not a regular file; FileNotFoundError and other OSErrors name
        `path`."""
        fd, real = self._open_leaf(os.fspath(path), field, os.O_RDONLY)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise PathRefused(path, f" is {_kind(info.st_mode)}, not a regular file", field)
            yield Opened(fd, fd_name(fd), os.fspath(path), real, info)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def open_file(self, path: str | os.PathLike, field: str | None = None):
        """`path` as a binary file object (for torch.load, PIL, yaml), as reading() opens it."""
        with self.reading(path, field) as opened, open(os.dup(opened.fd), "rb") as handle:
            yield handle

    def read_bytes(self, path: str | os.PathLike, field: str | None = None, limit: int | None = None) -> bytes:
        """The bytes of `path`; with `limit`, PathRefused for a larger file (before reading it)."""
        with self.reading(path, field) as opened:
            if limit is not None and opened.stat.st_size > limit:
                raise PathRefused(path, f" is larger than {limit} bytes", field)
            data = bytearray()
            while chunk := os.read(opened.fd, 1 << 20):
                data += chunk
                if limit is not None and len(data) > limit:  # it grew while being read
                    raise PathRefused(path, f" is larger than {limit} bytes", field)
            return bytes(data)

    def read_text(self, path: str | os.PathLike, field: str | None = None, limit: int | None = None) -> str:
        return self.read_bytes(path, field, limit).decode("utf-8")

    def is_file(self, path: str | os.PathLike, field: str | None = None) -> bool:
        """Whether `path` leads to a regular file (False: nothing there, or it cannot be opened).
        PathRefused for a path out of the roots, whether anything is there or not, and for a FIFO,
        device, socket or folder where a file is expected."""
        try:
            with self.reading(path, field):
                return True
        except OSError:
            return False

    def real_path(self, path: str | os.PathLike, field: str | None = None) -> str:
        """Where `path` leads (links followed by the walk), whether the file exists or not;
        PathRefused when that is out of the roots."""
        path = self._absolute(os.fspath(path), field)
        try:
            try:
                return self._open_leaf(path, field, os.O_RDONLY, probe_only=True)[1]
            except FileNotFoundError:
                folder, name = os.path.split(path)
                with self._folder(folder, field, create=False) as (_fd, real):
                    return os.path.join(real, name)
        except PathRefused:
            raise
        except OSError as exc:
            raise _refusal(exc, path, field) from None

    def real_folder(self, folder: str | os.PathLike, field: str | None = None) -> str:
        """Where folder `folder` leads (links followed by the walk), whether it exists or not;
        PathRefused when that is out of the roots (a root itself is inside)."""
        folder = self._absolute(os.fspath(folder), field)
        try:
            with self._folder(folder, field, create=False) as (_fd, real):
                return real
        except PathRefused:
            raise
        except OSError as exc:
            raise _refusal(exc, folder, field) from None

    def survey(self, paths: Iterable[str | os.PathLike], field: str | None = None) -> dict[str, tuple[str, bool]]:
        """path -> (where it leads, whether a regular file is there) for many paths at once, each
        folder walked once (a 100,000-frame shot has one or two): for validation, before the
        opens, which check again. PathRefused for any path out of the roots."""
        folders: dict[str, list[str]] = {}
        for path in paths:
            path = self._absolute(os.fspath(path), field)
            folders.setdefault(os.path.dirname(path), []).append(path)
        found: dict[str, tuple[str, bool]] = {}
        for folder, members in folders.items():
            try:
                with self._folder(folder, field, create=False) as (fd, real):
                    for path in members:
                        name = os.path.basename(path)
                        info = None
                        if fd is not None and _WALK:
                            try:
                                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                            except OSError:
                                info = None
                        if info is not None and stat.S_ISLNK(info.st_mode) or (fd is not None and not _WALK):
                            found[path] = (self.real_path(path, field), self.is_file(path, field))
                        else:
                            found[path] = (os.path.join(real, name), info is not None and stat.S_ISREG(info.st_mode))
            except PathRefused:
                raise
            except OSError as exc:
                raise _refusal(exc, folder, field) from None
        return found

    def is_link(self, path: str | os.PathLike, field: str | None = None) -> bool:
        """Whether `path` is a symbolic link (its folder walked through the door)."""
        path = self._absolute(os.fspath(path), field)
        folder, name = os.path.split(path)
        try:
            with self._folder(folder, field, create=False) as (fd, _real):
                if fd is None or not name:
                    return False
                try:
                    info = os.stat(name, dir_fd=fd, follow_symlinks=False) if _WALK else os.lstat(path)
                except OSError:
                    return False
                return stat.S_ISLNK(info.st_mode)
        except PathRefused:
            raise
        except OSError as exc:
            raise _refusal(exc, path, field) from None

    def listdir(self, folder: str | os.PathLike, field: str | None = None) -> list[str] | None:
        """The names in `folder` (walked through the door), None when it does not exist;
        NotADirectoryError when it is a file."""
        folder = self._absolute(os.fspath(folder), field)
        with self._folder(folder, field, create=False) as (fd, real):
            if fd is None:
                return None
            return os.listdir(fd if _WALK else real)

    # -- writing ------------------------------------------------------------------------------

    def check_output(self, path: str | os.PathLike, field: str | None = "output", *,
                     replace: bool | Replaceable = False, probe: bool = True) -> None:
        """Refuse, before any work, an output that writing() would refuse: out of the roots, a
        folder, a FIFO or other non-regular file, an existing file the caller may not replace
        (OutputExistsError), a folder that cannot take a file (probed with a temporary file in
        the deepest existing folder, inside the roots; probe=False skips that)."""
        path = self._absolute(os.fspath(path), field)
        folder, name = os.path.split(path)
        if not name:
            raise PathRefused(path, " is a folder; name a file", field)
        try:
            with self._folder(folder, field, create=False) as (fd, real):
                if fd is None:
                    return self._probe(real, field, path) if probe else None
                self._may_replace(fd, name, path, field, replace)
                if probe:
                    self._probe_fd(fd, real, field, path)
        except PathRefused:
            raise
        except OSError as exc:
            raise _refusal(exc, path, field) from None

    @contextlib.contextmanager
    def writing(self, path: str | os.PathLike, field: str | None = "output", *,
                replace: bool | Replaceable = False) -> Iterator[Path]:
        """A temporary file next to `path` (a Path naming its descriptor) to write; renamed onto
        `path` when the block ends without an exception, removed otherwise. Missing folders are
        created (inside the roots). The no-overwrite rule: an existing `path` is refused
        (OutputExistsError) unless `replace` is True or a Replaceable whose test says it may be
        replaced; a folder, link loop or non-regular file is refused whatever `replace` says."""
        path = self._absolute(os.fspath(path), field)
        folder, name = os.path.split(path)
        if not name:
            raise PathRefused(path, " is a folder; name a file", field)
        with self._folder(folder, field, create=True) as (fd, _real):
            self._may_replace(fd, name, path, field, replace)
            temp = temporary_name(name)
            try:
                tmp_fd = _open_at(fd, temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, folder)
            except OSError as exc:
                raise type(exc)(exc.errno, exc.strerror, path) from None
            try:
                yield Path(fd_name(tmp_fd))
                os.close(tmp_fd)
                tmp_fd = -1
                try:
                    _rename_at(fd, temp, name, folder)
                except OSError as exc:
                    raise type(exc)(exc.errno, exc.strerror, path) from None
            except BaseException:
                if tmp_fd >= 0:
                    os.close(tmp_fd)
                with contextlib.suppress(OSError):
                    _unlink_at(fd, temp, folder)
                raise

    def write_bytes(self, path: str | os.PathLike, data: bytes, field: str | None = "output", *,
                    replace: bool | Replaceable = False) -> None:
        with self.writing(path, field, replace=replace) as tmp, open(tmp, "wb") as handle:
            handle.write(data)

    def write_text(self, path: str | os.PathLike, text: str, field: str | None = "output", *,
                   replace: bool | Replaceable = False) -> None:
        self.write_bytes(path, text.encode("utf-8"), field, replace=replace)

    def remove_stale_temporaries(self, folder: str | os.PathLike, names: Iterable[str]) -> list[str]:
        """Remove the door's temporary files for `names` in `folder` left by killed writes: only
        regular files named with TEMP_PREFIX, a writer token and the digest of one of `names`,
        never a link or anything else. Returns the removed paths."""
        folder = self._absolute(os.fspath(folder), None)
        digests = {_digest(name) for name in names}
        removed = []
        with contextlib.suppress(OSError), self._folder(folder, None, create=False) as (fd, _real):
            if fd is None:
                return removed
            for entry in (os.listdir(fd) if _WALK else os.listdir(folder)):
                match = _TEMP_NAME.fullmatch(entry)
                if not match or match["digest"] not in digests:
                    continue
                info = (os.stat(entry, dir_fd=fd, follow_symlinks=False) if _WALK
                        else os.lstat(os.path.join(folder, entry)))
                if stat.S_ISREG(info.st_mode):
                    with contextlib.suppress(FileNotFoundError):
                        _unlink_at(fd, entry, folder)
                        removed.append(os.path.join(folder, entry))
        return removed

    # -- the walk -----------------------------------------------------------------------------

    def _absolute(self, path: str, field: str | None) -> str:
        if "\x00" in path:
            raise PathRefused(path, ": a path cannot contain a NUL character", field)
        if self.roots is not None and not os.path.isabs(path):
            raise PathRefused(path, " must be an absolute path", field)
        return os.path.abspath(path) if not os.path.isabs(path) else path

    def _outside(self, path: str, field: str | None) -> PathRefused:
        return PathRefused(path, " is outside the bridge's allowed folders (see --allow-root)", field, outside=True)

    def _start(self, path: str, given: str, field: str | None) -> tuple[str, list[str]]:
        """(real root folder, components after it) of an absolute `path`."""
        if self.roots is None:
            return os.sep, [part for part in path.split(os.sep) if part]
        for text, real in self._given:
            if path == text or path.startswith(text.rstrip(os.sep) + os.sep):
                return real, [part for part in path[len(text):].split(os.sep) if part]
        raise self._outside(given, field)

    @contextlib.contextmanager
    def _folder(self, folder: str, field: str | None, *, create: bool):
        """(descriptor, real path) of `folder` walked from its root; with create=False a missing
        part ends the walk with descriptor None and the real path the folder will have."""
        if not _WALK:
            real = os.path.realpath(folder)
            self._check_inside(real, folder, field)
            if create:
                os.makedirs(real, exist_ok=True)
            yield (None if not os.path.isdir(real) else -1), real
            return
        fd, real = self._walk(folder, folder, field, create=create)
        try:
            yield fd, real
        finally:
            if fd is not None:
                os.close(fd)

    def _check_inside(self, real: str, given: str, field: str | None) -> None:
        if self.roots is not None and not any(real == root or real.startswith(root.rstrip(os.sep) + os.sep)
                                              for root in self.roots):
            raise self._outside(given, field)

    def _walk(self, path: str, given: str, field: str | None, *, create: bool, links: int = 0):
        """Walk folder `path` from its root: (descriptor, or None when a part is missing and not
        `create`; real path). `..` goes back to the descriptor before (never above the root when
        there are roots); a link is followed by walking its target again from the start
        (absolute) or from the folder holding it (relative), counted against MAX_LINKS."""
        root, parts = self._start(path, given, field)
        stack = [os.open(root, os.O_RDONLY | _DIRECTORY)]
        real = [root]
        try:
            while parts:
                part = parts.pop(0)
                if part == ".":
                    continue
                if part == "..":
                    if len(stack) == 1:
                        if self.roots is not None:
                            raise self._outside(given, field)
                        continue  # `/..` is `/`
                    os.close(stack.pop())
                    real.pop()
                    continue
                try:
                    child = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=stack[-1])
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                        info = os.stat(part, dir_fd=stack[-1], follow_symlinks=False)
                        if not stat.S_ISLNK(info.st_mode):
                            raise NotADirectoryError(errno.ENOTDIR, f"{shown(os.path.join(*real, part))} is a file, "
                                                     "not a folder", given) from None
                        if links >= MAX_LINKS:
                            raise PathRefused(given, ": symbolic links loop", field) from None
                        target = os.readlink(part, dir_fd=stack[-1])
                        rest = os.path.join(target if os.path.isabs(target) else os.path.join(*real, target), *parts)
                        return self._walk(rest, given, field, create=create, links=links + 1)
                    if exc.errno != errno.ENOENT:
                        raise type(exc)(exc.errno, exc.strerror, given) from None
                    if not create:
                        return None, self._lexical(real, [part, *parts], given, field)
                    try:
                        os.mkdir(part, 0o777, dir_fd=stack[-1])
                    except FileExistsError:
                        pass
                    except OSError as made:
                        raise type(made)(made.errno, made.strerror, given) from None
                    parts.insert(0, part)
                    continue
                stack.append(child)
                real.append(part)
            fd = stack.pop()
            return fd, os.path.join(*real)
        finally:
            for fd_left in stack:
                os.close(fd_left)

    def _lexical(self, real: list[str], parts: list[str], given: str, field: str | None) -> str:
        """The real path of missing folders `parts` below `real` (nothing there to follow)."""
        real = list(real)
        for part in parts:
            if part == "..":
                if len(real) == 1 and self.roots is not None:
                    raise self._outside(given, field)
                real = real[:-1] or real
            elif part != ".":
                real.append(part)
        return os.path.join(*real)

    def _open_leaf(self, path: str, field: str | None, flags: int, *, probe_only: bool = False) -> tuple[int, str]:
        """(descriptor, real path) of file `path`, opened with `flags` | O_NONBLOCK | O_NOFOLLOW in
        its walked folder; a link there is followed by walking its target. probe_only: only find
        the real path (descriptor -1; a missing file is no error)."""
        given = path = self._absolute(path, field)
        if path in self._files:
            real = self._files[path]
            if probe_only:
                return -1, real
            return os.open(real, flags | _NONBLOCK | _NOFOLLOW | _CLOEXEC), real
        if not _WALK:
            real = os.path.realpath(path)
            self._check_inside(real, given, field)
            if probe_only:
                return -1, real
            fd = os.open(real, flags | _NONBLOCK)
            if not os.path.samestat(os.fstat(fd), os.stat(real)):
                os.close(fd)
                raise PathRefused(given, " changed while it was opened", field)
            return fd, real
        for _link in range(MAX_LINKS + 1):
            folder, name = os.path.split(path)
            if name in ("", ".", ".."):
                raise IsADirectoryError(errno.EISDIR, "Is a directory", given)
            dir_fd, real = self._walk(folder, given, field, create=False)
            if dir_fd is None:
                if probe_only:
                    return -1, os.path.join(real, name)
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", given)
            try:
                try:
                    info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                except FileNotFoundError:
                    if probe_only:
                        return -1, os.path.join(real, name)
                    raise FileNotFoundError(errno.ENOENT, "No such file or directory", given) from None
                except OSError as exc:
                    raise type(exc)(exc.errno, exc.strerror, given) from None
                if stat.S_ISLNK(info.st_mode):
                    target = os.readlink(name, dir_fd=dir_fd)
                    path = target if os.path.isabs(target) else os.path.join(real, target)
                    continue
                if probe_only:
                    return -1, os.path.join(real, name)
                try:
                    fd = os.open(name, flags | _NONBLOCK | _NOFOLLOW | _CLOEXEC, dir_fd=dir_fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.EMLINK):  # became a link since the stat
                        raise PathRefused(given, " changed while it was opened", field) from None
                    raise type(exc)(exc.errno, exc.strerror, given) from None
                return fd, os.path.join(real, name)
            finally:
                os.close(dir_fd)
        raise PathRefused(given, ": symbolic links loop", field)

    def _may_replace(self, fd, name: str, path: str, field: str | None,
                     replace: bool | Replaceable) -> None:
        """The no-overwrite rule for `name` in folder descriptor `fd`."""
        try:
            info = os.stat(name, dir_fd=fd, follow_symlinks=False) if _WALK else os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(info.st_mode):
            raise PathRefused(path, f" is a folder; name a file (e.g. {shown(path)}/matte.####.exr)", field)
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
            raise PathRefused(path, f" is {_kind(info.st_mode)}, not a regular file: refusing to write to it", field)
        if replace is True:
            return
        if isinstance(replace, Replaceable) and stat.S_ISREG(info.st_mode) and replace.test(path):
            return
        what = f" and is not {replace.what}" if isinstance(replace, Replaceable) else ""
        raise OutputExistsError(path, f" exists{what}: refusing to replace it (--overwrite, or `overwrite: true` in "
                                      "the shot or request, replaces it)", field)

    def _probe(self, real: str, field: str | None, example: str) -> None:
        """Probe the deepest existing folder above `real` (inside the roots)."""
        existing = real
        while True:
            existing = os.path.dirname(existing)
            fd, walked = self._walk(existing, example, field, create=False)
            if fd is not None:
                try:
                    return self._probe_fd(fd, walked, field, example)
                finally:
                    os.close(fd)

    def _probe_fd(self, fd: int, real: str, field: str | None, example: str) -> None:
        """Create, fill, sync and remove a temporary file in folder descriptor `fd`, the way
        writing() writes; PathRefused naming the folder and the reason."""
        temp = temporary_name("write-probe")
        try:
            probe = _open_at(fd, temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, real)
            try:
                os.write(probe, b"\0" * 4096)
                os.fsync(probe)
            finally:
                os.close(probe)
                _unlink_at(fd, temp, real)
        except OSError as exc:
            reason = {errno.EACCES: "permission denied", errno.EPERM: "permission denied",
                      errno.EROFS: "read-only file system", errno.ENOSPC: "disk full",
                      errno.EDQUOT: "disk quota exceeded"}.get(exc.errno, exc.strerror or str(exc))
            raise PathRefused(real, f" (the folder of {shown(example)}) cannot be written: {reason}", field) from None


def _refusal(exc: OSError, path: str, field: str | None) -> PathRefused:
    """A walk's OSError as a refusal naming `path` (the request's fault, not the bridge's)."""
    reason = {errno.ENAMETOOLONG: "a name is too long", errno.ENOTDIR: "a parent is a file, not a folder",
              errno.EACCES: "permission denied", errno.EPERM: "permission denied",
              errno.ELOOP: "symbolic links loop"}.get(exc.errno)
    return PathRefused(path, f": {reason or exc.strerror or exc}", field)


def temporary_name(name: str) -> str:
    """The name of a temporary file for final name `name`: TEMP_PREFIX, a random writer token
    and a digest of `name` (fixed length: a 255-byte output name still has a temporary)."""
    return f"{TEMP_PREFIX}{secrets.token_hex(8)}-{_digest(name)}.partial"


def _digest(name: str) -> str:
    return hashlib.sha256(os.fsencode(name)).hexdigest()[:16]


def _kind(mode: int) -> str:
    return ("a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a symbolic link" if stat.S_ISLNK(mode)
            else "not a regular file")


def _open_at(fd, name: str, flags: int, folder: str) -> int:
    return os.open(name, flags, 0o666, dir_fd=fd) if _WALK else os.open(os.path.join(folder, name), flags, 0o666)


def _rename_at(fd, old: str, new: str, folder: str) -> None:
    if _WALK:
        os.rename(old, new, src_dir_fd=fd, dst_dir_fd=fd)
    else:
        os.replace(os.path.join(folder, old), os.path.join(folder, new))


def _unlink_at(fd, name: str, folder: str) -> None:
    if _WALK:
        os.unlink(name, dir_fd=fd)
    else:
        os.unlink(os.path.join(folder, name))


#: The door of a process acting for the user who runs it (the CLI): no roots.
ANYWHERE = Door()
