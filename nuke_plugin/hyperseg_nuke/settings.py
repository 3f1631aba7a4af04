"""Where the plugin's configuration comes from: the node's knobs first, then the environment.

    HYPERSEG_BRIDGE_URL         the bridge when the node's `bridge` knob is empty
                                (default http://127.0.0.1:8765)
    HYPERSEG_BRIDGE_TOKEN       the bridge's token, or
    HYPERSEG_BRIDGE_TOKEN_FILE  a file holding it (the bridge's --token-file); never a knob,
                                so that no secret is saved in a .nk script
    HYPERSEG_BRIDGE_COMMAND     the command that starts a local bridge (see bridge_client)
    HYPERSEG_FARM               the farm when the node's `farm` knob says "default"
    HYPERSEG_VFX_COMMAND        the hyperseg-vfx executable (default `hyperseg-vfx`), for the
                                contact sheet; the farm submitters read the same variable
"""

import os
import shlex
from typing import List, Optional

from hyperseg_nuke.bridge_client import DEFAULT_URL, BridgeError, read_token_file
from hyperseg_nuke.errors import PluginError

URL_ENV = "HYPERSEG_BRIDGE_URL"
TOKEN_ENV = "HYPERSEG_BRIDGE_TOKEN"
TOKEN_FILE_ENV = "HYPERSEG_BRIDGE_TOKEN_FILE"
FARM_ENV = "HYPERSEG_FARM"
COMMAND_ENV = "HYPERSEG_VFX_COMMAND"

#: The farm knob's first item: take the farm from $HYPERSEG_FARM.
DEFAULT_FARM = "default"
FARMS = ("openjd", "deadline-cloud", "opencue", "deadline10")


def bridge_url(knob_value: str) -> str:
    """The bridge address: the knob, else $HYPERSEG_BRIDGE_URL, else the bridge's default."""
    return knob_value.strip() or os.environ.get(URL_ENV, "").strip() or DEFAULT_URL


def bridge_token() -> Optional[str]:
    """The bridge's token from $HYPERSEG_BRIDGE_TOKEN or the file $HYPERSEG_BRIDGE_TOKEN_FILE."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    path = os.environ.get(TOKEN_FILE_ENV, "").strip()
    if token or not path:
        return token or None
    try:
        return read_token_file(path, remedy="fix ${}".format(TOKEN_FILE_ENV))
    except BridgeError as exc:
        raise PluginError(str(exc)) from None


def farm_name(knob_value: str) -> str:
    """The farm to submit to: the knob, or $HYPERSEG_FARM when the knob says "default"."""
    farm = knob_value if knob_value != DEFAULT_FARM else os.environ.get(FARM_ENV, "").strip()
    if not farm:
        raise PluginError("No farm chosen: pick one in the node's farm knob, or set ${} to one of {}.".format(
            FARM_ENV, ", ".join(FARMS)))
    return farm


def hyperseg_command() -> List[str]:
    """The hyperseg-vfx command line: $HYPERSEG_VFX_COMMAND split like a shell, else `hyperseg-vfx`."""
    return shlex.split(os.environ.get(COMMAND_ENV, "")) or ["hyperseg-vfx"]
