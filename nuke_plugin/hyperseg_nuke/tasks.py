"""Work off Nuke's main thread: a worker thread with a nuke.ProgressTask (Nuke's progress bar,
with its cancel button), whose result or error is handed back with nuke.executeInMainThread.
The worker touches nothing of Nuke but its ProgressTask; all knob work stays in the main thread.
"""

import threading
from typing import Any, Callable

import nuke


def in_background(title: str, work: Callable[[Any], Any], done: Callable[[Any], None],
                  failed: Callable[[BaseException], None]) -> threading.Thread:
    """Run work(task) in a worker thread, `task` its ProgressTask; then done(result), or
    failed(error) when it raised, in the main thread. Returns the started thread."""
    thread = threading.Thread(target=_run, args=(title, work, done, failed), name="hyperseg: " + title,
                              daemon=True)
    thread.start()
    return thread


def in_main_thread(function: Callable, *args) -> None:
    """Call function(*args) in Nuke's main thread, later (from a worker thread)."""
    nuke.executeInMainThread(function, args)


def _run(title: str, work: Callable[[Any], Any], done: Callable[[Any], None],
         failed: Callable[[BaseException], None]) -> None:
    try:
        result = _with_progress(title, work)
    except Exception as exc:  # noqa: BLE001 - every failure is reported to the artist
        in_main_thread(failed, exc)
    else:
        in_main_thread(done, result)


def _with_progress(title: str, work: Callable[[Any], Any]) -> Any:
    """work(task) with a ProgressTask, closed (deleted) before the result is handed on."""
    task = nuke.ProgressTask(title)
    try:
        return work(task)
    finally:
        del task
