"""Live clicks: while the node's `live` knob is on, moving, adding or toggling a click segments
the current frame by itself.

knobChanged only schedules (it must never render or block: Foundry's threading rules); a timer
thread waits DEBOUNCE_S after the last change and hands the segment to the main thread with
executeInMainThread; the latest change wins: a change while a segment runs makes one more
segment after it, of the newest clicks. Every node has its own schedule, keyed by its full name:
Nuke gives a new Python object for the node at every knobChanged (ayon-nuke PR #235), so
neither the object nor its id() finds the schedule again."""

import re
import threading
from typing import Callable, Dict

from hyperseg_nuke import tasks

#: The knobs whose change re-segments: a click's position (pos3), its enable box (pos3_on), `live`.
LIVE_KNOB = re.compile(r"^(?:(?:pos|neg)\d+(?:_on)?|live)$")
#: Seconds of quiet after a change before the segment starts (a drag sends many changes).
DEBOUNCE_S = 0.3


class _Schedule:
    """One node's live state: generation of the latest change, the segment running, whether a
    change came in while it ran."""

    def __init__(self):
        self.generation = 0
        self.running = None
        self.again = False


_schedules: Dict[str, _Schedule] = {}
_lock = threading.Lock()


def is_live_knob(name: str) -> bool:
    """A knob whose change re-segments: a click's position or its enable box, or `live` itself."""
    return LIVE_KNOB.match(name) is not None


def schedule(node, segment: Callable) -> None:
    """Segment `node` (segment(node) -> worker thread or None) after DEBOUNCE_S of quiet.
    Returns at once (called from knobChanged)."""
    with _lock:
        state = _schedules.setdefault(node.fullName(), _Schedule())
        state.generation += 1
        generation = state.generation
    timer = threading.Timer(DEBOUNCE_S, tasks.in_main_thread, (_fire, node, segment, state, generation))
    timer.daemon = True
    timer.start()


def _fire(node, segment: Callable, state: _Schedule, generation: int) -> None:
    """Main thread: start the segment when no later change came and none is running."""
    if generation != state.generation:
        return  # a later change has its own timer
    if state.running is not None and state.running.is_alive():
        state.again = True
        return
    state.again = False
    state.running = segment(node)
    if state.running is not None:
        watcher = threading.Thread(target=_after, args=(node, segment, state), daemon=True)
        watcher.start()


def _after(node, segment: Callable, state: _Schedule) -> None:
    """Worker: once the segment's thread ended, segment again if a change came meanwhile."""
    state.running.join()
    if state.again:
        tasks.in_main_thread(_fire, node, segment, state, state.generation)
