"""What an engine makes of a farm job: the files to write, then how to submit them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass
class Submission:
    """The outcome of handing the written files to the engine (or of not doing so).
    command: the command that was run, or the one to run by hand."""

    submitted: bool
    message: str
    job_id: str | None = None
    command: list[str] | None = None


@dataclass
class Plan:
    """files: name -> text, written into the job folder; submit(folder) runs after they are."""

    files: dict[str, str]
    submit: Callable[[Path], Submission]
