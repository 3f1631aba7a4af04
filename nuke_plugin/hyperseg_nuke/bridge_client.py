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
    command: the argument list to run (default: default_command(base_url):
    $HYPERSEG_BRIDGE_COMMAND, else `hyperseg-vfx serve --host H --port P --allow-roots-file F
    --idle-exit S`, with hyperseg-vfx found by hyperseg_command()). token None: the per-user token (user_token()),
    which the bridge it starts requires too ($HYPERSEG_BRIDGE_TOKEN_FILE is set for it, which
    `serve --token-file` reads), so no other local user or web page can drive that bridge.
- allow_folders(folders, path=None) -> list: add folders to the allowed-folders file of the
    bridges ensure_bridge starts (default_roots_file()); a running one takes them at its next
    request. Call it with the folders of your plates, mattes and shot files before requests.
- hyperseg_command() -> list: the hyperseg-vfx command ($HYPERSEG_VFX_COMMAND, else the one
    `hyperseg-vfx nuke install` recorded, else hyperseg-vfx on PATH); split_command(value,
    variable): how a command setting becomes words (a JSON list, or a command line split the
    way the OS's shell does, Windows paths kept).
- stop_started_bridges(timeout=30.0) -> list: stop the bridges ensure_bridge started in this
    process (not those running a job: they stop once idle); the Nuke plugin runs it at exit.
- user_token(path=None) -> str: the per-user bridge token in `path` (default
    default_token_file()), created on first use (random, in a file only its owner can read).
    Its folder is made private (0700) when it is this user's and others could write to it, and
    refused when it is another user's; the file is read as `serve --token-file` reads it
    (read_token_file).
- read_token_file(path) -> str: a token file read by the bridge's rules: a regular file (not a
    link, FIFO or device; never blocks), owned by this user, readable by nobody else, UTF-8.
    The token goes to the bridge UTF-8 encoded (`Authorization: Bearer <token>`), which is how
    the bridge compares it, so a non-ASCII token works.
- BridgeError(message, status=None, code=None, field=None): every failure. status: the HTTP
    status (None when the bridge did not answer); code: the server's error code ("forbidden_path",
    "invalid_shot", ...) or "unreachable" / "timeout" / "bad_response"; field: the request field
    at fault, when one is.
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import secrets
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence
from urllib.parse import quote, urlsplit

DEFAULT_URL = "http://127.0.0.1:8765"
COMMAND_ENV = "HYPERSEG_BRIDGE_COMMAND"
#: The hyperseg-vfx command (contact sheet, bridge), also read by the farm submitters.
VFX_COMMAND_ENV = "HYPERSEG_VFX_COMMAND"
EXECUTABLE = "hyperseg-vfx"
#: Beside the plugin folder: the command `hyperseg-vfx nuke install` recorded (see hyperseg_command).
INSTALLED_COMMAND_FILE = "hyperseg_command.json"
#: Seconds without a request or job after which a bridge ensure_bridge starts stops (serve --idle-exit).
AUTOSTART_IDLE_EXIT_S = 3600
#: The token file a bridge's `serve --token-file` and this client read (settings.TOKEN_FILE_ENV).
TOKEN_FILE_ENV = "HYPERSEG_BRIDGE_TOKEN_FILE"
FINISHED_STATES = ("done", "failed", "cancelled")
#: (process, client) of every bridge ensure_bridge started in this process (stop_started_bridges).
_STARTED: List[Any] = []


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

    def segment(self, input: str, frame: int, clicks: Optional[Sequence[Dict[str, Any]]], output: str,
                previous: Optional[str] = None, options: Optional[Dict[str, Any]] = None,
                colorspace: Optional[str] = None, timeout: Optional[float] = None,
                ocio_config: Optional[str] = None,
                objects: Optional[Dict[str, Dict[str, Any]]] = None,
                output_per_object: Optional[str] = None) -> Dict[str, Any]:
        """Segment one frame. clicks: one object's click tracks; or clicks None and objects:
        name -> {"clicks": [...], "options": {...}} (one layer per object in the output)."""
        body = {"input": input, "frame": frame, "output": output}  # type: Dict[str, Any]
        if clicks is not None:
            body["clicks"] = _json_clicks(clicks)
        if objects is not None:
            body["objects"] = _json_objects(objects)
        if output_per_object is not None:
            body["output_per_object"] = output_per_object
        if previous is not None:
            body["previous"] = previous
        if options is not None:
            body["options"] = options
        if colorspace is not None:
            body["colorspace"] = colorspace
        if ocio_config is not None:
            body["ocio_config"] = ocio_config
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
        if self.token:  # UTF-8 bytes (http.client would send a str as Latin-1): the bridge compares UTF-8
            headers["Authorization"] = ("Bearer " + self.token).encode("utf-8")
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
        body["shot"] = dict(shot)
        if "clicks" in shot:
            body["shot"]["clicks"] = _json_clicks(shot["clicks"])
        if "objects" in shot:
            body["shot"]["objects"] = _json_objects(shot["objects"])
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


