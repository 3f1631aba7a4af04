"""Work off Nuke's main thread: a worker thread with a nuke.ProgressTask (Nuke's progress bar,
with its cancel button), whose result or error is handed back with nuke.executeInMainThread.
The worker touches nothing of Nuke but its ProgressTask; all knob work stays in the main thread.

Without the GUI (`nuke -t`, `nuke -x`: nuke.GUI is False) there is no event loop to run
executeInMainThread callbacks, so the work, then done/failed, run synchronously instead.
The progress bar closes when its ProgressTask is deleted, so it is deleted as soon as the work
ends, also when the work raised (a traceback would otherwise keep it, and the bar, alive).
"""

import threading
import traceback
from typing import Any, Callable, Optional

import nuke


def in_background(title: str, work: Callable[[Any], Any], done: Callable[[Any], None],
                  failed: Callable[[BaseException], None]) -> Optional[threading.Thread]:
    """Run work(task) in a worker thread, `task` its ProgressTask; then done(result), or
    failed(error) when it raised, in the main thread. Returns the started thread; None in a
    session without GUI, where everything has run when this returns."""
    if not nuke.GUI:
        _run(title, work, done, failed, lambda function, *args: function(*args))
        return None
    thread = threading.Thread(target=_run, args=(title, work, done, failed, in_main_thread),
                              name="hyperseg: " + title, daemon=True)
    thread.start()
    return thread


def in_main_thread(function: Callable, *args) -> None:
    """Call function(*args) in Nuke's main thread, later (from a worker thread)."""
    nuke.executeInMainThread(function, args)


def _run(title: str, work: Callable[[Any], Any], done: Callable[[Any], None],
         failed: Callable[[BaseException], None], hand_back: Callable) -> None:
    try:
        result = _with_progress(title, work)
    except Exception as exc:  # noqa: BLE001 - every failure is reported to the artist
        hand_back(failed, exc)
    else:
        hand_back(done, result)


def _with_progress(title: str, work: Callable[[Any], Any]) -> Any:
    """work(task) with a ProgressTask, deleted (its bar closed) before the result or error is
    handed on. An error keeps its traceback as text (`error.details`), not as frames that hold
    the task."""
    task = nuke.ProgressTask(title)
    try:
        return work(task)
    except Exception as exc:
        exc.details = traceback.format_exc()
        raise exc.with_traceback(None) from None
    finally:
        del task
