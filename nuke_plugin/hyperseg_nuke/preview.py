"""The contact sheet of the node's shot (`hyperseg-vfx preview`, run as a command: the plugin
cannot import hyperseg-vfx itself), opened with the system's image viewer. Worker thread."""

import pathlib
import subprocess
import webbrowser

from hyperseg_nuke import settings
from hyperseg_nuke.bridge_client import child_environment
from hyperseg_nuke.errors import PluginError

#: Seconds the contact sheet may take.
TIMEOUT = 300


def write_contact_sheet(shot_path: str, sheet: str) -> None:
    """Run `hyperseg-vfx preview SHOT --out SHEET`; PluginError with its output when it fails."""
    command = settings.hyperseg_command() + ["preview", shot_path, "--out", sheet]
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT,
                              env=child_environment())
    except OSError as exc:
        raise PluginError("cannot run {}: {}. Install hyperseg-vfx, or set ${} to its command.".format(
            command[0], exc.strerror or exc, settings.COMMAND_ENV)) from None
    except subprocess.TimeoutExpired:
        raise PluginError("the contact sheet took more than {} s".format(TIMEOUT)) from None
    if done.returncode != 0:
        raise PluginError("the contact sheet failed:\n{}".format((done.stderr or done.stdout).strip()[-2000:]))


def open_file(path: str) -> None:
    """Show a file with the system's default application."""
    webbrowser.open(pathlib.Path(path).absolute().as_uri())
