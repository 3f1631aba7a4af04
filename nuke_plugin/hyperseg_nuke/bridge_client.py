"""Client of the HyperSeg bridge (`hyperseg-vfx serve`): standard library only, Python 3.7+ (Nuke 13+).

Nuke's Python cannot hold PyTorch safely, so the model runs in the bridge process and Nuke talks
to it over HTTP/JSON. This module is what the Nuke plugin (and the tests) use; it imports nothing
outside the standard library so that it loads in any Nuke.

    client = ensure_bridge()                       # start a local bridge when none answers
    client.health()                                # {"version", "device", "model", "cache", "queue", ...}
    result = client.segment(
        input="/shots/sh010/plates/sh010.####.exr", frame=1001,
        clicks=[{"label": "positive", "keys": {1001: [812.0, 440.5]}}],
        output="/shots/sh010/mattes/sh010_matte.####.exr",
    )
    result["output"], result["coverage"], result["timings"]["features_cached"]

Paths must be absolute and lie inside the bridge's allowed folders (`--allow-root`). Clicks are
in the shot-file form, pixels with the origin at the top-left (Nuke's y axis points up: flip
with `height - y`).

API (every method returns the server's JSON answer as a dict, or raises BridgeError):

- BridgeClient(base_url="http://127.0.0.1:8765", token=None, timeout=30.0)
    token: sent as `Authorization: Bearer <token>` (needed when the bridge has a token file).
    timeout: seconds for each request (connect and read); methods take their own `timeout`.
- health(timeout=None) -> dict: version, device, model, cache use, queue length, jobs.
- segment(input, frame, clicks, output, previous=None, options=None, colorspace=None,
          timeout=None) -> dict: segment one frame and write its EXR matte (atomically, exactly
    as `hyperseg-vfx render` writes it). input/output: a file or a frame pattern (`####`,
    `%04d`); previous: the file used as the previous frame (default: render's rule, frame - 1
    of the input pattern when it exists); options: {"scale", "matte", "candidates"}.
    Answer: {"output", "frame", "coverage", "timings": {"features_cached", "network_s", ...}, ...}.
- start_job(shot=None, shot_path=None, frames=None, skip_existing=False,
            continue_on_error=False, timeout=None) -> dict: render a shot in the background
    (shot: shot-file data with absolute paths, or shot_path: a shot file). Answer: the job.
- job(job_id, timeout=None) -> dict: {"id", "state", "frames", "done", "failed", "errors", "eta_s", ...};
    state: queued | running | cancelling | done | failed | cancelled.
- cancel_job(job_id, timeout=None) -> dict: cancel (the frame in flight finishes); the job.
- wait_for_job(job_id, timeout=600.0, interval=0.5) -> dict: poll until the job has ended.
- submit(shot_path, farm, out_dir=None, chunk_size=10, gpus=0, priority=50, name=None,
         dry_run=False, timeout=None) -> dict: hand a shot to a farm submitter.
- wait_for_health(timeout=30.0, interval=0.2) -> dict: poll /v1/health until it answers.

- ensure_bridge(base_url=..., token=None, command=None, startup_timeout=120.0, log_path=None,
                timeout=30.0) -> BridgeClient: a client of a bridge that answers, starting one
    (detached, logging to `log_path`, default a file in the temp folder) when none does.
    command: the argument list to run (default: $HYPERSEG_BRIDGE_COMMAND split like a shell,
    else `hyperseg-vfx serve --host H --port P`). token None: the per-user token (user_token()),
    which the bridge it starts requires too ($HYPERSEG_BRIDGE_TOKEN_FILE is set for it, which
    `serve --token-file` reads), so no other local user or web page can drive that bridge.
- user_token(path=None) -> str: the per-user bridge token in `path` (default
    default_token_file()), created on first use (random, in a file only its owner can read).
- BridgeError(message, status=None, code=None, field=None): every failure. status: the HTTP
    status (None when the bridge did not answer); code: the server's error code ("forbidden_path",
    "invalid_shot", ...) or "unreachable" / "timeout" / "bad_response"; field: the request field
    at fault, when one is.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shlex
import socket
import subprocess
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence
from urllib.parse import quote, urlsplit

DEFAULT_URL = "http://127.0.0.1:8765"
COMMAND_ENV = "HYPERSEG_BRIDGE_COMMAND"
#: The token file a bridge's `serve --token-file` and this client read (settings.TOKEN_FILE_ENV).
TOKEN_FILE_ENV = "HYPERSEG_BRIDGE_TOKEN_FILE"
FINISHED_STATES = ("done", "failed", "cancelled")


class BridgeError(Exception):
    """A request to the bridge failed; str(error) is the server's message."""

    def __init__(self, message: str, status: Optional[int] = None, code: Optional[str] = None,
                 field: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.field = field


class BridgeClient:
    """One bridge, addressed by base_url; each call is one HTTP request (no connection kept)."""

    def __init__(self, base_url: str = DEFAULT_URL, token: Optional[str] = None, timeout: float = 30.0):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("base_url must look like http://HOST:PORT, got {!r}".format(base_url))
        self.base_url = base_url.rstrip("/")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.https = parts.scheme == "https"
        self.prefix = parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout

    # -- endpoints ---------------------------------------------------------------------------

    def health(self, timeout: Optional[float] = None) -> Dict[str, Any]:
        return self._request("GET", "/v1/health", timeout=timeout)

    def segment(self, input: str, frame: int, clicks: Sequence[Dict[str, Any]], output: str,
                previous: Optional[str] = None, options: Optional[Dict[str, Any]] = None,
                colorspace: Optional[str] = None, timeout: Optional[float] = None) -> Dict[str, Any]:
        body = {"input": input, "frame": frame, "clicks": _json_clicks(clicks), "output": output}
        if previous is not None:
            body["previous"] = previous
        if options is not None:
            body["options"] = options
        if colorspace is not None:
            body["colorspace"] = colorspace
        return self._request("POST", "/v1/segment", body, timeout=timeout)

    def start_job(self, shot: Optional[Dict[str, Any]] = None, shot_path: Optional[str] = None,
                  frames: Optional[str] = None, skip_existing: bool = False,
                  continue_on_error: bool = False, timeout: Optional[float] = None) -> Dict[str, Any]:
        body = _shot_body(shot, shot_path, frames, skip_existing=skip_existing, continue_on_error=continue_on_error)
        return self._request("POST", "/v1/jobs", body, timeout=timeout)

    def start_track(self, out: str, shot: Optional[Dict[str, Any]] = None, shot_path: Optional[str] = None,
                    frames: Optional[str] = None, timeout: Optional[float] = None,
                    overwrite: bool = False) -> Dict[str, Any]:
        """Track a shot's clicks to every frame (POST /v1/track); the answer is a job (poll it
        with job / wait_for_job); when done, `out` is the tracked shot file. An existing `out`
        is refused (409) unless `overwrite`."""
        body = _shot_body(shot, shot_path, frames, out=out, **({"overwrite": True} if overwrite else {}))
        return self._request("POST", "/v1/track", body, timeout=timeout)

    def job(self, job_id: str, timeout: Optional[float] = None) -> Dict[str, Any]:
        return self._request("GET", "/v1/jobs/" + quote(job_id, safe=""), timeout=timeout)

    def cancel_job(self, job_id: str, timeout: Optional[float] = None) -> Dict[str, Any]:
        return self._request("DELETE", "/v1/jobs/" + quote(job_id, safe=""), timeout=timeout)

    def wait_for_job(self, job_id: str, timeout: float = 600.0, interval: float = 0.5) -> Dict[str, Any]:
        """Poll the job until its state is done, failed or cancelled; BridgeError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.job(job_id)
            if state.get("state") in FINISHED_STATES:
                return state
            if time.monotonic() > deadline:
                raise BridgeError("job {} still {} after {:g} s".format(job_id, state.get("state"), timeout),
                                  code="timeout")
            time.sleep(interval)

    def submit(self, shot_path: str, farm: str, out_dir: Optional[str] = None, chunk_size: int = 10,
               gpus: int = 0, priority: int = 50, name: Optional[str] = None, dry_run: bool = False,
               timeout: Optional[float] = None) -> Dict[str, Any]:
        body: Dict[str, Any] = {"shot_path": shot_path, "farm": farm, "chunk_size": chunk_size,
                                "gpus": gpus, "priority": priority, "dry_run": dry_run}
        if out_dir is not None:
            body["out_dir"] = out_dir
        if name is not None:
            body["name"] = name
        return self._request("POST", "/v1/submit", body, timeout=timeout)

    def wait_for_health(self, timeout: float = 30.0, interval: float = 0.2) -> Dict[str, Any]:
        """Poll /v1/health until it answers; BridgeError (the last failure's) after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.health(timeout=2.0)
            except BridgeError as exc:
                if exc.status is not None or time.monotonic() > deadline:
                    raise  # the bridge answered with an error (a wrong token): waiting won't help
            time.sleep(interval)

    # -- transport ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Optional[Dict[str, Any]] = None,
                 timeout: Optional[float] = None) -> Dict[str, Any]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        connection_class = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        connection = connection_class(self.host, self.port, timeout=self.timeout if timeout is None else timeout)
        where = "{} {}{}".format(method, self.base_url, path)
        try:
            connection.request(method, self.prefix + path, body=data, headers=headers)
            response = connection.getresponse()
            status, raw = response.status, response.read()
        except socket.timeout:
            raise BridgeError("{}: no answer within {:g} s".format(where, connection.timeout), code="timeout") from None
        except (OSError, http.client.HTTPException) as exc:
            raise BridgeError("{}: the bridge is not reachable ({})".format(where, exc), code="unreachable") from None
        finally:
            connection.close()
        try:
            answer = json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            answer = None
        if 200 <= status < 300 and isinstance(answer, dict):
            return answer
        error = answer.get("error") if isinstance(answer, dict) else None
        if isinstance(error, dict):
            raise BridgeError(str(error.get("message")), status, error.get("code"), error.get("field"))
        text = raw[:500].decode("utf-8", "replace").strip()
        raise BridgeError("{}: HTTP {} {}".format(where, status, text), status, code="bad_response")



def _shot_body(shot: Optional[Dict[str, Any]], shot_path: Optional[str], frames: Optional[str],
               **fields: Any) -> Dict[str, Any]:
    """The JSON body of a request about a whole shot (/v1/jobs, /v1/track): exactly one of the
    shot's data (`shot`) or its file (`shot_path`), the optional frame spec, and `fields`."""
    if (shot is None) == (shot_path is None):
        raise ValueError("give either shot (shot-file data) or shot_path")
    body = dict(fields)
    if shot is not None:
        body["shot"] = dict(shot, clicks=_json_clicks(shot.get("clicks", [])))
    else:
        body["shot_path"] = shot_path
    if frames is not None:
        body["frames"] = frames
    return body

def _json_clicks(clicks: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Click tracks with their key frames as strings (JSON object keys), positions as lists."""
    tracks = []
    for track in clicks:
        track = dict(track)
        if isinstance(track.get("keys"), dict):
            track["keys"] = {str(frame): list(point) for frame, point in track["keys"].items()}
        tracks.append(track)
    return tracks


# -- starting a local bridge -----------------------------------------------------------------


def default_command(base_url: str) -> List[str]:
    """The command that starts a bridge for base_url: $HYPERSEG_BRIDGE_COMMAND (split like a
    shell line) when set, else `hyperseg-vfx serve --host HOST --port PORT`."""
    configured = os.environ.get(COMMAND_ENV)
    if configured:
        return shlex.split(configured)
    parts = urlsplit(base_url)
    return ["hyperseg-vfx", "serve", "--host", parts.hostname or "127.0.0.1", "--port", str(parts.port or 8765)]


def default_token_file() -> str:
    """Where the per-user bridge token lives: $HYPERSEG_BRIDGE_TOKEN_FILE, else
    %APPDATA%/hyperseg-vfx/bridge_token on Windows, $XDG_CONFIG_HOME (default ~/.config)
    /hyperseg-vfx/bridge_token elsewhere."""
    configured = os.environ.get(TOKEN_FILE_ENV, "").strip()
    if configured:
        return configured
    if os.name == "nt":
        base = os.environ.get("APPDATA") or os.path.expanduser("~")
    else:
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "hyperseg-vfx", "bridge_token")


def user_token(path: Optional[str] = None) -> str:
    """The token in `path` (default default_token_file()); on first use the file is created
    with a random token, readable by its owner only (0600, in a 0700 folder), the way the
    bridge's --token-file wants it. BridgeError when it cannot be read or made."""
    path = path or default_token_file()
    try:
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(handle, "w") as new_file:
                new_file.write(secrets.token_urlsafe(32) + "\n")
        with open(path, encoding="utf-8") as existing:
            token = existing.read().strip()
    except OSError as exc:
        raise BridgeError("cannot read or create the bridge token file {}: {}".format(path, exc.strerror or exc),
                          code="unreachable") from None
    if not token:
        raise BridgeError("the bridge token file {} is empty: delete it to get a new token".format(path),
                          code="unreachable")
    return token


def ensure_bridge(base_url: str = DEFAULT_URL, token: Optional[str] = None,
                  command: Optional[Sequence[str]] = None, startup_timeout: float = 120.0,
                  log_path: Optional[str] = None, timeout: float = 30.0) -> BridgeClient:
    """A client of the bridge at base_url; when none answers, start `command` detached from
    this process (it outlives Nuke's session; its output goes to log_path) and wait until its
    health answers. BridgeError when it exits or stays silent, with the end of its log.
    token None: the per-user token, required by the bridge started here (see user_token)."""
    child_env = child_environment()
    if token is None:
        token_file = default_token_file()
        token = user_token(token_file)
        child_env[TOKEN_FILE_ENV] = token_file
    client = BridgeClient(base_url, token=token, timeout=timeout)
    try:
        client.health(timeout=min(timeout, 2.0))
        return client
    except BridgeError as exc:
        if exc.status is not None:
            raise
    command = list(command) if command is not None else default_command(base_url)
    if log_path is None:
        log_path = os.path.join(tempfile.gettempdir(), "hyperseg_bridge_{}.log".format(client.port))
    with open(log_path, "ab") as log:
        detach = {"start_new_session": True} if os.name == "posix" else {
            "creationflags": getattr(subprocess, "DETACHED_PROCESS", 0) | getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}
        try:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       close_fds=True, env=child_env, **detach)
        except OSError as exc:
            raise BridgeError("cannot start the bridge with {}: {}".format(command_line(command), exc),
                              code="unreachable") from None
    deadline = time.monotonic() + startup_timeout
    while True:
        try:
            client.health(timeout=2.0)
            return client
        except BridgeError as exc:
            if exc.status is not None:
                raise
        if process.poll() is not None:
            raise BridgeError("the bridge exited with status {} before answering; its log {}:\n{}".format(
                process.returncode, log_path, _tail(log_path)), code="unreachable")
        if time.monotonic() > deadline:
            raise BridgeError("the bridge started by {} did not answer within {:g} s; its log {}:\n{}".format(
                command_line(command), startup_timeout, log_path, _tail(log_path)), code="timeout")
        time.sleep(0.2)


#: Variables a Python host (Nuke) sets for its own interpreter; a child Python must not inherit them.
HOST_PYTHON_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONEXECUTABLE", "PYTHONNOUSERSITE")


def child_environment() -> Dict[str, str]:
    """This process's environment without the host's Python variables: a bridge or
    hyperseg-vfx started from Nuke runs with its own Python, not Nuke's PYTHONPATH/PYTHONHOME."""
    return {key: value for key, value in os.environ.items() if key not in HOST_PYTHON_VARIABLES}


def command_line(words: Sequence[str]) -> str:
    """A command as a shell line (shlex.join is Python 3.8+; Nuke 13 runs 3.7)."""
    return " ".join(shlex.quote(str(word)) for word in words)


def _tail(path: str, size: int = 2000) -> str:
    """The last `size` bytes of a log file, as text."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - size))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"

