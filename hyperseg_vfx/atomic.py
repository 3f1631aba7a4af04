"""Atomic file writes: nothing the user has is left half-written.

Every file the tool produces (EXR mattes, checkpoints, reports, contact sheets) is written to a
temporary name in the destination folder and renamed into place only when complete, so an
interrupted process never leaves a partial or unreadable file under the final name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success rename it to `path`.

    The temporary file keeps the destination's extension (file-format libraries pick the
    format from it). On any exception the temporary file is removed and `path` is untouched.
    With overwrite=False an existing `path` raises FileExistsError before anything is written.
    """
    final = Path(path)
    if not overwrite and final.exists():
        raise FileExistsError(f"{final} already exists (refusing to overwrite it)")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{final.stem}.", suffix=f".partial{final.suffix}", dir=final.parent
        )
    except OSError as exc:  # name the file the user asked for, not the temporary one
        raise type(exc)(exc.errno, exc.strerror, str(final)) from None
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp makes 0600; give the user's usual mode
    try:
        yield tmp
        try:
            os.replace(tmp, final)
        except OSError as exc:
            raise type(exc)(exc.errno, exc.strerror, str(final)) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
