"""How long-running commands (render, demo) show progress, report, and stop on signals."""

from __future__ import annotations

import sys

import click


class RenderOutput:
    """How `render` and `demo` show progress: a bar on a terminal's stderr, else one plain line
    per frame on stdout (farm logs); OpenJD progress lines on stdout when asked."""

    def __init__(self, total: int, label: str, openjd: bool, bar: bool | None = None):
        self.openjd = openjd
        self.bar = None
        if bar if bar is not None else sys.stderr.isatty():
            self.bar = click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True)
            self.bar.__enter__()

    def __call__(self, result, done: int, total: int) -> None:
        if result.status == "failed":
            click.echo(f"frame {result.frame}  FAILED  {result.error}", err=True)
            if result.detail:
                click.echo(result.detail.rstrip(), err=True)
        elif self.bar is None:
            what = "skipped" if result.status == "skipped" else f"{result.seconds:.2f} s"
            click.echo(f"frame {result.frame}  {what}  {result.path}")
        if self.bar is not None:
            self.bar.update(1)
        if self.openjd:
            click.echo(f"openjd_progress: {100.0 * done / total:.1f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def stop_on_signals(cancel, received: list) -> dict:
    """Make SIGINT/SIGTERM (and SIGBREAK on Windows) set `cancel` (the render stops after the frame in flight) and append
    the signal to `received`; a second signal gets the previous handler. Returns the previous
    handlers (none off the main thread, where signals cannot be handled)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}

    def handler(signum, _frame):
        signal.signal(signum, previous[signum])
        if not cancel.is_set():
            received.append(signum)
            cancel.set()
            click.echo(f"\n{signal.Signals(signum).name}: stopping after the frame in flight "
                       "(send it again to stop at once)", err=True)

    # Windows has no SIGTERM from outside: OpenJD's and Deadline's cancel send CTRL_BREAK_EVENT,
    # which Python delivers as SIGBREAK (Windows only).
    for signum in (signal.SIGINT, signal.SIGTERM) + ((signal.SIGBREAK,) if hasattr(signal, "SIGBREAK") else ()):
        previous[signum] = signal.signal(signum, handler)
    return previous


def render_summary(name: str, report) -> str:
    text = (f"{name}: {len(report.written)} written, {len(report.skipped)} skipped, "
            f"{len(report.failed)} failed of {len(report.frames)} frames in {report.seconds:.1f} s")
    if report.failed:
        text += "; failed: " + ", ".join(str(r.frame) for r in report.failed)
    return text
