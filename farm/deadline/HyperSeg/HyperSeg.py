#!/usr/bin/env python3
"""Deadline 10 plugin: renders a HyperSeg shot's mattes, `hyperseg-vfx render SHOT --frames FRAMES`.

Install: `hyperseg-vfx farm install-deadline-plugin REPOSITORY` (or copy this folder to
<repository>/custom/plugins/HyperSeg) and set the hyperseg-vfx executable in Monitor > Tools >
Configure Plugins > HyperSeg. Jobs come from `hyperseg-vfx submit SHOT --farm deadline10`.

Loads on every Deadline 10: before 10.3 Deadline picks a plugin's interpreter from its first
line (this shebang: Python 3), and a Deadline without Python 3 runs it as Python 2, so the code
is Python 2 and 3 alike (no f-strings, super() with arguments).

Plugin info: ShotFile, GPUsPerTask (0: the render sees every GPU of the worker's affinity; more: the
render runs with --device cuda, so a GPU task fails on a host without a GPU instead of rendering
on its CPU).
Paths: the shot file goes through the repository's path mapping (RepositoryUtils.CheckPathMapping)
with its separators made this OS's; the paths inside the shot (plates, checkpoint, output) are
mapped by the render itself from a pathmapping-1.0 rules file this plugin writes from
RepositoryUtils.GetPathMappings() (the pairs Thinkbox's Redshift plugin writes into its
REDSHIFT_PATHOVERRIDE_FILE). A task renders its own frames (any chunk gives the mattes of one
whole render: the render reads the plate before its first frame itself), reports
`openjd_progress: N` lines as its progress and each finished frame as its status, and fails on a
non-zero exit (1: frames failed or stopped, 2: bad input), so Deadline retries it.

GPUs: concurrent tasks of one worker get different GPUs by thread number (GPUsPerTask each),
rotating through the worker's GPU affinity when it overrides it (as Thinkbox's GPU plugins
do), with CUDA_DEVICE_ORDER=PCI_BUS_ID so the numbers are the ones nvidia-smi and Deadline count.
"""

import json
import os
import re

from Deadline.Plugins import DeadlinePlugin, PluginType
from Deadline.Scripting import FileUtils, RepositoryUtils, SystemUtils

EXIT_STATUS = {1: "frames failed or the render was stopped", 2: "bad input or set-up, nothing rendered"}
_WINDOWS_PATH = re.compile(r"^([A-Za-z]:[\\/]|\\\\|//)")


def GetDeadlinePlugin():
    return HyperSegPlugin()


def CleanupDeadlinePlugin(deadlinePlugin):
    deadlinePlugin.Cleanup()


def frames_argument(frames):
    """The task's frames as a hyperseg-vfx frame spec: `start-end`, or a comma list."""
    frames = sorted(frames)
    if frames == list(range(frames[0], frames[-1] + 1)):
        return "%d-%d" % (frames[0], frames[-1])
    return ",".join(str(frame) for frame in frames)


def path_mapping_document(mappings):
    """Deadline's [from, to] path mappings as an OpenJD pathmapping-1.0 document (mappings
    without a destination are skipped; a source with a drive letter or a UNC prefix is WINDOWS)."""
    rules = []
    for pair in mappings:
        source, destination = str(pair[0]), str(pair[1])
        if source and destination:
            kind = "WINDOWS" if _WINDOWS_PATH.match(source) else "POSIX"
            rules.append({"source_path_format": kind, "source_path": source, "destination_path": destination})
    return {"version": "pathmapping-1.0", "path_mapping_rules": rules}


def select_gpus(perTask, thread, affinity):
    """The GPUs of concurrent task `thread`: GPUsPerTask of them by thread number, within the
    worker's affinity when it overrides it (None: no override); [] for no restriction."""
    if affinity is not None:
        affinity = list(affinity)
        if perTask <= 0 or perTask >= len(affinity):
            return affinity
        first = thread * perTask
        return [affinity[(first + i) % len(affinity)] for i in range(perTask)]
    if perTask > 0:
        return list(range(thread * perTask, (thread + 1) * perTask))
    return []


