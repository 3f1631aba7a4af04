"""Changes the plugin makes to a node's knobs in bulk: one undo step, callbacks quiet.

In Nuke every knob change made from Python is its own undo step and, while the node's panel is
open, runs the knobChanged callbacks (Foundry, nuke.Undo and "Callbacks"): Track clicks' keys
on 16 clicks over 1000 frames would be thousands of undo steps and callbacks, and with live on
each would schedule a segment. Inside `undo_step(name)` the changes are one undo step (nuke.Undo
begin / end); inside `quiet(node)` the HyperSeg knobChanged callback ignores the node
(callbacks.knob_changed asks is_quiet), so no handle is toggled and no live segment scheduled.
Nodes are known by full name (a new Python object per call). Main thread only.
"""

import contextlib
from typing import Iterator, Set

import nuke

_quiet: Set[str] = set()


@contextlib.contextmanager
def undo_step(name: str) -> Iterator[None]:
    """The changes made inside, one undo step named `name` in Nuke's Edit menu."""
    undo = nuke.Undo()
    undo.begin(name)
    try:
        yield
    finally:
        undo.end()


@contextlib.contextmanager
def quiet(node) -> Iterator[None]:
    """The node's knobChanged callback does nothing inside (see the module docstring)."""
    name = node.fullName()
    _quiet.add(name)
    try:
        yield
    finally:
        _quiet.discard(name)


def is_quiet(node) -> bool:
    return node.fullName() in _quiet


@contextlib.contextmanager
def unrecorded(node) -> Iterator[None]:
    """Changes that leave no undo step and run no callback of the node (nuke.Undo.disable /
    enable, and quiet): reading each object of the node through its click knobs, which are put
    back as they were (hyperseg_nuke.objects.each_object)."""
    nuke.Undo.disable()
    try:
        with quiet(node):
            yield
    finally:
        nuke.Undo.enable()
