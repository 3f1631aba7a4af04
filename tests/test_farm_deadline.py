"""Deadline 10: the job and plugin info files (golden), submission with deadlinecommand, and the
HyperSeg plugin run by a stand-in of Deadline's plugin host (Deadline.Plugins / Deadline.Scripting
cannot be installed outside Deadline)."""

from __future__ import annotations

import configparser
import glob
import importlib.util
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from hyperseg_vfx.farm import FarmSubmitError, submit_shot
from hyperseg_vfx.farm.deadline10 import hash_pattern
from hyperseg_vfx.farm.resources import FARM_DIR

PLUGIN_DIR = FARM_DIR / "deadline" / "HyperSeg"


# -- the job files --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_deadline(tmp_path, monkeypatch):
    """No deadlinecommand (PATH: the system's tools only), default pool and group."""
    for name in ("DEADLINE_PATH", "HYPERSEG_DEADLINE_POOL", "HYPERSEG_DEADLINE_GROUP", "HYPERSEG_VFX_COMMAND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PATH", os.pathsep.join(["/usr/bin", "/bin"]))


def test_job_files_golden(farm_shot, golden, tmp_path):
    shot = farm_shot()
    result = submit_shot(shot, "deadline10", chunk_size=2, gpus=1, priority=70, out_dir=tmp_path / "dl")
    for name in ("job_info.job", "plugin_info.job"):
        golden(f"farm/deadline10/{name}", (tmp_path / "dl" / name).read_text(), shot_dir=shot.parent)
    assert not result.submitted and "deadlinecommand is not installed" in result.message
    assert result.command == ["deadlinecommand", str(tmp_path / "dl" / "job_info.job"),
                              str(tmp_path / "dl" / "plugin_info.job")]


def test_job_info_frames_pool_and_group(farm_shot, tmp_path, monkeypatch):
    monkeypatch.setenv("HYPERSEG_DEADLINE_POOL", "gpu_pool")
    monkeypatch.setenv("HYPERSEG_DEADLINE_GROUP", "rtx")
    submit_shot(farm_shot("1001-1009x2,1020-1022"), "deadline10", out_dir=tmp_path / "dl")
    info = dict(line.split("=", 1) for line in (tmp_path / "dl" / "job_info.job").read_text().splitlines())
    assert (info["Frames"], info["Pool"], info["Group"]) == ("1001-1009x2,1020-1022", "gpu_pool", "rtx")


@pytest.mark.parametrize("pattern, expected", [
    ("m/sh010.####.exr", "m/sh010.####.exr"),
    ("m/sh010.%04d.exr", "m/sh010.####.exr"),
    ("m/sh010.@@@.exr", "m/sh010.###.exr"),
    ("m/sh010.%d.exr", "m/sh010.#.exr"),
    ("m_9/v2.%06d_9.exr", "m_9/v2.######_9.exr"),
    ("m/single.exr", "m/single.exr"),
])
def test_hash_pattern(pattern, expected):
    assert hash_pattern(pattern) == expected


