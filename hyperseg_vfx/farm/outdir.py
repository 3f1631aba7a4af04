"""The folder a submission writes its job files to, and the rule that protects what is there.

Default: `<shot folder>/farm/<shot stem>_<farm>/`. A folder is written into only when it does not
exist, is empty, or holds the marker file of a previous submission of the same shot to the same
farm (a regeneration: its files are replaced). Even then a job file is replaced only when it is
unchanged since hyperseg-vfx wrote it (the marker keeps each file's SHA-256), and a file of the
same name that hyperseg-vfx did not write is never replaced. Anything else is refused before
anything is written, unless the user asks (`overwrite`, `submit --overwrite`), so a submission
never overwrites someone's bundle or their edits silently.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..errors import HypersegError

from ..door import ANYWHERE, Door, PathRefused
from .errors import FarmInputError

#: Written first into every job folder: {"farm": ..., "shot": ..., "files": {name: sha256}}.
MARKER = ".hyperseg-farm.json"


def default_out_dir(shot_file: Path, farm: str) -> Path:
    """`<shot folder>/farm/<shot stem>_<farm>/`."""
    return shot_file.parent / "farm" / f"{shot_file.stem}_{farm}"


def _marker(folder: Path, door: Door) -> dict | None:
    try:
        data = json.loads(door.read_bytes(folder / MARKER, "out_dir", limit=1024**2))
    except (OSError, ValueError, RecursionError, HypersegError):
        return None
    return data if isinstance(data, dict) else None


def _digest(path: Path, door: Door) -> str | None:
    try:
        return hashlib.sha256(door.read_bytes(path, "out_dir")).hexdigest()
    except (OSError, PathRefused):
        return None


def check_out_dir(folder: Path, farm: str, shot_file: Path, names=(), overwrite: bool = False,
                  door: Door = ANYWHERE) -> None:
    """FarmInputError("out_dir") unless `folder` may receive this job's files `names` (see the
    module); with `overwrite` only a folder that is not a folder is refused. The folder is
    walked through `door` (a link out of its roots is refused, PathRefused)."""
    try:
        entries = door.listdir(folder, "out_dir")
    except NotADirectoryError:
        raise FarmInputError("out_dir", f"{folder} exists and is not a folder") from None
    except OSError as exc:
        raise FarmInputError("out_dir", f"{folder}: {exc.strerror or exc}") from None
    if entries is None or overwrite or not entries:
        return
    marker = _marker(folder, door)
    if marker is None:
        raise FarmInputError("out_dir", f"{folder} is not empty and is not a hyperseg-vfx job folder; "
                                        "refusing to overwrite it (choose another --out, or --overwrite)")
    if marker.get("farm") != farm or marker.get("shot") != str(shot_file):
        raise FarmInputError("out_dir", f"{folder} holds the {marker.get('farm')} job of {marker.get('shot')}; "
                                        f"refusing to replace it with the {farm} job of {shot_file} "
                                        "(choose another --out, or --overwrite)")
    written = marker.get("files")
    written = written if isinstance(written, dict) else {}
    for name in names:
        path = folder / name
        if name in entries and _digest(path, door) != written.get(name):
            raise FarmInputError("out_dir", f"{path} was changed since hyperseg-vfx wrote it (or it did not "
                                            "write it); refusing to replace it (--overwrite replaces it)")


def write_job_files(folder: Path, farm: str, shot_file: Path, files: dict[str, str],
                    door: Door = ANYWHERE) -> list[str]:
    """Write `files` (name -> text) into `folder` through `door`, each atomically, after the
    marker that makes the folder ours (with the digest of each file); check_out_dir said they may
    be replaced. Returns the written paths, in the order given."""
    digests = {name: hashlib.sha256(text.encode()).hexdigest() for name, text in files.items()}
    marker = {"farm": farm, "shot": str(shot_file), "files": digests}
    door.write_text(folder / MARKER, json.dumps(marker, indent=2) + "\n", "out_dir", replace=True)
    written = []
    for name, text in files.items():
        door.write_text(folder / name, text, "out_dir", replace=True)
        written.append(str(folder / name))
    return written