class HyperSegPlugin(DeadlinePlugin):
    """A Simple plugin: one hyperseg-vfx render process per task."""

    def __init__(self):
        super(HyperSegPlugin, self).__init__()
        self.InitializeProcessCallback += self.InitializeProcess
        self.RenderExecutableCallback += self.RenderExecutable
        self.RenderArgumentCallback += self.RenderArgument
        self.CheckExitCodeCallback += self.CheckExitCode

    def Cleanup(self):
        for stdoutHandler in self.StdoutHandlers:
            del stdoutHandler.HandleCallback
        del self.InitializeProcessCallback
        del self.RenderExecutableCallback
        del self.RenderArgumentCallback
        del self.CheckExitCodeCallback

    def InitializeProcess(self):
        self.PluginType = PluginType.Simple
        self.SingleFramesOnly = False
        self.StdoutHandling = True
        self.PopupHandling = False
        self.UseProcessTree = True
        self.AddStdoutHandlerCallback(r"openjd_progress: ([0-9.]+)").HandleCallback += self.HandleProgress
        self.AddStdoutHandlerCallback(r"^frame (-?[0-9]+)\s+(.*)$").HandleCallback += self.HandleFrame
        perTask = int(self.GetPluginInfoEntryWithDefault("GPUsPerTask", "0"))
        affinity = list(self.GpuAffinity()) if self.OverrideGpuAffinity() else None
        gpus = select_gpus(perTask, self.GetThreadNumber(), affinity)
        if gpus:
            visible = ",".join(str(gpu) for gpu in gpus)
            self.LogInfo("GPUs of this task (thread %d): %s" % (self.GetThreadNumber(), visible))
            self.SetProcessEnvironmentVariable("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
            self.SetProcessEnvironmentVariable("CUDA_VISIBLE_DEVICES", visible)

    def RenderExecutable(self):
        candidates = self.GetConfigEntry("Executable")
        executable = FileUtils.SearchFileList(candidates)
        if not executable:
            self.FailRender("hyperseg-vfx is not at any of %r: set it in Configure Plugins > HyperSeg" % candidates)
        return executable

    def LocalPath(self, path):
        """`path` through the repository's path mapping, with this OS's separators."""
        path = RepositoryUtils.CheckPathMapping(path)
        if SystemUtils.IsRunningOnWindows():
            return path.replace("/", "\\")
        return path.replace("\\", "/")

    def PathMappingRulesFile(self):
        """The repository's path mappings written as a pathmapping-1.0 file; None when there are none."""
        document = path_mapping_document(RepositoryUtils.GetPathMappings())
        if not document["path_mapping_rules"]:
            return None
        path = os.path.join(self.CreateTempDirectory("HyperSegPathMapping"), "path_mapping_rules.json")
        with open(path, "w") as handle:
            handle.write(json.dumps(document, indent=2, ensure_ascii=True))
        self.LogInfo("Path mapping rules for the shot's contents: %s" % path)
        return path

    def RenderArgument(self):
        shotFile = self.LocalPath(self.GetPluginInfoEntry("ShotFile"))
        frames = frames_argument(self.GetCurrentTask().TaskFrameList)
        arguments = 'render "%s" --frames %s --openjd-progress' % (shotFile, frames)
        if int(self.GetPluginInfoEntryWithDefault("GPUsPerTask", "0")) > 0:
            arguments += " --device cuda"  # a GPU job renders on a GPU or fails, never quietly on the CPU
        rules = self.PathMappingRulesFile()
        if rules:
            arguments += ' --path-mapping-rules "%s"' % rules
        return arguments

    def CheckExitCode(self, exitCode):
        if exitCode != 0:
            meaning = EXIT_STATUS.get(exitCode, "stopped by a signal" if exitCode > 128 else "failed")
            self.FailRender("hyperseg-vfx render exited with %d (%s)" % (exitCode, meaning))

    def HandleProgress(self):
        self.SetProgress(float(self.GetRegexMatch(1)))

    def HandleFrame(self):
        self.SetStatusMessage("frame %s: %s" % (self.GetRegexMatch(1), self.GetRegexMatch(2).strip()))
