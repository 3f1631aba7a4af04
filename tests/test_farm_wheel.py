"""The farm files and the Nuke plugin ship in the wheel: a wheel built from this tree, installed
into a fresh virtual environment (no source tree next to it), writes the job files of every farm
with `submit --dry-run`, installs the Deadline plugin, and installs the Nuke plugin with its gizmo
into a folder that a (fake) Nuke loads. The install reuses the test environment's dependencies through a
.pth file instead of downloading them (`pip install --no-deps`)."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
import sysconfig
import json
import venv
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from hyperseg_vfx.cli import main
from hyperseg_vfx.farm import FARMS
from hyperseg_vfx.farm.resources import FARM_DIR

ROOT = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                              "tests", "docs", "runs", "demo_output")
#: The package's expected job files per farm.
JOB_FILES = {"openjd": "template.yaml", "deadline-cloud": "template.yaml", "opencue": "job.xml",
             "deadline10": "job_info.job"}


def dependency_paths() -> list[str]:
    """The site-packages folders this test's Python imports its dependencies from (the
    hyperseg_vfx of this tree excluded: the wheel's must be the one imported)."""
    import yaml

    return list(dict.fromkeys([str(Path(yaml.__file__).parents[1]), sysconfig.get_paths()["purelib"]]))


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with the wheel of this tree installed; returns its bin folder."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=SKIP)
    # pip wheel without build isolation: setuptools comes from this environment (no download).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(dependency_paths())}
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                            str(work / "dist"), str(source)], capture_output=True, text=True, env=env)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (wheel,) = (work / "dist").glob("hyperseg_vfx-*.whl")
    target = work / "venv"
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(target)
    purelib = subprocess.run([str(target / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "zz_dependencies.pth").write_text("\n".join(dependency_paths()) + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(target / "bin" / "python"), "install",
                              "--no-deps", "--no-index", str(wheel)], capture_output=True, text=True)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    return target / "bin"


def test_the_installed_package_reads_its_farm_files_from_the_wheel(installed):
    probe = subprocess.run([str(installed / "python"), "-c",
                            "import hyperseg_vfx, hyperseg_vfx.farm.resources as r; print(hyperseg_vfx.__file__);"
                            "print(r.FARM_DIR)"], capture_output=True, text=True, cwd="/")
    package, farm_dir = probe.stdout.split()
    assert package.startswith(str(installed.parent)) and farm_dir.startswith(str(installed.parent)), probe.stdout
    assert filecmp.cmp(Path(farm_dir) / "deadline" / "HyperSeg" / "HyperSeg.py",
                       ROOT / "farm" / "deadline" / "HyperSeg" / "HyperSeg.py", shallow=False)


@pytest.mark.parametrize("farm", list(FARMS))
def test_submit_dry_run_from_the_wheel(installed, farm_shot, tmp_path, farm):
    env = {k: v for k, v in os.environ.items() if k not in ("HYPERSEG_VFX_COMMAND", "CUEBOT_HOSTS", "PYTHONPATH")}
    env |= {"HOME": str(tmp_path / "home"), "SHOW": "hyperseg"}
    run = subprocess.run([str(installed / "hyperseg-vfx"), "submit", str(farm_shot()), "--farm", farm, "--dry-run",
                          "--out", str(tmp_path / "job")], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "job" / JOB_FILES[farm]).is_file()
    if farm == "opencue":  # the worker command is the installed one, absolute
        assert str(installed / "hyperseg-vfx") in (tmp_path / "job" / "job.xml").read_text()


def test_install_deadline_plugin_from_the_wheel(installed, tmp_path):
    (tmp_path / "repo" / "custom" / "plugins").mkdir(parents=True)
    run = subprocess.run([str(installed / "hyperseg-vfx"), "farm", "install-deadline-plugin", str(tmp_path / "repo")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    names = sorted(p.name for p in (tmp_path / "repo" / "custom" / "plugins" / "HyperSeg").iterdir())
    assert names == ["HyperSeg.dlinit", "HyperSeg.param", "HyperSeg.py"]


def test_install_deadline_plugin_never_overwrites_an_edited_plugin(tmp_path):
    repo = tmp_path / "repo"
    runner = CliRunner()
    refused = runner.invoke(main, ["farm", "install-deadline-plugin", str(tmp_path / "nowhere")])
    assert refused.exit_code == 2 and "is not a Deadline repository" in refused.output
    (repo / "custom").mkdir(parents=True)
    first = runner.invoke(main, ["farm", "install-deadline-plugin", str(repo)])
    assert first.exit_code == 0 and first.output.count("wrote ") == 3
    again = runner.invoke(main, ["farm", "install-deadline-plugin", str(repo)])
    assert again.exit_code == 0 and "already up to date" in again.output
    dlinit = repo / "custom" / "plugins" / "HyperSeg" / "HyperSeg.dlinit"
    dlinit.write_text(dlinit.read_text() + "ConcurrentTasks=False\n")
    edited = dlinit.read_text()
    refused = runner.invoke(main, ["farm", "install-deadline-plugin", str(repo)])
    assert refused.exit_code == 2 and "HyperSeg.dlinit differs from the shipped plugin" in refused.output
    assert dlinit.read_text() == edited
    forced = runner.invoke(main, ["farm", "install-deadline-plugin", str(repo), "--force"])
    assert forced.exit_code == 0 and filecmp.cmp(dlinit, FARM_DIR / "deadline" / "HyperSeg" / "HyperSeg.dlinit", False)


NUKE_LOAD = """
import runpy, sys
sys.path.insert(0, {tests!r})
import fake_nuke
nuke = fake_nuke.install()
sys.path.remove(str(fake_nuke.PLUGIN_DIR))  # only the installed copy: no source tree
sys.path.insert(0, {plugin!r})
runpy.run_path({plugin!r} + "/init.py", run_name="__main__")
node = nuke.createNode("HyperSeg")
import hyperseg_nuke, hyperseg_nuke.bridge_client as client
print(hyperseg_nuke.__file__)
print(node.Class(), node.knob("segment_frame") is not None)
print(client.hyperseg_command())
"""


def test_the_wheel_ships_the_nuke_plugin_and_installs_it(installed, tmp_path):
    (wheel,) = (installed.parents[1] / "dist").glob("hyperseg_vfx-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {"hyperseg_vfx/nuke_plugin/" + p.relative_to(ROOT / "nuke_plugin").as_posix()
               for p in (ROOT / "nuke_plugin").rglob("*.py")}
    assert shipped | {"hyperseg_vfx/nuke_plugin/gizmos/HyperSeg.gizmo"} <= names, sorted(names)

    folder = tmp_path / "nuke" / "hyperseg"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HYPERSEG_VFX_COMMAND")}
    run = subprocess.run([str(installed / "hyperseg-vfx"), "nuke", "install", str(folder)], capture_output=True,
                         text=True, env=env, cwd="/")
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"NUKE_PATH=\"{folder}\"" in run.stdout
    assert filecmp.cmp(folder / "gizmos" / "HyperSeg.gizmo", ROOT / "gizmos" / "HyperSeg.gizmo", shallow=False)
    command = json.loads((folder / "hyperseg_command.json").read_text())["command"]
    assert command == [str(installed / "python"), "-m", "hyperseg_vfx.cli"]
    version = subprocess.run(command + ["--version"], capture_output=True, text=True, env=env, cwd="/")
    assert version.returncode == 0 and "hyperseg-vfx" in version.stdout, version.stderr

    # Nuke with FOLDER on its plugin path: the copy loads, finds its gizmo and the recorded command
    load = subprocess.run([sys.executable, "-c", NUKE_LOAD.format(tests=str(ROOT / "tests"), plugin=str(folder))],
                          capture_output=True, text=True, env=env, cwd="/")
    assert load.returncode == 0, load.stderr
    module, created, found = load.stdout.splitlines()[-3:]
    assert module.startswith(str(folder)) and created == "HyperSeg True" and found == repr(command)

    again = subprocess.run([str(installed / "hyperseg-vfx"), "nuke", "install", str(folder)], capture_output=True,
                           text=True, env=env)
    assert again.returncode == 0 and "already up to date" in again.stdout


def test_nuke_install_never_overwrites_an_edited_file(tmp_path):
    runner = CliRunner()
    folder = tmp_path / "hyperseg"
    first = runner.invoke(main, ["nuke", "install", str(folder)])
    assert first.exit_code == 0 and (folder / "hyperseg_nuke" / "bridge_client.py").is_file(), first.output
    menu = folder / "menu.py"
    menu.write_text(menu.read_text() + "# a studio's addition\n")
    edited = menu.read_text()
    refused = runner.invoke(main, ["nuke", "install", str(folder)])
    assert refused.exit_code == 2 and "menu.py differs from what would be installed" in refused.output
    assert menu.read_text() == edited
    forced = runner.invoke(main, ["nuke", "install", str(folder), "--force"])
    assert forced.exit_code == 0 and filecmp.cmp(menu, ROOT / "nuke_plugin" / "menu.py", shallow=False)
