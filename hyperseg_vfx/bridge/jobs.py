"""Background shot renders: `render_shot`, the renderer's own code, with job-priority model calls.

Jobs run one after another in arrival order (one model, one device); each goes frame by frame
through the model worker, behind any interactive request. Cancelling sets render_shot's
`cancel`: the frame in flight finishes (its matte is written atomically) and the job stops; a
job still queued never starts.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from ..errors import HypersegError
from ..render import FrameResult, RenderReport, render_shot
from ..shot import Shot

log = logging.getLogger("hyperseg_vfx.bridge")

#: Finished jobs remembered for GET /v1/jobs/{id}; the oldest are forgotten first.
KEEP_FINISHED = 200


@dataclass
class Job:
    """One render (or, with `run`, another pass over a shot's frames, e.g. tracking). state:
    queued | running | cancelling | done | failed | cancelled. run(job, segmenter) -> RenderReport
    replaces render_shot; output: what status reports as the output (default the shot's)."""

    id: str
    name: str
    shot: Shot
    skip_existing: bool
    continue_on_error: bool
    state: str = "queued"
    results: list[FrameResult] = field(default_factory=list)
    error: str | None = None
    started: float | None = None
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    run: Callable[["Job", object], RenderReport] | None = None
    output: str | None = None

    @property
    def ended(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    def status(self) -> dict:
        """The job as JSON data (schemas.JobStatus)."""
        with self.lock:
            results, state = list(self.results), self.state
            started, finished = self.started, self.finished
        counts = {s: sum(r.status == s for r in results) for s in ("written", "skipped", "failed")}
        total = len(self.shot.frames)
        now = finished or time.time()
        elapsed = 0.0 if started is None else now - started
        eta = None
        if results and state in ("running", "cancelling"):
            eta = elapsed / len(results) * (total - len(results))
        return {
            "id": self.id, "name": self.name, "state": state, "frames": total,
            "done": counts["written"] + counts["skipped"], **counts,
            "errors": [{"frame": r.frame, "message": r.error or ""} for r in results if r.status == "failed"],
            "eta_s": eta, "elapsed_s": elapsed, "output": self.output or self.shot.output, "error": self.error,
        }

    def record(self, result: FrameResult, _done: int, _total: int) -> None:
        if result.detail:  # not the user's error: the traceback is for the log, not the client
            log.error("job %s frame %d failed:\n%s", self.id, result.frame, result.detail)
        with self.lock:
            self.results.append(result)

    def update(self, state: str, **changes) -> None:
        with self.lock:
            self.state = state
            for name, value in changes.items():
                setattr(self, name, value)


class JobManager:
    """Starts, tracks and cancels jobs. segmenter: what render_shot is given (a QueuedSegmenter
    at job priority)."""

    def __init__(self, segmenter):
        self.segmenter = segmenter
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._runner = ThreadPoolExecutor(1, thread_name_prefix="hyperseg-job")

    def start(self, shot: Shot, name: str, *, skip_existing: bool, continue_on_error: bool,
              run: Callable[[Job, object], RenderReport] | None = None, output: str | None = None) -> Job:
        job = Job(uuid.uuid4().hex, name, shot, skip_existing, continue_on_error, run=run, output=output)
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old()
        self._runner.submit(self._run, job)
        log.info("job %s: %s, %d frames queued", job.id, name, len(shot.frames))
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def cancel(self, job: Job) -> None:
        with job.lock:
            if job.ended:
                return
            job.cancel.set()
            job.state = "cancelled" if job.state == "queued" else "cancelling"
            if job.state == "cancelled":
                job.finished = time.time()
        log.info("job %s: cancel requested", job.id)

    def counts(self) -> dict[str, int]:
        with self._lock:
            states = [job.state for job in self._jobs.values()]
        return {"running": states.count("running") + states.count("cancelling"), "queued": states.count("queued")}

    def shutdown(self) -> None:
        """Cancel every job and wait for the frames in flight to be written."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            self.cancel(job)
        self._runner.shutdown(wait=True)

    def _run(self, job: Job) -> None:
        with job.lock:
            if job.cancel.is_set():
                return
            job.state, job.started = "running", time.time()
        try:
            if job.run is not None:
                report = job.run(job, self.segmenter)
            else:
                report = render_shot(job.shot, self.segmenter, skip_existing=job.skip_existing,
                                     continue_on_error=job.continue_on_error, progress=job.record,
                                     cancel=job.cancel)
        except HypersegError as exc:  # the user's (an output refused when the job started): the job says why
            job.update("failed", error=str(exc), finished=time.time())
            log.info("job %s: failed before its first frame: %s", job.id, exc)
            return
        except Exception as exc:  # noqa: BLE001 - a bug: the job fails, the bridge keeps serving
            log.exception("job %s failed", job.id)
            job.update("failed", error=f"internal error ({type(exc).__name__}); the bridge log has the details",
                     finished=time.time())
            return
        state = "cancelled" if report.cancelled else ("done" if report.ok else "failed")
        job.update(state, finished=time.time())
        log.info("job %s: %s, %d written, %d skipped, %d failed", job.id, state,
                 len(report.written), len(report.skipped), len(report.failed))

    def _forget_old(self) -> None:
        ended = [job_id for job_id, job in self._jobs.items() if job.ended]
        for job_id in ended[: max(0, len(ended) - KEEP_FINISHED)]:
            del self._jobs[job_id]
