"""Running the bridge: uvicorn on the settings' address, stopped cleanly by SIGINT/SIGTERM.

With --idle-exit it also stops by itself once idle (bridge.idle), exiting with status 0.
On a signal uvicorn stops accepting connections, lets the requests in progress finish, then
runs the application's shutdown (running job frames finish and are written, or leave no file;
the model worker stops), releases the port and re-raises the signal, so the process ends with
the signal's status (SIGINT: exit status 130). A second SIGINT stops at once.
"""

from __future__ import annotations

import errno
import logging
import signal
import socket

from ..door import Door
from .app import create_app
from .idle import stop_when_idle
from .protocol import timed_protocol
from .security import BridgeSetupError, allowed_host_names, check_bind
from .settings import KEEP_ALIVE_S, BridgeSettings

log = logging.getLogger("hyperseg_vfx.bridge")


def serve(settings: BridgeSettings) -> None:
    """Bind, load the model and serve until a signal. BridgeSetupError before anything is loaded
    when the address needs a token and has none or cannot be bound (a port in use), DoorSetupError
    when an allowed root is no folder,
    HypersegError when the model cannot be loaded."""
    import uvicorn

    check_bind(settings.host, settings.token)
    Door(settings.allow_roots)  # DoorSetupError before the model loads: every root must be a folder
    listening = bind_socket(settings.host, settings.port)  # before the model: a busy port fails at once
    _log_to_stderr()
    app = create_app(settings)
    bridge = app.state.bridge
    log.info("model %s on %s; paths allowed in %s", bridge.segmenter.model_name, bridge.segmenter.device,
             ", ".join(bridge.door.roots) or "no folder yet")
    if settings.allow_roots_file is not None:
        log.info("and in the folders listed in %s (read again when it changes)", settings.allow_roots_file)
    log.info("answers Host %s; web origins allowed: %s",
             ", ".join(allowed_host_names(settings.host, settings.allowed_hosts)),
             ", ".join(settings.allow_origins) or "none")
    if settings.token:
        log.info("token required (Authorization: Bearer <token>)")
    else:
        log.warning("no token: any local process of any user can use this bridge (see --token-file)")
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info",
                            timeout_graceful_shutdown=None, server_header=False,
                            http=timed_protocol(settings.request_timeout_s), timeout_keep_alive=KEEP_ALIVE_S,
                            h11_max_incomplete_event_size=64 * 1024)
    # A background job of a script starts with SIGINT ignored. uvicorn catches SIGINT anyway and,
    # after its graceful shutdown, re-raises it under the handler it found: ignored, the process
    # would exit 0. Python's own handler makes a SIGINT stop end with status 130 in every case.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    server = uvicorn.Server(config)
    if settings.idle_exit_s is not None:
        log.info("stops after %g s idle (--idle-exit)", settings.idle_exit_s)
        stop_when_idle(server, bridge, settings.idle_exit_s)
    try:
        server.run(sockets=[listening])
    except KeyboardInterrupt:  # uvicorn re-raises the SIGINT it shut down on: exit as a shell would
        raise SystemExit(128 + signal.SIGINT) from None
    finally:
        listening.close()


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port (SO_REUSEADDR, as uvicorn binds), handed to uvicorn;
    BridgeSetupError naming the address when it cannot be bound (in use, not this machine's)."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError as exc:
        raise BridgeSetupError(f"--host {host}: cannot listen there: {exc.strerror or exc}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        where = f"{host}:{port}" if family != socket.AF_INET6 else f"[{host}]:{port}"
        if exc.errno == errno.EADDRINUSE:
            raise BridgeSetupError(f"--port {port}: {where} is already in use (another bridge? "
                                   f"GET http://{where}/v1/health says); stop it or choose another --port") from None
        raise BridgeSetupError(f"--host {host} --port {port}: cannot listen on {where}: {exc.strerror or exc}") from None
    return sock


#: Longest argument of a log line (uvicorn's access log repeats the request path).
LOG_ARG_CHARS = 300


class _TruncateArgs(logging.Filter):
    """Cut long string arguments of a log record, so a log line never echoes unbounded input."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(arg[:LOG_ARG_CHARS] + "..." if isinstance(arg, str) and len(arg) > LOG_ARG_CHARS
                                else arg for arg in record.args)
        return True


def _log_to_stderr() -> None:
    """The bridge's own messages next to uvicorn's, on stderr."""
    for name in ("uvicorn.access", "uvicorn.error", "hyperseg_vfx.bridge"):
        logging.getLogger(name).addFilter(_TruncateArgs())
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
