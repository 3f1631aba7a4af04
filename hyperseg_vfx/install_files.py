"""Copying shipped files into a user's folder (`hyperseg-vfx nuke install`, `farm
install-deadline-plugin`) under the no-overwrite rule: a file already holding the same bytes is
left as is, one holding other bytes (edited, or another version) is replaced only when the user
asks (`force`). Each file is written atomically, through the door."""

from __future__ import annotations

from pathlib import Path

from .door import ANYWHERE


def files_to_write(files: dict[Path, bytes]) -> tuple[list[Path], list[Path]]:
    """(targets whose bytes differ or that are missing, those of them that exist) of `files`
    ({target: bytes})."""
    changed = [target for target, data in files.items()
               if not ANYWHERE.is_file(target) or ANYWHERE.read_bytes(target) != data]
    return changed, [target for target in changed if target.exists()]


def write_files(files: dict[Path, bytes], targets: list[Path]) -> list[Path]:
    """Write `targets` (keys of `files`) atomically through the door, making their folders;
    returns them. The caller has applied the no-overwrite rule (files_to_write, `force`)."""
    for target in targets:
        ANYWHERE.write_bytes(target, files[target], replace=True)
    return targets
