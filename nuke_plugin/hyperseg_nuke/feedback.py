"""Telling the artist: the status knob for every outcome, a Nuke message for errors. Errors are
described so that the artist knows what to do; an unexpected one (a bug) also prints its
traceback to the terminal / Script Editor. Main thread only."""

import sys
import traceback

from hyperseg_nuke import knobs, script
from hyperseg_nuke.bridge_client import BridgeError
from hyperseg_nuke.errors import Cancelled, PluginError

#: What to do about a bridge error, by its code.
HINTS = {
    "unreachable": "Start the bridge with `hyperseg-vfx serve` (see the README), or check the bridge address "
                   "on the HyperSeg tab.",
    "timeout": "The bridge is busy or stuck: check its log, or try again.",
    "forbidden_path": "Start the bridge with --allow-root covering the script's folder, the matte output and the "
                      "OCIO config's folder (a bridge the node starts allows them itself).",
    "unauthorized": "Set HYPERSEG_BRIDGE_TOKEN (or HYPERSEG_BRIDGE_TOKEN_FILE) to the bridge's token.",
}


def describe(error: BaseException) -> str:
    """The artist's explanation of `error`."""
    if isinstance(error, PluginError):
        return str(error)
    if isinstance(error, BridgeError):
        hint = HINTS.get(error.code or "")
        return str(error) + ("\n" + hint if hint else "")
    if isinstance(error, OSError):
        return "{}: {}".format(error.filename or "file", error.strerror or error)
    return "internal error ({}: {}); the details are in the terminal / Script Editor".format(
        type(error).__name__, error)


def report(node, text: str) -> None:
    """An outcome in the node's status line."""
    knobs.set_status(node, text)


def report_error(node, action: str, error: BaseException) -> None:
    """An error of `action` in the status line and a Nuke message (a cancel: the status only)."""
    if isinstance(error, Cancelled):
        knobs.set_status(node, "{}: {}".format(action, error))
        return
    if not isinstance(error, (PluginError, BridgeError, OSError)):
        details = getattr(error, "details", None)  # a worker's traceback, kept as text (see tasks)
        if details:
            sys.stderr.write(details)
        else:
            traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    text = describe(error)
    knobs.set_status(node, "{} failed: {}".format(action, (text.splitlines() or [""])[0]))
    script.show_message("HyperSeg: {} failed.\n\n{}".format(action, text))
