"""PluginError: a problem the artist can fix (no clicks, unsaved script, no farm configured)."""


class PluginError(Exception):
    """Shown to the artist as is, in the status knob and a Nuke message: say what to do."""


class Cancelled(PluginError):
    """The artist cancelled the work (the progress bar's cancel button): a status, not an error."""
