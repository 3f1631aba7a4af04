"""The farm-side files shipped with hyperseg-vfx: the top-level `farm/` folder of the source tree.

farm/openjd/template.yaml is the OpenJD job template the bundles are made from;
farm/deadline/HyperSeg/ is the Deadline 10 plugin a wrangler installs into the repository
(`hyperseg-vfx farm install-deadline-plugin`). A wheel carries the folder as
hyperseg_vfx/farm/files/ (setup.py's build step); a source checkout or an editable install
reads the top-level folder itself.
"""

from __future__ import annotations

from pathlib import Path

from .errors import FarmSubmitError

_INSTALLED = Path(__file__).resolve().parent / "files"
_SOURCE = Path(__file__).resolve().parents[2] / "farm"

#: The folder the farm files are read from: the wheel's copy, else the source tree's.
FARM_DIR = _INSTALLED if _INSTALLED.is_dir() else _SOURCE


def farm_file(*parts: str) -> Path:
    """The path of a shipped farm file; FarmSubmitError when this installation lacks it."""
    path = FARM_DIR.joinpath(*parts)
    if not path.is_file():
        raise FarmSubmitError(f"{path} is missing: this hyperseg-vfx installation is incomplete "
                              "(reinstall it; a wheel carries the farm files in hyperseg_vfx/farm/files/)")
    return path
