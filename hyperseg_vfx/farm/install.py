"""Installing the Deadline 10 plugin into a repository: `hyperseg-vfx farm install-deadline-plugin REPO`.

The shipped plugin folder (farm/deadline/HyperSeg/) is copied to `<REPO>/custom/plugins/HyperSeg/`,
where Deadline finds custom plugins. `REPO` must be a Deadline repository (it has a `custom/`
folder). A plugin folder that is already there is replaced only when its files are exactly the
shipped ones (nothing to lose) or when the user asks (`force`): a wrangler's edited plugin or
settings are never overwritten silently. Each file is written atomically (install_files).
"""

from __future__ import annotations

from pathlib import Path

from ..install_files import files_to_write, write_files
from .errors import FarmInputError
from .resources import farm_file

PLUGIN = "HyperSeg"


def plugin_files() -> list[Path]:
    """The shipped plugin's files (HyperSeg.py, .param, .dlinit)."""
    folder = farm_file("deadline", PLUGIN, f"{PLUGIN}.py").parent
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".py", ".param", ".dlinit"))


def install_deadline_plugin(repository: str | Path, *, force: bool = False) -> tuple[Path, list[Path]]:
    """Copy the plugin into `repository`; returns (the plugin folder, the files written, [] when
    it was already up to date). FarmInputError naming `repository` or the file in the way."""
    repository = Path(repository).absolute()
    if not (repository / "custom").is_dir():
        raise FarmInputError("repository", f"{repository} is not a Deadline repository (it has no custom/ folder)")
    target = repository / "custom" / "plugins" / PLUGIN
    if target.exists() and not target.is_dir():
        raise FarmInputError("repository", f"{target} exists and is not a folder")
    files = {target / source.name: source.read_bytes() for source in plugin_files()}
    changed, in_the_way = files_to_write(files)
    if in_the_way and not force:
        raise FarmInputError("repository", f"{in_the_way[0]} differs from the shipped plugin (edited, or another "
                                           "version); refusing to overwrite it (--force replaces it)")
    target.mkdir(parents=True, exist_ok=True)
    return target, write_files(files, changed)
