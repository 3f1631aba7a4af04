"""Installing the Nuke plugin from an installed hyperseg-vfx: `hyperseg-vfx nuke install FOLDER`.

A wheel carries the source tree's `nuke_plugin/` (init.py, menu.py, hyperseg_nuke/) as
hyperseg_vfx/nuke_plugin/ with the gizmo in its gizmos/ (setup.py's build step); a source
checkout or an editable install reads the top-level nuke_plugin/ and gizmos/ themselves.
The install copies the plugin and the gizmo into FOLDER (the gizmo in FOLDER/gizmos/, where the
plugin's install.py looks first) and records how to run this hyperseg-vfx in
FOLDER/hyperseg_command.json ([this Python, -m, hyperseg_vfx.cli]), so that the plugin can start
a bridge and make contact sheets with no PATH set up (hyperseg_nuke.bridge_client.hyperseg_command).
FOLDER then goes on NUKE_PATH. Files already there are replaced only when they are exactly what
would be written, or with `force` (see install_files).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .errors import HypersegError
from .install_files import files_to_write, write_files

_PACKAGE = Path(__file__).resolve().parent
_INSTALLED = _PACKAGE / "nuke_plugin"
#: The plugin folder read: the wheel's copy, else the source tree's.
PLUGIN_DIR = _INSTALLED if _INSTALLED.is_dir() else _PACKAGE.parent / "nuke_plugin"
#: The gizmo: in the wheel's plugin folder, else the source tree's gizmos/.
GIZMO = next((p for p in (PLUGIN_DIR / "gizmos" / "HyperSeg.gizmo", _PACKAGE.parent / "gizmos" / "HyperSeg.gizmo")
              if p.is_file()), PLUGIN_DIR / "gizmos" / "HyperSeg.gizmo")
#: Written beside the copied plugin (hyperseg_nuke.bridge_client.INSTALLED_COMMAND_FILE).
COMMAND_FILE = "hyperseg_command.json"


class NukeInstallError(HypersegError):
    """The plugin cannot be installed as asked (the message names the file)."""


def plugin_files() -> dict[str, Path]:
    """{path inside the install folder: shipped file} of the plugin and its gizmo."""
    sources = [PLUGIN_DIR / "init.py", PLUGIN_DIR / "menu.py", *sorted((PLUGIN_DIR / "hyperseg_nuke").glob("*.py"))]
    files = {source.relative_to(PLUGIN_DIR).as_posix(): source for source in sources}
    files["gizmos/HyperSeg.gizmo"] = GIZMO
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing or "hyperseg_nuke/__init__.py" not in files:
        raise NukeInstallError(f"{missing[0] if missing else PLUGIN_DIR / 'hyperseg_nuke'} is missing: this "
                               "hyperseg-vfx installation is incomplete (reinstall it)")
    return files


def this_command() -> list[str]:
    """How to run this hyperseg-vfx from another program: its Python (not resolved through
    links: a virtual environment's python is a link) with `-m hyperseg_vfx.cli`."""
    return [os.path.abspath(sys.executable), "-m", "hyperseg_vfx.cli"]


def install_nuke_plugin(folder: str | os.PathLike, *, force: bool = False) -> tuple[Path, list[Path]]:
    """Copy the plugin, its gizmo and the command file into `folder`; returns (the folder, the
    files written: [] when all were up to date). NukeInstallError when a file there differs and
    `force` is off, or `folder` is a file."""
    folder = Path(folder).absolute()
    if folder.exists() and not folder.is_dir():
        raise NukeInstallError(f"{folder} exists and is not a folder")
    files = {folder / name: source.read_bytes() for name, source in plugin_files().items()}
    files[folder / COMMAND_FILE] = (json.dumps({"command": this_command()}, indent=1) + "\n").encode()
    changed, in_the_way = files_to_write(files)
    if in_the_way and not force:
        raise NukeInstallError(f"{in_the_way[0]} differs from what would be installed (edited, or another version); "
                               "refusing to overwrite it (--force replaces it)")
    return folder, write_files(files, changed)
