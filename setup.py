"""Build hook: ship the top-level farm/ folder (the OpenJD template, the Deadline 10 plugin) inside
the package as hyperseg_vfx/farm/files/, so an installed hyperseg-vfx can submit jobs and install
the Deadline plugin; and the Nuke plugin (nuke_plugin/, with gizmos/HyperSeg.gizmo in its own
gizmos/) as hyperseg_vfx/nuke_plugin/, for `hyperseg-vfx nuke install`. Everything else is in
pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


SOURCE = Path(__file__).parent


def _copy_tree(source: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


class BuildPyWithShippedFiles(build_py):
    def run(self):
        super().run()
        package = Path(self.build_lib) / "hyperseg_vfx"
        _copy_tree(SOURCE / "farm", package / "farm" / "files")
        _copy_tree(SOURCE / "nuke_plugin", package / "nuke_plugin")
        (package / "nuke_plugin" / "gizmos").mkdir()
        shutil.copy2(SOURCE / "gizmos" / "HyperSeg.gizmo", package / "nuke_plugin" / "gizmos" / "HyperSeg.gizmo")


setup(cmdclass={"build_py": BuildPyWithShippedFiles})
