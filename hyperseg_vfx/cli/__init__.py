"""The `hyperseg-vfx` command line: one module per group of commands.

Every command imports its heavy modules (torch, OpenImageIO) inside its body, so `--help` is
instant and a command pays only for what it uses. Errors that are the user's to fix
(HypersegError) print one line and exit with 2; Ctrl-C (SIGINT) exits with 130, as a shell reports
a process the signal ended (render and serve stop cleanly first; the other commands stop where
they are).
"""

from __future__ import annotations

import click

from .. import __version__
from ..errors import HypersegError
from .bench import bench, bench_bridge
from .demo import demo
from .evaluation import evaluate_command
from .farm import farm_group, submit
from .models import checkpoint, fetch_weights
from .nuke import nuke_group
from .serve import serve
from .shots import preview, render, track
from .training import fit_tucker_command, synth, train, training_curve


#: Exit status of a command stopped by SIGINT (Ctrl-C): 128 + the signal's number, as shells report it.
SIGINT_STATUS = 130


class UserErrorGroup(click.Group):
    """A click group that turns HypersegError into 'Error: ...' and exit status 2, and a
    KeyboardInterrupt (SIGINT) into exit status 130 (click's own handling says "Aborted!" and
    exits 1, which a script cannot tell from a failure)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HypersegError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            click.echo("\nInterrupted (SIGINT)", err=True)
            ctx.exit(SIGINT_STATUS)


@click.group(cls=UserErrorGroup)
@click.version_option(__version__, prog_name="hyperseg-vfx")
def main() -> None:
    """HyperSeg interactive segmentation for VFX: clicks in, full-resolution EXR mattes out."""


for command in (fetch_weights, checkpoint, bench, bench_bridge, render, track, preview, demo, evaluate_command,
                synth, fit_tucker_command, train, training_curve, serve, submit, farm_group, nuke_group):
    main.add_command(command)