def fake_deadlinecommand(folder, output: str) -> None:
    """`deadlinecommand JOB_INFO PLUGIN_INFO` printing `output` when both files exist."""
    folder.mkdir(parents=True)
    path = folder / "deadlinecommand"
    path.write_text("#!/bin/bash\n[ -f \"$1\" ] && [ -f \"$2\" ] || { echo \"Error: no such file\"; exit 1; }\n"
                    f"cat <<'EOF'\n{output}\nEOF\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_submits_with_deadlinecommand_from_deadline_path(farm_shot, tmp_path, monkeypatch):
    fake_deadlinecommand(tmp_path / "Deadline10" / "bin", textwrap.dedent("""\
        Submitting to Repository: /mnt/DeadlineRepository10
        Submission Contains No Auxiliary Files.

        Result=Success
        JobID=65f1c0de2a9b4e0012345678
        The job was submitted successfully."""))
    monkeypatch.setenv("DEADLINE_PATH", str(tmp_path / "Deadline10" / "bin"))
    result = submit_shot(farm_shot(), "deadline10", out_dir=tmp_path / "dl")
    assert result.submitted and result.job_id == "65f1c0de2a9b4e0012345678"
    assert result.command[0] == str(tmp_path / "Deadline10" / "bin" / "deadlinecommand")


def test_deadlinecommand_refusal_is_an_error(farm_shot, tmp_path, monkeypatch):
    fake_deadlinecommand(tmp_path / "bin", "Result=Failed\nError: Plugin 'HyperSeg' is not installed")
    monkeypatch.setenv("DEADLINE_PATH", str(tmp_path / "bin"))
    with pytest.raises(FarmSubmitError, match="Plugin 'HyperSeg' is not installed"):
        submit_shot(farm_shot(), "deadline10", out_dir=tmp_path / "dl")


# -- the plugin, in a stand-in of Deadline's plugin host ------------------------------------------


class Event:
    """A .NET event as Python.NET exposes it: `event += handler`; calling it calls the handlers."""

    def __init__(self):
        self.handlers = []

    def __iadd__(self, handler):
        self.handlers.append(handler)
        return self

    def __call__(self, *args):
        results = [handler(*args) for handler in self.handlers]
        return results[-1] if results else None


class RenderFailed(Exception):
    """What FailRender throws: the task ends as failed with the message."""


class StdoutHandler:
    def __init__(self, regex):
        self.Regex = regex
        self.HandleCallback = Event()


class DeadlinePlugin:
    """Deadline.Plugins.DeadlinePlugin as a Simple plugin uses it (Deadline 10 Scripting reference,
    DeadlinePlugin class; the calls as Thinkbox's own plugins make them, e.g. Redshift.py's GPU
    selection by GetThreadNumber() and its CreateTempDirectory for a path-mapping file). The
    job, task and worker come from attributes: plugin_info, config, task_frames, thread,
    gpu_affinity (None: no override), temp_root (where CreateTempDirectory creates folders)."""

    temp_root = None

    def __init__(self):
        self.InitializeProcessCallback = Event()
        self.RenderExecutableCallback = Event()
        self.RenderArgumentCallback = Event()
        self.CheckExitCodeCallback = Event()
        self.StdoutHandlers = []
        self.plugin_info, self.config, self.task_frames = {}, {}, []
        self.thread, self.gpu_affinity = 0, None
        self.progress, self.status, self.environment = None, None, {}
        self._match = None

    def AddStdoutHandlerCallback(self, regex):
        handler = StdoutHandler(regex)
        self.StdoutHandlers.append(handler)
        return handler

    def GetRegexMatch(self, index):
        return self._match.group(index)

    def GetPluginInfoEntry(self, key):
        if key not in self.plugin_info:
            raise KeyError(f"plugin info entry {key} is not set")
        return self.plugin_info[key]

    def GetPluginInfoEntryWithDefault(self, key, default):
        return self.plugin_info.get(key, default)

    def GetConfigEntry(self, key):
        return self.config[key]

    def GetCurrentTask(self):
        return types.SimpleNamespace(TaskFrameList=list(self.task_frames))

    def GetThreadNumber(self):
        return self.thread

    def OverrideGpuAffinity(self):
        return self.gpu_affinity is not None

    def GpuAffinity(self):
        return list(self.gpu_affinity)

    def SetProcessEnvironmentVariable(self, key, value):
        self.environment[key] = value

    def LogInfo(self, message):
        self.log = getattr(self, "log", []) + [message]

    def CreateTempDirectory(self, name):
        """A new folder for this task (Deadline: under the worker's job data folder)."""
        import tempfile

        return tempfile.mkdtemp(prefix=name, dir=self.temp_root)

    def SetProgress(self, progress):
        self.progress = progress

    def SetStatusMessage(self, message):
        self.status = message

    def FailRender(self, message):
        raise RenderFailed(message)


def render_task(plugin, stdout_lines, exit_code):
    """Run a task the way Deadline runs a Simple plugin: initialise, ask for the executable and
    arguments, feed each output line to the handlers whose regex matches, check the exit code.
    Returns (executable, arguments)."""
    plugin.InitializeProcessCallback()
    executable, arguments = plugin.RenderExecutableCallback(), plugin.RenderArgumentCallback()
    for line in stdout_lines:
        for handler in plugin.StdoutHandlers:
            plugin._match = re.search(handler.Regex, line)
            if plugin._match:
                handler.HandleCallback()
    plugin.CheckExitCodeCallback(exit_code)
    return executable, arguments


#: The repository's path mappings for this OS, as RepositoryUtils.GetPathMappings() returns them:
#: [from, to] pairs (an empty `to` is a mapping with no destination on this OS; Thinkbox's Redshift
#: plugin skips those).
PATH_MAPPINGS = [["/mnt/", "/net/"], ["Q:\\Shows\\", "/net/shows/"], ["/unmapped", ""]]


@pytest.fixture
def plugin_module(monkeypatch):
    """HyperSeg.py imported against the stand-in Deadline modules (path mapping: /mnt -> /net,
    CheckPathMapping as Deadline's: a prefix replaced, separators left as they are)."""
    deadline = types.ModuleType("Deadline")
    plugins = types.ModuleType("Deadline.Plugins")
    plugins.DeadlinePlugin = DeadlinePlugin
    plugins.PluginType = types.SimpleNamespace(Simple="Simple", Advanced="Advanced")
    scripting = types.ModuleType("Deadline.Scripting")
    scripting.FileUtils = types.SimpleNamespace(
        SearchFileList=lambda paths: next((p for p in paths.split(";") if p and os.path.isfile(p)), ""))
    scripting.RepositoryUtils = types.SimpleNamespace(
        CheckPathMapping=lambda path: re.sub(r"^/mnt/", "/net/", path),
        GetPathMappings=lambda: [list(pair) for pair in PATH_MAPPINGS])
    scripting.SystemUtils = types.SimpleNamespace(IsRunningOnWindows=lambda: False)
    for name, module in (("Deadline", deadline), ("Deadline.Plugins", plugins), ("Deadline.Scripting", scripting)):
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("HyperSeg", PLUGIN_DIR / "HyperSeg.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def plugin(plugin_module, tmp_path):
    """A plugin instance for a task of frames 1001-1003 of `/mnt/shows/sh 010.yaml`, with the
    executable configured as a missing path, then a present one."""
    executable = tmp_path / "bin" / "hyperseg-vfx"
    executable.parent.mkdir()
    executable.write_text("")
    instance = plugin_module.GetDeadlinePlugin()
    instance.plugin_info = {"ShotFile": "/mnt/shows/sh 010.yaml", "GPUsPerTask": "0"}
    instance.config = {"Executable": f"/nowhere/hyperseg-vfx;{executable}"}
    instance.task_frames = [1001, 1002, 1003]
    instance.temp_root = str(tmp_path)
    return instance


def test_plugin_runs_the_render_of_the_task_frames(plugin, tmp_path):
    lines = ["frame 1001  0.52 s  /net/shows/m.1001.exr", "openjd_progress: 33.3",
             "frame 1002  0.50 s  /net/shows/m.1002.exr", "openjd_progress: 66.7"]
    executable, arguments = render_task(plugin, lines, 0)
    assert executable == str(tmp_path / "bin" / "hyperseg-vfx")
    argv = shlex.split(arguments)
    assert argv[:5] == ["render", "/net/shows/sh 010.yaml", "--frames", "1001-1003", "--openjd-progress"]
    assert argv[5] == "--path-mapping-rules" and len(argv) == 7
    assert json.loads(Path(argv[6]).read_text()) == {"version": "pathmapping-1.0", "path_mapping_rules": [
        {"source_path_format": "POSIX", "source_path": "/mnt/", "destination_path": "/net/"},
        {"source_path_format": "WINDOWS", "source_path": "Q:\\Shows\\", "destination_path": "/net/shows/"}]}
    assert plugin.progress == pytest.approx(66.7)
    assert plugin.status == "frame 1002: 0.50 s  /net/shows/m.1002.exr"
    assert plugin.environment == {}


def test_a_gpu_task_renders_on_cuda_only(plugin):
    """GPUsPerTask > 0: the render is told --device cuda, so on a host without a GPU it exits 2
    (the task fails and is retried elsewhere) instead of rendering on the CPU."""
    assert "--device" not in shlex.split(render_task(plugin, [], 0)[1])
    plugin.plugin_info["GPUsPerTask"] = "1"
    argv = shlex.split(render_task(plugin, [], 0)[1])
    assert argv[argv.index("--device") + 1] == "cuda"


def test_plugin_passes_a_stepped_task_as_a_frame_list(plugin):
    plugin.task_frames = [1005, 1001, 1003]
    assert shlex.split(render_task(plugin, [], 0)[1])[3] == "1001,1003,1005"


@pytest.mark.parametrize("code, meaning", [(1, "frames failed"), (2, "bad input"), (143, "signal")])
def test_plugin_fails_the_task_on_a_non_zero_exit(plugin, code, meaning):
    with pytest.raises(RenderFailed, match=f"exited with {code} .*{meaning}"):
        render_task(plugin, ["frame 1001  FAILED  input: cannot read plate"], code)


def test_plugin_fails_without_an_executable(plugin):
    plugin.config = {"Executable": "/nowhere/hyperseg-vfx"}
    with pytest.raises(RenderFailed, match="Configure Plugins > HyperSeg"):
        render_task(plugin, [], 0)


@pytest.mark.parametrize("per_task, thread, affinity, visible", [
    ("2", 1, None, "2,3"),       # concurrent task 1 gets the next two GPUs
    ("1", 0, [3, 1], "3"),       # the worker's affinity wins, GPUsPerTask of it
    ("1", 1, [3, 1], "1"),       # ... the next one for the next concurrent task
    ("1", 2, [3, 1], "3"),       # ... rotating through it
    ("0", 0, [0, 2], "0,2"),     # no limit: the whole affinity
    ("0", 1, None, None),        # no limit and no affinity: no restriction
])
def test_plugin_selects_gpus(plugin, per_task, thread, affinity, visible):
    plugin.plugin_info["GPUsPerTask"] = per_task
    plugin.thread, plugin.gpu_affinity = thread, affinity
    render_task(plugin, [], 0)
    expected = {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": visible} if visible else {}
    assert plugin.environment == expected


@pytest.mark.parametrize("affinity", [None, [2, 3]])
def test_two_concurrent_tasks_see_different_gpus(plugin_module, tmp_path, affinity):
    """Two render threads of one worker, run at the same time, each with GPUsPerTask 1."""
    import threading

    tasks = []
    for thread in (0, 1):
        task = plugin_module.GetDeadlinePlugin()
        task.plugin_info = {"ShotFile": "/mnt/sh010.yaml", "GPUsPerTask": "1"}
        task.config = {"Executable": sys.executable}
        task.task_frames, task.thread, task.gpu_affinity, task.temp_root = [1001], thread, affinity, str(tmp_path)
        tasks.append(task)
    runners = [threading.Thread(target=render_task, args=(task, [], 0)) for task in tasks]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    seen = [task.environment.get("CUDA_VISIBLE_DEVICES") for task in tasks]
    assert seen == (["0", "1"] if affinity is None else ["2", "3"])
    assert all(task.environment["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID" for task in tasks)


PYTHON27 = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/2.7*/bin/python")))

#: Deadline.Plugins / Deadline.Scripting as small Python 2 modules: enough for Deadline's own steps
#: (GetDeadlinePlugin, the callbacks) to run the plugin under Python 2.
PY2_HOST = r"""
import imp, sys, types
class Event(object):
    def __init__(self): self.handlers = []
    def __iadd__(self, h): self.handlers.append(h); return self
    def __call__(self, *a): return [h(*a) for h in self.handlers][-1]
class Handler(object):
    def __init__(self): self.HandleCallback = Event()
class DeadlinePlugin(object):
    def __init__(self):
        for name in ("InitializeProcess", "RenderExecutable", "RenderArgument", "CheckExitCode"):
            setattr(self, name + "Callback", Event())
        self.StdoutHandlers, self.env = [], {}
    def AddStdoutHandlerCallback(self, regex): self.StdoutHandlers.append(Handler()); return self.StdoutHandlers[-1]
    def GetPluginInfoEntryWithDefault(self, key, default): return {"GPUsPerTask": "1"}.get(key, default)
    def GetPluginInfoEntry(self, key): return "/mnt/sh010.yaml"
    def GetThreadNumber(self): return 1
    def OverrideGpuAffinity(self): return False
    def SetProcessEnvironmentVariable(self, k, v): self.env[k] = v
    def LogInfo(self, m): pass
    def CreateTempDirectory(self, name): import tempfile; return tempfile.mkdtemp()
    def GetCurrentTask(self): return types.ModuleType("task")
plugins = types.ModuleType("Deadline.Plugins"); plugins.DeadlinePlugin = DeadlinePlugin
plugins.PluginType = types.ModuleType("PluginType"); plugins.PluginType.Simple = 1
scripting = types.ModuleType("Deadline.Scripting")
scripting.FileUtils = None
scripting.RepositoryUtils = types.ModuleType("RepositoryUtils")
scripting.RepositoryUtils.CheckPathMapping = lambda p: p.replace("/mnt/", "/net/")
scripting.RepositoryUtils.GetPathMappings = lambda: [["/mnt/", "/net/"]]
scripting.SystemUtils = types.ModuleType("SystemUtils"); scripting.SystemUtils.IsRunningOnWindows = lambda: False
sys.modules.update({"Deadline": types.ModuleType("Deadline"), "Deadline.Plugins": plugins,
                    "Deadline.Scripting": scripting})
module = imp.load_source("HyperSeg", sys.argv[1])
plugin = module.GetDeadlinePlugin()
plugin.InitializeProcessCallback()
task = plugin.GetCurrentTask(); task.TaskFrameList = [1001, 1003]
plugin.GetCurrentTask = lambda: task
print(plugin.env["CUDA_VISIBLE_DEVICES"] + " | " + plugin.RenderArgumentCallback())
"""


@pytest.mark.skipif(not PYTHON27, reason="no Python 2.7 under ~/.pyenv/versions")
def test_plugin_loads_and_runs_under_python_2(tmp_path):
    """Deadline before 10.3 without a python3 shebang, or without Python 3, runs plugins as Python 2."""
    assert (PLUGIN_DIR / "HyperSeg.py").read_text().startswith("#!/usr/bin/env python3\n")
    plugin_file = tmp_path / "HyperSeg.py"  # a copy: Python 2 writes its .pyc next to the source
    shutil.copy(PLUGIN_DIR / "HyperSeg.py", plugin_file)
    compiled = subprocess.run([PYTHON27[-1], "-m", "py_compile", str(plugin_file)], capture_output=True, text=True)
    assert compiled.returncode == 0, compiled.stderr
    host = tmp_path / "host.py"
    host.write_text(PY2_HOST)
    run = subprocess.run([PYTHON27[-1], str(host), str(plugin_file)], capture_output=True, text=True,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    visible, arguments = run.stdout.strip().split(" | ")
    assert visible == "1" and arguments.startswith('render "/net/sh010.yaml" --frames 1001,1003 --openjd-progress '
                                                   '--device cuda')


def test_plugin_arguments_render_a_moved_shot_with_the_repositorys_mappings(plugin_module, tmp_path, make_shot,
                                                                            tiny_checkpoint, monkeypatch):
    """The whole chain: a shot written with absolute paths on the studio side, its folder moved,
    the repository mapping studio -> worker; the plugin's executable and arguments, run, write
    the mattes into the moved folder."""
    from test_farm_pathmapping import moved_shot

    shot_file, moved = moved_shot(tmp_path, make_shot, tiny_checkpoint, frames="1001-1002")
    shutil.move(shot_file.parent, moved)
    task = plugin_module.GetDeadlinePlugin()
    task.plugin_info = {"ShotFile": str(shot_file), "GPUsPerTask": "0"}
    task.config = {"Executable": str(Path(sys.executable).with_name("hyperseg-vfx"))}
    task.task_frames, task.temp_root = [1001, 1002], str(tmp_path)
    mappings = [[str(shot_file.parent), str(moved)]]
    monkeypatch.setattr(plugin_module, "RepositoryUtils", types.SimpleNamespace(
        CheckPathMapping=lambda path: path.replace(mappings[0][0], mappings[0][1]), GetPathMappings=lambda: mappings))
    executable, arguments = render_task(task, [], 0)
    run = subprocess.run([executable] + shlex.split(arguments), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (moved / "mattes").iterdir()) == ["sh010_matte.1001.exr", "sh010_matte.1002.exr"]


def test_plugin_cleanup_releases_the_callbacks(plugin):
    render_task(plugin, [], 0)
    plugin.Cleanup()
    assert not hasattr(plugin, "RenderArgumentCallback")
    assert all(not hasattr(handler, "HandleCallback") for handler in plugin.StdoutHandlers)


def test_plugin_settings_files():
    param = configparser.ConfigParser(interpolation=None)
    param.optionxform = str
    param.read(PLUGIN_DIR / "HyperSeg.param")
    assert {"Type", "Label", "Category", "Default", "Description"} <= set(param["Executable"])
    dlinit = dict(line.split("=", 1) for line in (PLUGIN_DIR / "HyperSeg.dlinit").read_text().splitlines())
    assert dlinit["Executable"] == param["Executable"]["Default"]
