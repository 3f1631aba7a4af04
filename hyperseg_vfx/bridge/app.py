"""The bridge's HTTP API (FastAPI): health, segment, jobs, track, submit under /v1.

    app = create_app(BridgeSettings(checkpoint=Path("hyperseg.pt"), device="cuda"))

create_app loads the model at once (a bad checkpoint fails before anything binds); the model
worker runs from the application's start-up to its shutdown, where running jobs are cancelled
and their frames in flight written before the worker stops. Routes only translate: the work is
in service.Bridge, the refusals in errors and middleware.
"""

from __future__ import annotations

import contextlib

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from .. import __version__
from .docs import docs_page
from .errors import install_error_handlers
from .idle import ActivityMiddleware
from .middleware import RequestGuard
from .schemas import (ERROR_RESPONSES, Health, JobRequest, JobStatus, SegmentRequest, SegmentResult, SubmitRequest,
                      SubmitResult, TrackRequest)
from .security import allowed_host_names
from .service import Bridge
from .settings import BridgeSettings


def create_app(settings: BridgeSettings) -> FastAPI:
    """The bridge application for `settings`; loads the model now."""
    bridge = Bridge(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        bridge.worker.start()
        try:
            yield
        finally:
            bridge.jobs.shutdown()
            bridge.worker.stop()

    app = FastAPI(
        title="HyperSeg bridge", version=__version__, lifespan=lifespan, responses=ERROR_RESPONSES,
        docs_url=None, redoc_url=None,  # both load their scripts from a CDN: /docs is docs.docs_page
        description="Interactive segmentation for VFX: clicks in, EXR mattes out. Paths are absolute and must lie "
                    "in the bridge's allowed folders; errors are `{\"error\": {\"code\", \"message\", \"field\"}}`.",
    )
    app.state.bridge = bridge
    install_error_handlers(app)
    app.add_middleware(ActivityMiddleware, activity=bridge.activity)  # inside the guard: refused requests don't count
    app.add_middleware(RequestGuard, token=settings.token, max_body_bytes=settings.max_body_bytes,
                       allowed_hosts=allowed_host_names(settings.host, settings.allowed_hosts),
                       allow_origins=settings.allow_origins)

    @app.get("/v1/health", response_model=Health, summary="Version, device, model, cache use, queue length")
    async def health() -> dict:
        return bridge.health()

    @app.post("/v1/segment", response_model=SegmentResult, summary="Segment one frame and write its EXR matte")
    def segment(request: SegmentRequest) -> dict:
        return bridge.segment(request)

    @app.post("/v1/jobs", response_model=JobStatus, status_code=202, summary="Render a shot in the background")
    def start_job(request: JobRequest) -> dict:
        return bridge.start_job(request)

    @app.post("/v1/track", response_model=JobStatus, status_code=202,
              summary="Track a shot's clicks to every frame in the background (a job: poll and cancel at /v1/jobs/{id})")
    def start_track(request: TrackRequest) -> dict:
        return bridge.start_track(request)

    @app.get("/v1/jobs/{job_id}", response_model=JobStatus, summary="A job's state, progress, errors and ETA")
    async def job(job_id: str) -> dict:
        return bridge.job(job_id).status()

    @app.delete("/v1/jobs/{job_id}", response_model=JobStatus,
                summary="Cancel a job (the frame in flight is finished; a queued job never starts)")
    async def cancel_job(job_id: str) -> dict:
        return bridge.cancel_job(job_id)

    @app.post("/v1/submit", response_model=SubmitResult, summary="Hand a shot file to a render farm submitter")
    def submit(request: SubmitRequest) -> dict:
        return bridge.submit(request)

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    async def docs() -> str:
        return docs_page(app.openapi())

    return app
