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

from ..atomic import atomic_output
from .errors import FarmInputError

#: Written first into every job folder: {"farm": ..., "shot": ..., "files": {name: sha256}}.
MARKER = ".hyperseg-farm.json"


def default_out_dir(shot_file: Path, farm: str) -> Path:
    """`<shot folder>/farm/<shot stem>_<farm>/`."""
    return shot_file.parent / "farm" / f"{shot_file.stem}_{farm}"


def _marker(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def check_out_dir(folder: Path, farm: str, shot_file: Path, names=(), overwrite: bool = False) -> None:
    """FarmInputError("out_dir") unless `folder` may receive this job's files `names` (see the
    module); with `overwrite` only a folder that is not a folder is refused."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise FarmInputError("out_dir", f"{folder} exists and is not a folder")
    if overwrite or not any(folder.iterdir()):
        return
    marker = _marker(folder)
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
        if path.exists() and _digest(path) != written.get(name):
            raise FarmInputError("out_dir", f"{path} was changed since hyperseg-vfx wrote it (or it did not "
                                            "write it); refusing to replace it (--overwrite replaces it)")


def write_job_files(folder: Path, farm: str, shot_file: Path, files: dict[str, str]) -> list[str]:
    """Write `files` (name -> text) into `folder`, each atomically, after the marker that makes
    the folder ours (with the digest of each file). Returns the written paths, in the order given."""
    folder.mkdir(parents=True, exist_ok=True)
    digests = {name: hashlib.sha256(text.encode()).hexdigest() for name, text in files.items()}
    marker = {"farm": farm, "shot": str(shot_file), "files": digests}
    with atomic_output(folder / MARKER) as tmp:
        tmp.write_text(json.dumps(marker, indent=2) + "\n")
    written = []
    for name, text in files.items():
        with atomic_output(folder / name) as tmp:
            tmp.write_bytes(text.encode())
        written.append(str(folder / name))
    return written
