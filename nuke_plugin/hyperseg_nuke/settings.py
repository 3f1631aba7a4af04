"""Where the plugin's configuration comes from: the node's knobs first, then the environment.

    HYPERSEG_BRIDGE_URL         the bridge when the node's `bridge` knob is empty
                                (default http://127.0.0.1:8765)
    HYPERSEG_BRIDGE_TOKEN       the bridge's token, or
    HYPERSEG_BRIDGE_TOKEN_FILE  a file holding it (the bridge's --token-file); never a knob,
                                so that no secret is saved in a .nk script
    HYPERSEG_BRIDGE_COMMAND     the command that starts a local bridge (see bridge_client)
    HYPERSEG_FARM               the farm when the node's `farm` knob says "default"
    HYPERSEG_VFX_COMMAND        the hyperseg-vfx command (default: the one `hyperseg-vfx nuke
                                install` recorded, else hyperseg-vfx on PATH), for the contact
                                sheet and the auto-started bridge; the farm submitters read the
                                same variable (there: one executable path)

Both command settings take a JSON list of words (`["C:/hs/python.exe", "-m", "hyperseg_vfx.cli"]`)
or a command line, split as the OS's shell would (on Windows backslashes stay: see
bridge_client.split_command).
"""

import os
from typing import List, Optional

from hyperseg_nuke import bridge_client
from hyperseg_nuke.bridge_client import DEFAULT_URL, BridgeError, read_token_file
from hyperseg_nuke.errors import PluginError

URL_ENV = "HYPERSEG_BRIDGE_URL"
TOKEN_ENV = "HYPERSEG_BRIDGE_TOKEN"
TOKEN_FILE_ENV = "HYPERSEG_BRIDGE_TOKEN_FILE"
FARM_ENV = "HYPERSEG_FARM"
COMMAND_ENV = bridge_client.VFX_COMMAND_ENV

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
    """The hyperseg-vfx command line (bridge_client.hyperseg_command: $HYPERSEG_VFX_COMMAND, else
    what `hyperseg-vfx nuke install` recorded, else hyperseg-vfx on PATH); BridgeError saying how
    to set it when there is none."""
    return bridge_client.hyperseg_command()
