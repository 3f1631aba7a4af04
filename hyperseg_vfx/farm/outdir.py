"""The folder a submission writes its job files to, and the rule that protects what is there.

Default: `<shot folder>/farm/<shot stem>_<farm>/`. A folder is written into only when it does not
exist, is empty, or holds the marker file of a previous submission of the same shot to the same
farm (a regeneration: its files are replaced). Anything else is refused before anything is
written, so a submission never overwrites someone else's bundle silently.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import atomic_output
from .errors import FarmInputError

#: Written first into every job folder: {"farm": ..., "shot": ..., "files": [...]}.
MARKER = ".hyperseg-farm.json"


def default_out_dir(shot_file: Path, farm: str) -> Path:
    """`<shot folder>/farm/<shot stem>_<farm>/`."""
    return shot_file.parent / "farm" / f"{shot_file.stem}_{farm}"


def _marker(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def check_out_dir(folder: Path, farm: str, shot_file: Path) -> None:
    """FarmInputError("out_dir") unless `folder` may receive this job's files (see the module)."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise FarmInputError("out_dir", f"{folder} exists and is not a folder")
    if not any(folder.iterdir()):
        return
    marker = _marker(folder)
    if marker is None:
        raise FarmInputError("out_dir", f"{folder} is not empty and is not a hyperseg-vfx job folder; "
                                        "refusing to overwrite it (choose another --out)")
    if marker.get("farm") != farm or marker.get("shot") != str(shot_file):
        raise FarmInputError("out_dir", f"{folder} holds the {marker.get('farm')} job of {marker.get('shot')}; "
                                        f"refusing to replace it with the {farm} job of {shot_file} "
                                        "(choose another --out)")


def write_job_files(folder: Path, farm: str, shot_file: Path, files: dict[str, str]) -> list[str]:
    """Write `files` (name -> text) into `folder`, each atomically, after the marker that makes
    the folder ours. Returns the written paths, in the order given."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = {"farm": farm, "shot": str(shot_file), "files": list(files)}
    with atomic_output(folder / MARKER) as tmp:
        tmp.write_text(json.dumps(marker, indent=2) + "\n")
    written = []
    for name, text in files.items():
        with atomic_output(folder / name) as tmp:
            tmp.write_text(text)
        written.append(str(folder / name))
    return written
