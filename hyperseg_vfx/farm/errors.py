"""The errors of farm submission: bad input (found before anything is written) and engine failures."""

from __future__ import annotations

from ..errors import HypersegError


class FarmInputError(HypersegError, ValueError):
    """A submission argument is wrong; nothing was written or submitted. `field` names it
    (farm, chunk_size, gpus, priority, name, out_dir, run_local, shot)."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


class FarmSubmitError(HypersegError):
    """The farm engine's tool refused or failed the job (the job's files are written)."""
