"""Copying shipped files into a user's folder (`hyperseg-vfx nuke install`, `farm
install-deadline-plugin`) under the no-overwrite rule: a file already holding the same bytes is
left as is, one holding other bytes (edited, or another version) is replaced only when the user
asks (`force`). Each file is written atomically."""

from __future__ import annotations

from pathlib import Path

from .atomic import atomic_output


def files_to_write(files: dict[Path, bytes]) -> tuple[list[Path], list[Path]]:
    """(targets whose bytes differ or that are missing, those of them that exist) of `files`
    ({target: bytes})."""
    changed = [target for target, data in files.items() if not target.is_file() or target.read_bytes() != data]
    return changed, [target for target in changed if target.exists()]


def write_files(files: dict[Path, bytes], targets: list[Path]) -> list[Path]:
    """Write `targets` (keys of `files`) atomically, making their folders; returns them."""
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(target) as tmp:
            tmp.write_bytes(files[target])
    return targets
