"""Background shot renders: `render_shot`, the renderer's own code, with job-priority model calls.

Jobs run one after another in arrival order (one model, one device); each goes frame by frame
through the model worker, behind any interactive request. Cancelling sets render_shot's
`cancel`: the frame in flight finishes (its matte is written atomically) and the job stops; a
job still queued never starts.

What the bridge holds for jobs is bounded: at most MAX_QUEUED_JOBS jobs wait (another is refused
with 429 too_many_jobs); a job keeps counts and its first MAX_ERRORS_KEPT frame errors, not a
result per frame; a finished job drops its shot (a summary is kept for GET /v1/jobs/{id}) and is
forgotten KEEP_FINISHED_S seconds after it ended, or sooner when more than KEEP_FINISHED jobs
have ended. A site may change the three through $HYPERSEG_MAX_QUEUED_JOBS,
$HYPERSEG_KEEP_FINISHED_JOBS and $HYPERSEG_KEEP_FINISHED_S (read when the bridge starts).
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
from ..limits import limit_from_env
from ..render import FrameResult, RenderReport, render_shot
from ..shot import Shot
from .errors import ApiError
from .security import BridgeSetupError

log = logging.getLogger("hyperseg_vfx.bridge")

#: Finished jobs remembered for GET /v1/jobs/{id} (a summary each); the oldest are forgotten first.
KEEP_FINISHED = 100
#: Seconds a finished job is remembered.
KEEP_FINISHED_S = 3600
#: Jobs that may wait for the one running; another is refused (429): each holds its shot.
MAX_QUEUED_JOBS = 32
#: Frame errors a job reports (the count of failed frames is always whole).
MAX_ERRORS_KEPT = 100


@dataclass
class Job:
    """One render (or, with `run`, another pass over a shot's frames, e.g. tracking). state:
    queued | running | cancelling | done | failed | cancelled. run(job, segmenter) -> RenderReport
    replaces render_shot; output: what status reports as the output (default the shot's).
    counts: frames written, skipped, failed so far; errors: the first MAX_ERRORS_KEPT failed
    frames' (frame, message). `shot` and `run` are dropped (None) once the job has ended."""

    id: str
    name: str
    shot: Shot | None
    skip_existing: bool
    continue_on_error: bool
    state: str = "queued"
    counts: dict[str, int] = field(default_factory=lambda: {"written": 0, "skipped": 0, "failed": 0})
    errors: list[tuple[int, str]] = field(default_factory=list)
    error: str | None = None
    started: float | None = None
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    run: Callable[["Job", object], RenderReport] | None = None
    output: str | None = None
    frames: int = 0

    def __post_init__(self):
        if self.shot is not None:
            self.frames = len(self.shot.frames)
            self.output = self.output or self.shot.output

    @property
    def ended(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    def status(self) -> dict:
        """The job as JSON data (schemas.JobStatus)."""
        with self.lock:
            counts, errors, state = dict(self.counts), list(self.errors), self.state
            started, finished = self.started, self.finished
        done = sum(counts.values())
        now = finished or time.time()
        elapsed = 0.0 if started is None else now - started
        eta = None
        if done and state in ("running", "cancelling"):
            eta = elapsed / done * (self.frames - done)
        return {
            "id": self.id, "name": self.name, "state": state, "frames": self.frames,
            "done": counts["written"] + counts["skipped"], **counts,
            "errors": [{"frame": frame, "message": message} for frame, message in errors],
            "eta_s": eta, "elapsed_s": elapsed, "output": self.output, "error": self.error,
        }

    def record(self, result: FrameResult, _done: int, _total: int) -> None:
        if result.detail:  # not the user's error: the traceback is for the log, not the client
            log.error("job %s frame %d failed:\n%s", self.id, result.frame, result.detail)
        with self.lock:
            self.counts[result.status] = self.counts.get(result.status, 0) + 1
            if result.status == "failed" and len(self.errors) < MAX_ERRORS_KEPT:
                self.errors.append((result.frame, result.error or ""))

    def update(self, state: str, **changes) -> None:
        with self.lock:
            self.state = state
            for name, value in changes.items():
                setattr(self, name, value)
            if self.ended:  # a summary is all a finished job keeps
                self.shot = self.run = None


class JobManager:
    """Starts, tracks and cancels jobs. segmenter: what render_shot is given (a QueuedSegmenter
    at job priority)."""

    def __init__(self, segmenter):
        self.segmenter = segmenter
        try:
            self.max_queued = limit_from_env("HYPERSEG_MAX_QUEUED_JOBS", MAX_QUEUED_JOBS)
            self.keep_finished = limit_from_env("HYPERSEG_KEEP_FINISHED_JOBS", KEEP_FINISHED)
            self.keep_finished_s = limit_from_env("HYPERSEG_KEEP_FINISHED_S", KEEP_FINISHED_S)
        except ValueError as exc:
            raise BridgeSetupError(str(exc)) from None
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._runner = ThreadPoolExecutor(1, thread_name_prefix="hyperseg-job")

    def start(self, shot: Shot, name: str, *, skip_existing: bool, continue_on_error: bool,
              run: Callable[[Job, object], RenderReport] | None = None, output: str | None = None) -> Job:
        """Queue a job; ApiError 429 when MAX_QUEUED_JOBS are waiting already."""
        job = Job(uuid.uuid4().hex, name, shot, skip_existing, continue_on_error, run=run, output=output)
        with self._lock:
            self._refuse_when_full()
            self._jobs[job.id] = job
        self._runner.submit(self._run, job)
        log.info("job %s: %s, %d frames queued", job.id, name, len(shot.frames))
        return job

    def check_room(self) -> None:
        """ApiError 429 when MAX_QUEUED_JOBS jobs are waiting (asked before a request is validated)."""
        with self._lock:
            self._refuse_when_full()

    def _refuse_when_full(self) -> None:
        self._forget_old()
        waiting = sum(job.state == "queued" for job in self._jobs.values())
        if waiting >= self.max_queued:
            raise ApiError(429, "too_many_jobs", f"{waiting} jobs are waiting already, the most this bridge queues: "
                                                 "wait for some to finish, or cancel some")

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            self._forget_old()
            return self._jobs.get(job_id)

    def cancel(self, job: Job) -> None:
        with job.lock:
            if job.ended:
                return
            job.cancel.set()
            job.state = "cancelled" if job.state == "queued" else "cancelling"
            if job.state == "cancelled":
                job.finished = time.time()
                job.shot = job.run = None
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
            shot, run = job.shot, job.run
        try:
            if run is not None:
                report = run(job, self.segmenter)
            else:
                report = render_shot(shot, self.segmenter, skip_existing=job.skip_existing,
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
        """Forget finished jobs older than KEEP_FINISHED_S, and the oldest beyond KEEP_FINISHED."""
        now = time.time()
        ended = [job_id for job_id, job in self._jobs.items() if job.ended]
        for job_id in ended[: max(0, len(ended) - self.keep_finished)]:
            del self._jobs[job_id]
        for job_id in ended:
            job = self._jobs.get(job_id)
            if job is not None and now - (job.finished or now) > self.keep_finished_s:
                del self._jobs[job_id]
