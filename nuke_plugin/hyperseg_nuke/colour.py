"""The project's OCIO config: the config whose names the Source's colour space is one of. The
bridge gets it with the colour space and converts with it, so a project whose config is set only
in Project Settings > Color reads the same on the bridge as in Nuke. Main thread only."""

import os
from typing import Optional

import nuke

from hyperseg_nuke import paths

#: The environment variable OCIO reads its config from (Nuke too, over the project's choice).
OCIO_ENV = "OCIO"
#: An OCIO built-in config (`ocio://default`, `ocio://cg-config-...`): a name, not a file.
BUILTIN_PREFIX = "ocio://"


def ocio_config() -> Optional[str]:
    """The OCIO config of this Nuke session, with forward slashes; None when nothing names one.

    $OCIO when set: Nuke then uses it whatever the project says (Foundry, nukescripts
    ViewerProcess._setOCIOConfig: "unless the OCIO environment variable is defined, in which case
    that will override configPath"). Else the Root's Project Settings > Color, read as
    deadline-cloud-for-nuke's nuke_util/ocio.py reads them: `customOCIOConfigPath` (TCL
    expanded) when `OCIO_config` is custom, else `OCIOConfigPath`, the stock config's file."""
    configured = os.environ.get(OCIO_ENV, "").strip()
    if not configured:
        root = nuke.root()
        choice = root.knob("OCIO_config")
        knob = root.knob("customOCIOConfigPath" if choice is not None and choice.value() == "custom"
                         else "OCIOConfigPath")
        configured = knob.evaluate().strip() if knob is not None else ""
    if not configured:
        return None
    return configured if configured.startswith(BUILTIN_PREFIX) else paths.forward(configured)


def config_folder(config: Optional[str]) -> Optional[str]:
    """The folder of a config file (the bridge must be allowed to read it), None for none or a
    built-in config."""
    if not config or config.startswith(BUILTIN_PREFIX):
        return None
    return config.rsplit("/", 1)[0] or "/"
