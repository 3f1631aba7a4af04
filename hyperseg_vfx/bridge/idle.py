"""Stopping an idle bridge (`serve --idle-exit SECONDS`): a bridge started for an artist's Nuke
session stops by itself once nothing uses it, also when Nuke crashed and could not stop it.

Idle means: no request in progress, none for SECONDS, and no job running or queued. Only
requests the request guard lets through count (a stray probe without the token keeps nothing
alive). The stop is uvicorn's graceful one (as on SIGTERM), with exit status 0.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("hyperseg_vfx.bridge")


class Activity:
    """When the bridge was last used: requests in progress, and when the last one ended."""

    def __init__(self):
        self.requests = 0
        self.since = time.monotonic()

    def idle_for(self, jobs_busy: bool) -> float:
        """Seconds the bridge has been idle (0 while a request or a job is in progress)."""
        if self.requests or jobs_busy:
            return 0.0
        return time.monotonic() - self.since


class ActivityMiddleware:
    """ASGI middleware noting each HTTP request's start and end in `activity`."""

    def __init__(self, app, *, activity: Activity):
        self.app, self.activity = app, activity

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        self.activity.requests += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.activity.requests -= 1
            self.activity.since = time.monotonic()


def stop_when_idle(server, bridge, seconds: float) -> threading.Thread:
    """A daemon thread that sets `server.should_exit` (uvicorn's graceful stop) once `bridge`
    has been idle for `seconds`."""

    def watch() -> None:
        while not server.should_exit:
            counts = bridge.jobs.counts()
            idle = bridge.activity.idle_for(bool(counts["running"] or counts["queued"]))
            if idle >= seconds:
                log.info("idle for %.0f s (no request, no job): stopping (--idle-exit)", idle)
                server.should_exit = True
                return
            time.sleep(min(1.0, seconds / 4))

    thread = threading.Thread(target=watch, name="hyperseg-idle-exit", daemon=True)
    thread.start()
    return thread
