"""A fake Nuke for the plugin's tests: `nuke` (a behavioural fake of Nuke's module) and
`gizmo_parser` (a reader of .gizmo files).

    nuke = fake_nuke.install()     # sys.modules["nuke"], reset; nuke_plugin/ importable
"""

import sys
from pathlib import Path

PLUGIN_DIR = Path(__file__).resolve().parents[2] / "nuke_plugin"


def install():
    """The fake `nuke` module, installed as `nuke` (one module for the whole session, so that the
    plugin's `import nuke` always finds it) and reset to a fresh session."""
    from fake_nuke import nuke

    if str(PLUGIN_DIR) not in sys.path:
        sys.path.insert(0, str(PLUGIN_DIR))
    sys.modules["nuke"] = nuke
    nuke.reset()
    return nuke