def _json_objects(objects: Dict[str, Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """A shot's `objects:` with each object's clicks as _json_clicks gives them."""
    return {name: dict(obj, clicks=_json_clicks(obj.get("clicks", []))) for name, obj in objects.items()}


# -- starting a local bridge -----------------------------------------------------------------


def split_command(value: str, variable: str) -> List[str]:
    """The words of a command setting ($HYPERSEG_BRIDGE_COMMAND, $HYPERSEG_VFX_COMMAND; `variable`
    names it in errors), [] when it is empty:

    - a JSON list of strings: those words, as they are
      (`["C:/hyperseg/.venv/Scripts/hyperseg-vfx.exe", "serve", "--allow-root", "D:/shows"]`);
    - the path of an existing file (spaces and all): that one word;
    - else split like a command line: POSIX shell rules, but on Windows (os.name "nt") with
      backslashes kept as path separators (shlex posix=False; "double quotes" group words with
      spaces and are removed), so `C:\\hyperseg\\hyperseg-vfx.exe serve --allow-root D:\\shows`
      stays four words with every backslash.

    BridgeError (code "setup") naming `variable` when it is a bad JSON list or an unclosed quote."""
    value = value.strip()
    if not value:
        return []
    if value.startswith("["):
        try:
            words = json.loads(value)
        except ValueError as exc:
            raise BridgeError("${} is not a valid JSON list: {}".format(variable, exc), code="setup") from None
        if not isinstance(words, list) or not words or not all(isinstance(w, str) and w for w in words):
            raise BridgeError("${} must be a JSON list of non-empty strings, got {}".format(variable, value),
                              code="setup")
        return words
    if os.path.isfile(value):
        return [value]
    try:
        if os.name != "nt":
            return shlex.split(value)
        lexer = shlex.shlex(value, posix=False)
        lexer.whitespace_split, lexer.commenters = True, ""
        return [word[1:-1] if len(word) > 1 and word[0] == word[-1] == '"' else word for word in lexer]
    except ValueError as exc:  # an unclosed quote
        raise BridgeError("${} cannot be split into words ({}): {}".format(variable, exc, value),
                          code="setup") from None


def installed_command_file() -> str:
    """The file `hyperseg-vfx nuke install` writes beside the plugin it copies: {"command": [...]},
    the command of the hyperseg-vfx installation that copied it."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), INSTALLED_COMMAND_FILE)


def hyperseg_command() -> List[str]:
    """The hyperseg-vfx command line, by the first of these rules that gives one:

    1. $HYPERSEG_VFX_COMMAND (see split_command);
    2. the command `hyperseg-vfx nuke install` recorded beside the plugin (installed_command_file);
    3. `hyperseg-vfx` on the PATH (as an absolute path).

    BridgeError (code "setup") saying how to set one when none does (Nuke started from a desktop
    icon seldom has a virtual environment on its PATH)."""
    words = split_command(os.environ.get(VFX_COMMAND_ENV, ""), VFX_COMMAND_ENV)
    if words:
        return words
    recorded = installed_command_file()
    if os.path.isfile(recorded):
        try:
            with open(recorded, encoding="utf-8") as handle:
                words = json.load(handle).get("command")
        except (OSError, ValueError, AttributeError) as exc:
            raise BridgeError("cannot read {}: {}; run `hyperseg-vfx nuke install` again".format(recorded, exc),
                              code="setup") from None
        if isinstance(words, list) and words and all(isinstance(w, str) and w for w in words):
            return words
        raise BridgeError("{} holds no command; run `hyperseg-vfx nuke install` again".format(recorded), code="setup")
    found = shutil.which(EXECUTABLE)
    if found:
        return [os.path.abspath(found)]
    raise BridgeError(
        "cannot find {exe}: it is not on this program's PATH. Install the Nuke plugin with `{exe} nuke install "
        "FOLDER` (it records the command), or set ${env} to its path (e.g. /home/me/hyperseg/.venv/bin/{exe}, "
        "C:\\hyperseg\\.venv\\Scripts\\{exe}.exe), or set ${bridge} to the whole bridge command.".format(
            exe=EXECUTABLE, env=VFX_COMMAND_ENV, bridge=COMMAND_ENV), code="setup")


def default_command(base_url: str) -> List[str]:
    """The command that starts a bridge for base_url: $HYPERSEG_BRIDGE_COMMAND (see
    split_command) when set, used as it is; else `hyperseg_command() serve --host HOST --port
    PORT --allow-roots-file FILE --idle-exit SECONDS`: the bridge allows the folders listed in
    default_roots_file() (see allow_folders; re-read when it changes) and stops by itself after
    AUTOSTART_IDLE_EXIT_S seconds without a request or a job."""
    configured = split_command(os.environ.get(COMMAND_ENV, ""), COMMAND_ENV)
    if configured:
        return configured
    parts = urlsplit(base_url)
    return hyperseg_command() + [
        "serve", "--host", parts.hostname or "127.0.0.1", "--port", str(parts.port or 8765),
        "--allow-roots-file", default_roots_file(), "--idle-exit", str(AUTOSTART_IDLE_EXIT_S)]


def config_folder() -> str:
    """This user's hyperseg-vfx settings folder: %APPDATA%/hyperseg-vfx on Windows,
    $XDG_CONFIG_HOME (default ~/.config)/hyperseg-vfx elsewhere."""
    if os.name == "nt":
        base = os.environ.get("APPDATA") or os.path.expanduser("~")
    else:
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "hyperseg-vfx")


def default_token_file() -> str:
    """Where the per-user bridge token lives: $HYPERSEG_BRIDGE_TOKEN_FILE, else
    config_folder()/bridge_token."""
    return os.environ.get(TOKEN_FILE_ENV, "").strip() or os.path.join(config_folder(), "bridge_token")


def default_roots_file() -> str:
    """The allowed-folders file of the bridges ensure_bridge starts: config_folder()/bridge_roots."""
    return os.path.join(config_folder(), "bridge_roots")


def _private_file(path: str, text: str) -> None:
    """Write `text` to `path` atomically, readable and writable by its owner only (0600, in a
    0700 folder): what `serve --token-file` and `--allow-roots-file` accept."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, mode=0o700, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)  # mkstemp: 0600
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def allowed_folders(path: Optional[str] = None) -> List[str]:
    """The folders listed in the roots file `path` (default default_roots_file()), one per line."""
    try:
        with open(path or default_roots_file(), encoding="utf-8") as handle:
            return [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    except FileNotFoundError:
        return []


def _too_wide(folder: str) -> bool:
    """The root of a disk (`/`, `C:/`, `//server/share`) or the home folder: never allowed whole."""
    folder = folder.replace("\\", "/").rstrip("/")
    home = os.path.expanduser("~").replace("\\", "/").rstrip("/")
    return folder in ("", home) or (len(folder) == 2 and folder[1] == ":") or (
        folder.startswith("//") and folder[2:].count("/") <= 1)


def allow_folders(folders: Sequence[str], path: Optional[str] = None) -> List[str]:
    """Add `folders` (absolute; forward or back slashes) to the roots file `path` (default
    default_roots_file()) that a bridge started by ensure_bridge reads; a running one takes
    them at its next request. Folders inside a listed one, relative ones, the root of a disk and
    the home folder are left out. Returns the folders added (the file is rewritten only then)."""
    path = path or default_roots_file()
    listed = allowed_folders(path)
    added: List[str] = []
    for folder in folders:
        folder = folder.replace("\\", "/")
        folder = folder.rstrip("/") or folder
        absolute = folder.startswith("/") or (len(folder) > 2 and folder[1] == ":" and folder[2] == "/")
        if not absolute or _too_wide(folder):
            continue
        if any(folder == known or folder.startswith(known.rstrip("/") + "/") for known in listed + added):
            continue
        added.append(folder)
    if added:
        _private_file(path, "".join(line + "\n" for line in listed + added))
    return added


#: The bridge's rules for a token file (hyperseg_vfx.bridge.security): its shortest token and
#: largest file.
MIN_TOKEN_LENGTH = 16
MAX_TOKEN_FILE_BYTES = 4096


def user_token(path: Optional[str] = None) -> str:
    """The token in `path` (default default_token_file()); on first use the file is created
    with a random token, readable by its owner only (0600, in a 0700 folder), the way the
    bridge's --token-file wants it. A folder of this user's that others may write to is made
    0700 (another user could swap the file); one of another user's is refused. BridgeError when
    the token cannot be read or made, or the file breaks read_token_file's rules."""
    path = path or default_token_file()
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        _private_folder(folder)
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(handle, "w", encoding="utf-8") as new_file:
                new_file.write(secrets.token_urlsafe(32) + "\n")
    except OSError as exc:
        raise BridgeError("cannot read or create the bridge token file {}: {}".format(path, exc.strerror or exc),
                          code="unreachable") from None
    return read_token_file(path, remedy="delete it to get a new token")


def _private_folder(folder: str) -> None:
    """Make the token's folder private (0700) when it is this user's and others may write to it;
    BridgeError when it is a link or another user's (POSIX; nothing to check elsewhere)."""
    if os.name != "posix":
        return
    info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise BridgeError("the bridge token folder {} is not a folder (a link?): remove it".format(folder),
                          code="unreachable")
    if info.st_uid != os.getuid():
        raise BridgeError("the bridge token folder {} belongs to another user: set ${} to a file in a folder of "
                          "yours".format(folder, TOKEN_FILE_ENV), code="unreachable")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        os.chmod(folder, 0o700)


def read_token_file(path: str, remedy: str = "fix it or name another file") -> str:
    """The token in `path`, read by the bridge's rules (`serve --token-file`): a regular file,
    not a link, FIFO or device (opened without following links and without blocking, then
    checked with fstat), owned by this user and readable by nobody else (POSIX), UTF-8 text of
    at least MIN_TOKEN_LENGTH characters. BridgeError naming the file and the rule otherwise."""

    def refuse(reason: str) -> BridgeError:
        return BridgeError("the bridge token file {} {}: {}".format(path, reason, remedy), code="unreachable")

    if not hasattr(os, "O_NOFOLLOW") and os.path.islink(path):
        raise refuse("is a symbolic link")
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise refuse("is a symbolic link" if exc.errno == errno.ELOOP else "cannot be read ({})".format(
            exc.strerror or exc)) from None
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            raise refuse("is not a regular file")
        if os.name == "posix" and info.st_uid != os.getuid():
            raise refuse("belongs to another user")
        if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise refuse("can be read by other users")
        raw = os.read(handle, MAX_TOKEN_FILE_BYTES + 1)
    except OSError as exc:
        raise refuse("cannot be read ({})".format(exc.strerror or exc)) from None
    finally:
        os.close(handle)
    try:
        token = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise refuse("is not UTF-8 text") from None
    if len(raw) > MAX_TOKEN_FILE_BYTES or len(token) < MIN_TOKEN_LENGTH:
        raise refuse("does not hold a token of {} to {} bytes".format(MIN_TOKEN_LENGTH, MAX_TOKEN_FILE_BYTES))
    return token


def ensure_bridge(base_url: str = DEFAULT_URL, token: Optional[str] = None,
                  command: Optional[Sequence[str]] = None, startup_timeout: float = 120.0,
                  log_path: Optional[str] = None, timeout: float = 30.0) -> BridgeClient:
    """A client of the bridge at base_url; when none answers, start `command` detached from
    this process (its output goes to log_path; stop_started_bridges stops it) and wait until its
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
    _STARTED.append((process, client))
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


def stop_started_bridges(timeout: float = 30.0) -> List[int]:
    """Stop the bridges ensure_bridge started in this process that still run, except those with
    a job running or queued (they stop by themselves once idle: `serve --idle-exit`): a graceful
    stop (SIGTERM) on POSIX, TerminateProcess on Windows (a matte is written atomically, so no
    half file is left). Waits up to `timeout` s for each. Returns their process ids. For atexit."""
    stopped = []
    for process, client in list(_STARTED):
        if process.poll() is not None:
            _STARTED.remove((process, client))
            continue
        try:
            jobs = client.health(timeout=2.0).get("jobs", {})
        except BridgeError:
            jobs = {}
        if jobs.get("running") or jobs.get("queued"):
            continue
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        _STARTED.remove((process, client))
        stopped.append(process.pid)
    return stopped


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

