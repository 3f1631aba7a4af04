"""Atomic file writes: nothing the user has is left half-written.

Every file the tool produces (EXR mattes, checkpoints, reports, contact sheets) is written to a
temporary file in the destination folder and renamed into place only when complete, so an
interrupted process never leaves a partial or unreadable file under the final name. The work is
the door's (hyperseg_vfx.door.Door.writing): the temporary file is `.hyperseg-tmp-<token>-...`,
created in the folder the door walked, and the yielded path names its descriptor
(`/proc/self/fd/N`), so a library that picks a format from the name must be told the format.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from pathlib import Path

from .door import ANYWHERE, Door


def atomic_output(path: str | os.PathLike, overwrite: bool = True, *, door: Door = ANYWHERE,
                  field: str | None = None) -> AbstractContextManager[Path]:
    """A temporary file to write, renamed to `path` when the block succeeds (see the module).
    overwrite=False refuses an existing `path` (door.OutputExistsError) before anything is
    written."""
    return door.writing(path, field, replace=overwrite)
