"""The farm-side files shipped with hyperseg-vfx in the top-level `farm/` folder.

farm/openjd/template.yaml is the OpenJD job template the bundles are made from;
farm/deadline/HyperSeg/ is the Deadline 10 plugin a wrangler copies into the repository.
"""

from __future__ import annotations

from pathlib import Path

from .errors import FarmSubmitError

#: The `farm/` folder next to the package (a source checkout or an editable install).
FARM_DIR = Path(__file__).resolve().parents[2] / "farm"


def farm_file(*parts: str) -> Path:
    """The path of a shipped farm file; FarmSubmitError when this installation lacks it."""
    path = FARM_DIR.joinpath(*parts)
    if not path.is_file():
        raise FarmSubmitError(f"{path} is missing: this hyperseg-vfx installation has no farm/ folder "
                              "(install from a source checkout)")
    return path
