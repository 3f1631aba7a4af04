"""The base of every error that is the user's to fix (bad input, missing file, wrong set-up).

The CLI prints these as one clear line and exits with status 2; anything else is a bug and
keeps its traceback.
"""


class HypersegError(Exception):
    """An error with a message meant for the user (it names the file, frame or field)."""
