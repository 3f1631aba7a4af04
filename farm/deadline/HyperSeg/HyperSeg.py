"""Deadline 10 plugin: renders a HyperSeg shot's mattes, `hyperseg-vfx render SHOT --frames FRAMES`.

Install: copy this folder to <repository>/custom/plugins/HyperSeg and set the hyperseg-vfx
executable in Monitor > Tools > Configure Plugins > HyperSeg. Jobs come from
`hyperseg-vfx submit SHOT --farm deadline10`.

Plugin info: ShotFile (path mapped with the repository's path mapping rules), GPUsPerTask (0: the
render sees every GPU of the worker's affinity). A task renders its own frames (any chunk gives
the mattes of one whole render: the render reads the plate before its first frame itself),
reports `openjd_progress: N` lines as its progress and each finished frame as its status, and
fails on a non-zero exit (1: frames failed or stopped, 2: bad input), so Deadline retries it.
"""

from Deadline.Plugins import DeadlinePlugin, PluginType
from Deadline.Scripting import FileUtils, RepositoryUtils

EXIT_STATUS = {1: "frames failed or the render was stopped", 2: "bad input or set-up, nothing rendered"}


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


class HyperSegPlugin(DeadlinePlugin):
    """A Simple plugin: one hyperseg-vfx render process per task."""

    def __init__(self):
        super().__init__()
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
        gpus = self.SelectedGpus()
        if gpus:
            self.SetProcessEnvironmentVariable("CUDA_VISIBLE_DEVICES", ",".join(str(gpu) for gpu in gpus))

    def SelectedGpus(self):
        """The GPUs this task may use: the worker's GPU affinity when it overrides it (its first
        GPUsPerTask), else GPUsPerTask consecutive GPUs per concurrent task; [] for all."""
        perTask = int(self.GetPluginInfoEntryWithDefault("GPUsPerTask", "0"))
        if self.OverrideGpuAffinity():
            gpus = list(self.GpuAffinity())
            return gpus[:perTask] if perTask > 0 else gpus
        if perTask > 0:
            first = self.GetThreadNumber() * perTask
            return list(range(first, first + perTask))
        return []

    def RenderExecutable(self):
        candidates = self.GetConfigEntry("Executable")
        executable = FileUtils.SearchFileList(candidates)
        if not executable:
            self.FailRender("hyperseg-vfx is not at any of %r: set it in Configure Plugins > HyperSeg" % candidates)
        return executable

    def RenderArgument(self):
        shotFile = RepositoryUtils.CheckPathMapping(self.GetPluginInfoEntry("ShotFile"))
        frames = frames_argument(self.GetCurrentTask().TaskFrameList)
        return 'render "%s" --frames %s --openjd-progress' % (shotFile, frames)

    def CheckExitCode(self, exitCode):
        if exitCode != 0:
            meaning = EXIT_STATUS.get(exitCode, "stopped by a signal" if exitCode > 128 else "failed")
            self.FailRender("hyperseg-vfx render exited with %d (%s)" % (exitCode, meaning))

    def HandleProgress(self):
        self.SetProgress(float(self.GetRegexMatch(1)))

    def HandleFrame(self):
        self.SetStatusMessage("frame %s: %s" % (self.GetRegexMatch(1), self.GetRegexMatch(2).strip()))
