"""Build hook: ship the top-level farm/ folder (the OpenJD template, the Deadline 10 plugin) inside
the package as hyperseg_vfx/farm/files/, so an installed hyperseg-vfx can submit jobs and install
the Deadline plugin. Everything else is in pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithFarmFiles(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "hyperseg_vfx" / "farm" / "files"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(Path(__file__).parent / "farm", target,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithFarmFiles})
