"""`serve`: the bridge Nuke talks to."""

from __future__ import annotations

from pathlib import Path

import click

from .options import DEVICE_OPTION


@click.command()
@click.option("--host", default=None, show_default="127.0.0.1",
              help="Address to bind. Anything but 127.0.0.1, ::1 or localhost requires --token-file.")
@click.option("--port", type=click.IntRange(0, 65535), default=None, show_default="8765")
@click.option("--checkpoint", "checkpoint_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Model to serve (default: the bundled default model).")
@DEVICE_OPTION
@click.option("--allow-root", "allow_roots", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="A folder request paths may lie in (repeat for more; default: the current folder and "
                   "the system temp folder).")
@click.option("--allow-roots-file", type=click.Path(dir_okay=False, path_type=Path),
              help="A file listing more allowed folders, one absolute folder a line, read again whenever it "
                   "changes (folders are added without a restart); other users must not be able to write it. "
                   "With it and no --allow-root only its folders are allowed. The bridge the Nuke plugin starts "
                   "uses ~/.config/hyperseg-vfx/bridge_roots, which the plugin fills with the comp's folders.")
@click.option("--idle-exit", "idle_exit", type=click.FloatRange(0, min_open=True), default=None, metavar="SECONDS",
              help="Stop by itself after SECONDS with no request and no job running or queued (exit status 0). "
                   "The bridge the Nuke plugin starts uses 3600.")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path),
              envvar="HYPERSEG_BRIDGE_TOKEN_FILE", show_envvar=True,
              help="File holding the secret every request must send as `Authorization: Bearer <token>` "
                   "(owner-readable only, 16+ characters). The bridge the Nuke plugin starts uses a per-user "
                   "one (~/.config/hyperseg-vfx/bridge_token). Without it any local process can use the bridge.")
@click.option("--cache-bytes", type=click.IntRange(0), default=None, show_default="4 GiB",
              help="Budget of the per-frame feature cache (a 1920x1080 frame takes 290 MB on CUDA, 580 MB on CPU).")
@click.option("--max-body-bytes", type=click.IntRange(1), default=None, show_default="1 MiB",
              help="Largest request body accepted (larger ones get 413).")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="Another name clients use in the Host header (default: 127.0.0.1, localhost, [::1] and --host). "
                   "Other Host headers get 403: this stops DNS-rebinding web pages.")
@click.option("--allow-origin", "allow_origins", multiple=True, metavar="ORIGIN",
              help="A web origin (http://name:port) whose requests are served (default: none; any request "
                   "carrying an Origin header gets 403).")
@click.option("--request-timeout", type=click.FloatRange(0.1), default=None, show_default="15 s",
              help="Seconds a client has to send a whole request; slower clients are dropped.")
def serve(host: str | None, port: int | None, checkpoint_path: Path | None, device: str,
          allow_roots: tuple[Path, ...], token_file: Path | None, cache_bytes: int | None,
          max_body_bytes: int | None, allowed_hosts: tuple[str, ...], allow_origins: tuple[str, ...],
          request_timeout: float | None, allow_roots_file: Path | None, idle_exit: float | None) -> None:
    """Run the bridge: the HTTP/JSON server Nuke talks to (API described at /docs, offline).

    It keeps the model warm, caches per-frame features (a new click runs only the network) and
    writes mattes exactly as `render` does. SIGINT/SIGTERM stop it cleanly, and so does
    --idle-exit once nothing uses it.

    \b
    Exit status:
      0    stopped by --idle-exit
      2    cannot start, one `Error:` line: the port is in use (checked before the model
           loads), an address that needs --token-file, a bad token file, roots file or checkpoint,
           an --allow-root that is no folder
      130  stopped by SIGINT
      143  stopped by SIGTERM
    """
    from ..bridge.security import check_default_roots, read_roots_file, read_token_file
    from ..bridge.server import serve as run_server
    from ..bridge.settings import BridgeSettings, default_allow_roots

    if allow_roots_file is not None:
        if allow_roots_file.exists():
            read_roots_file(allow_roots_file)  # refused now, before the model loads
        allow_roots_file = allow_roots_file.absolute()
        roots = tuple(allow_roots)
    else:
        if not allow_roots:
            check_default_roots(default_allow_roots())
        roots = tuple(allow_roots) or default_allow_roots()
    given = {"host": host, "port": port, "cache_bytes": cache_bytes, "max_body_bytes": max_body_bytes,
             "request_timeout_s": request_timeout}
    run_server(BridgeSettings(
        checkpoint=checkpoint_path, device=device, allow_roots=roots, allow_roots_file=allow_roots_file,
        idle_exit_s=idle_exit,
        token=None if token_file is None else read_token_file(token_file),
        allowed_hosts=allowed_hosts, allow_origins=allow_origins,
        **{name: value for name, value in given.items() if value is not None},
    ))
