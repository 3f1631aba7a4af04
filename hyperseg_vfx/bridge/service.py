"""What the bridge does, apart from HTTP: one model on one device behind one worker, the door
(hyperseg_vfx.door: its allowed folders) and the jobs. Each operation takes a validated request
body and returns answer data.

/segment and /jobs call the renderer's own functions (segment_shot_frame, write_shot_matte,
render_shot) with the shared Segmenter behind the worker, so a matte from the bridge is the
matte `hyperseg-vfx render` writes for that frame, bit for bit.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from .. import __version__
from ..door import Door
from ..render import (
    RENDER_CACHE_BYTES, CachedPlateReader, previous_input, resolve_checkpoint, segment_shot_frame, write_shot_matte,
)
from ..segmenter import INTERACTIVE_MATTE_CACHE_BYTES, Segmenter
from .errors import ApiError
from .idle import Activity
from .jobs import Job, JobManager
from .schemas import JobRequest, SegmentRequest, SubmitRequest, TrackRequest
from .security import RootsFile, require_absolute
from .settings import BridgeSettings
from .shots import job_shot, segment_shot, shot_file_for_submit
from .worker import INTERACTIVE, JOB, GpuWorker, QueuedSegmenter


PLATE_CACHE_BYTES = 512 * 1024**2  # about 20 decoded 2K plates (25 MB each)


class Bridge:
    """The server's state: one model on one device behind one worker, the door, the jobs.

    Interactive requests use `segmenter` (its feature cache sized by --cache-bytes, and a matte
    cache: an object whose clicks did not change is not segmented again) through
    `interactive`; jobs use a second Segmenter around the same model with the renderer's empty
    cache, so that rendering a shot does not evict the frames the artist is clicking on."""

    def __init__(self, settings: BridgeSettings):
        self.checkpoint = resolve_checkpoint(None, settings.checkpoint).absolute()
        self.segmenter = Segmenter.from_checkpoint(self.checkpoint, device=settings.device,
                                                   cache_bytes=settings.cache_bytes, matte_cache_bytes=INTERACTIVE_MATTE_CACHE_BYTES)
        self.worker = GpuWorker()
        self.interactive = QueuedSegmenter(self.segmenter, self.worker, INTERACTIVE)
        self.jobs = JobManager(QueuedSegmenter(self.segmenter.with_caches(RENDER_CACHE_BYTES), self.worker, JOB))
        listed = None if settings.allow_roots_file is None else RootsFile(settings.allow_roots_file)
        # its own model may be read outside the roots: shot files name it
        self.door = Door(settings.allow_roots, files=[self.checkpoint], listed_roots=listed)
        self.activity = Activity()  # what --idle-exit watches
        # Decoded plates of the frames being clicked on: a click then costs the network, not two
        # EXR decodes (measured at 1920x1080: 696 ms -> 68 ms overhead per click).
        self.plates = CachedPlateReader(PLATE_CACHE_BYTES)

    def health(self) -> dict:
        waiting = self.worker.waiting()
        return {
            "version": __version__, "pid": os.getpid(), "device": str(self.segmenter.device),
            "model": self.segmenter.model_name, "checkpoint": str(self.checkpoint),
            "cache": dataclasses.asdict(self.segmenter.cache.stats()),
            "plate_cache": dataclasses.asdict(self.plates.cache.stats()),
            "matte_cache": dataclasses.asdict(self.segmenter.mattes.stats()),
            "queue": {"length": sum(waiting.values()), "interactive": waiting[INTERACTIVE], "jobs": waiting[JOB]},
            "jobs": self.jobs.counts(),
        }

    def segment(self, request: SegmentRequest) -> dict:
        start = time.perf_counter()
        shot = segment_shot(request, self.door)
        frame = request.frame
        matte = segment_shot_frame(shot, self.interactive, frame, read=self.plates, previous=request.previous)
        segmented = time.perf_counter()
        plate = self.plates(shot.input_path(frame), shot.colorspace, shot.ocio_config, self.door)  # cached
        output = write_shot_matte(shot, frame, matte, self.interactive, pixel_aspect=plate.pixel_aspect,
                                  previous=request.previous)
        end = time.perf_counter()
        timings = matte.timings
        mattes = matte.mattes.values() if shot.objects else [matte]
        return {
            "output": output, "frame": frame, "input": shot.input_path(frame),
            "previous": request.previous or previous_input(shot, frame), "coverage": matte.coverage(),
            "model": self.segmenter.model_name,
            "object_coverage": matte.object_coverage() if shot.objects else None,
            "timings": {
                "features_cached": matte.features_cached, "features_s": timings.get("features"),
                # 0 when the matte cache served every object (nothing ran)
                "network_s": timings.get("network", 0.0), "refine_s": timings.get("refine", 0.0),
                "model_s": timings["total"], "queue_s": timings["queue"],
                "reused_objects": sum(m.reused for m in mattes),
                "write_s": end - segmented, "request_s": end - start,
            },
        }

    def start_job(self, request: JobRequest) -> dict:
        self.jobs.check_room()
        shot = job_shot(request, self.door, self.checkpoint)
        name = Path(shot.path).stem if shot.path else Path(shot.output).name
        job = self.jobs.start(shot, name, skip_existing=request.skip_existing,
                              continue_on_error=request.continue_on_error)
        return job.status()

    def start_track(self, request: TrackRequest) -> dict:
        """Track a shot's clicks in the background (a job: progress, cancel and status as renders)."""
        from .shots import track_request

        self.jobs.check_room()
        shot, frames, out = track_request(request, self.door, self.checkpoint)
        name = (Path(shot.path).stem if shot.path else Path(out).stem) + " (track)"
        job = self.jobs.start(dataclasses.replace(shot, frames=frames), name, skip_existing=False,
                              continue_on_error=False, run=_tracking(shot, frames, out, request.overwrite), output=out)
        return job.status()

    def job(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise ApiError(404, "job_not_found", f"no job {job_id} (finished jobs are forgotten after a while)", "job_id")
        return job

    def cancel_job(self, job_id: str) -> dict:
        job = self.job(job_id)
        self.jobs.cancel(job)
        return job.status()

    def submit(self, request: SubmitRequest) -> dict:
        shot_path = shot_file_for_submit(request.shot_path, self.door).path
        out_dir = None
        if request.out_dir is not None:
            require_absolute(request.out_dir, "out_dir")
            out_dir = Path(request.out_dir)
        from ..farm import submit_shot

        result = submit_shot(Path(shot_path), request.farm, out_dir=out_dir,
                             chunk_size=request.chunk_size, gpus=request.gpus, priority=request.priority,
                             name=request.name, dry_run=request.dry_run, door=self.door)
        return _jsonable(dataclasses.asdict(result))


def _tracking(shot, frames: list[int], out: str, overwrite: bool):
    """A job runner tracking `shot` over `frames` and writing the tracked shot file `out` (only
    when every frame is tracked: a cancelled or failed job writes nothing; through the shot's
    door, replacing a file only with `overwrite`)."""
    from ..errors import HypersegError
    from ..render import FAILED, WRITTEN, FrameResult, RenderReport
    from ..shot import save_shot
    from ..tracking import track_shot

    def run(job: Job, segmenter) -> RenderReport:
        report = RenderReport(list(frames))

        def progress(frame: int, done: int, total: int) -> None:
            result = FrameResult(frame, WRITTEN, out)
            report.results.append(result)
            job.record(result, done, total)

        try:
            tracked = track_shot(shot, segmenter, frames=frames, progress=progress, cancel=job.cancel)
            if not tracked.cancelled:
                save_shot(tracked.shot, out, overwrite=overwrite)
        except (HypersegError, OSError) as exc:  # the user's (plates gone, unwritable out): the job says why
            failed = FrameResult(frames[len(report.results)] if len(report.results) < len(frames) else frames[-1],
                                 FAILED, out, error=str(exc))
            report.results.append(failed)
            job.record(failed, len(report.results), len(frames))
            return report
        report.cancelled = tracked.cancelled
        return report

    return run


def _jsonable(value):
    """Dataclass data as JSON data: paths as strings."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return os.fspath(value) if isinstance(value, os.PathLike) else value
