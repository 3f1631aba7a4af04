"""The one thread that runs the model: one model, one device, one call at a time.

Calls wait in a priority queue: interactive requests (a click in Nuke) before background job
frames, arrival order within a priority. A job renders frame by frame through this queue, so a
click waits at most for the frame in progress, never for the rest of a long job.

`QueuedSegmenter` is what the render code is given: a Segmenter whose `segment` runs on the
worker at a fixed priority, so `segment_shot_frame` and `render_shot` are used unchanged (plates
are read and mattes written in the caller's threads; only the model waits for its turn).
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable

INTERACTIVE, JOB = 0, 1
_STOP = 2  # after everything queued before it


class GpuWorker:
    """A single thread serving model calls in (priority, arrival) order."""

    def __init__(self) -> None:
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()
        self._waiting = {INTERACTIVE: 0, JOB: 0}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="hyperseg-model", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Serve what is queued, then end the thread."""
        if self._thread.is_alive():
            self._queue.put((_STOP, next(self._order), None, None))
            self._thread.join()

    def submit(self, fn: Callable[[], Any], priority: int) -> Future:
        future: Future = Future()
        with self._lock:
            self._waiting[priority] += 1
        self._queue.put((priority, next(self._order), fn, future))
        return future

    def call(self, fn: Callable[[], Any], priority: int) -> Any:
        """Run fn() on the worker and return its result (or raise its exception)."""
        return self.submit(fn, priority).result()

    def waiting(self) -> dict[int, int]:
        """Calls queued per priority (the one running not counted)."""
        with self._lock:
            return dict(self._waiting)

    def _run(self) -> None:
        while True:
            priority, _order, fn, future = self._queue.get()
            if priority == _STOP:
                return
            with self._lock:
                self._waiting[priority] -= 1
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, who reports it
                future.set_exception(exc)


class QueuedSegmenter:
    """`segmenter` with its `segment` run on `worker` at `priority`; the Matte's timings gain
    `queue` (seconds waited for the worker)."""

    def __init__(self, segmenter, worker: GpuWorker, priority: int):
        self.segmenter, self.worker, self.priority = segmenter, worker, priority

    @property
    def metadata(self) -> dict[str, Any]:
        return self.segmenter.metadata

    @property
    def model_name(self) -> str:
        return self.segmenter.model_name

    @property
    def device(self):
        """The device the model runs on (render_shot checks the shot's precision against it;
        mattes record it)."""
        return self.segmenter.device

    def edge_config(self, edges: str | None):
        """Segmenter.edge_config (render_shot checks the shot's options.edges against the model);
        it runs no model, so it is not queued."""
        return self.segmenter.edge_config(edges)

    def segment(self, *args, **kwargs):
        return self._queued(self.segmenter.segment, args, kwargs)

    def with_caches(self, cache_bytes: int, matte_cache_bytes: int = 0) -> "QueuedSegmenter":
        """Segmenter.with_caches, queued on the same worker at the same priority."""
        return QueuedSegmenter(self.segmenter.with_caches(cache_bytes, matte_cache_bytes), self.worker, self.priority)

    def segment_objects(self, *args, **kwargs):
        """Segmenter.segment_objects on the worker: every object of the frame in one turn."""
        return self._queued(self.segmenter.segment_objects, args, kwargs)

    def _queued(self, method, args, kwargs):
        queued = time.perf_counter()
        started: list[float] = []

        def run():
            started.append(time.perf_counter())
            return method(*args, **kwargs)

        result = self.worker.call(run, self.priority)
        for matte in result if isinstance(result, list) else [result]:
            matte.timings["queue"] = started[0] - queued
        return result
