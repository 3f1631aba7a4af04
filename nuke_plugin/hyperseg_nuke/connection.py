"""Reaching the bridge from a worker thread (never the main thread: requests wait on the network).

A loopback address with the node's `autostart` on gets a bridge started when none answers
(bridge_client.ensure_bridge, with $HYPERSEG_BRIDGE_COMMAND or bridge_client.default_command,
allowing the comp's folders: see hyperseg_nuke.autostart); any other address is used as is.
Without a configured token, a loopback bridge is sent the per-user token (bridge_client.user_token),
which the bridge ensure_bridge starts requires. A bridge started here stops when Nuke exits
(atexit; unless a job is running: it then stops by itself once idle, `serve --idle-exit`).
"""

import atexit
import os
from typing import Optional
from urllib.parse import urlsplit

from hyperseg_nuke import settings
from hyperseg_nuke.bridge_client import BridgeClient, ensure_bridge, stop_started_bridges, user_token
from hyperseg_nuke.errors import PluginError

LOOPBACK = ("127.0.0.1", "localhost", "::1")

atexit.register(stop_started_bridges)


def connect(url: str, autostart: bool) -> BridgeClient:
    """A client of the bridge at `url` (token from the environment, see settings)."""
    token = settings.bridge_token()
    if urlsplit(url).hostname in LOOPBACK:
        if autostart:
            return ensure_bridge(url, token=token)
        token = token or user_token()
    return BridgeClient(url, token=token)


def model_checkpoint(client: BridgeClient, checkpoint: str) -> str:
    """The checkpoint to render with: the node's (which the bridge must be serving), or the
    bridge's own when the node names none. PluginError when they differ."""
    served = client.health()["checkpoint"]
    if checkpoint and not _same_file(checkpoint, served):
        raise PluginError("The bridge at {} serves the model {}, not the node's checkpoint {}: empty the "
                          "checkpoint knob, or start a bridge with `hyperseg-vfx serve --checkpoint {}`.".format(
                              client.base_url, served, checkpoint, checkpoint))
    return checkpoint or served


def _same_file(a: str, b: Optional[str]) -> bool:
    return b is not None and os.path.realpath(a) == os.path.realpath(b)
