"""`submit` and `farm ...`: render jobs for farm engines."""

from __future__ import annotations

from pathlib import Path

import click

#: `submit`'s exit status when the job files were written but no engine took the job.
NOT_SUBMITTED = 3


@click.command()
@click.argument("shot_file", metavar="SHOT", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--farm", required=True, metavar="FARM",
              help="openjd, deadline-cloud, opencue or deadline10.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the job files (default: <shot folder>/farm/<shot name>_<farm>/).")
@click.option("--frames", "frame_spec", default=None,
              help="Render only these of the shot's frames, e.g. 1001-1050 (default: all of them).")
@click.option("--chunk-size", type=int, default=10, show_default=True, help="Frames per task.")
@click.option("--gpus", type=int, default=0, show_default=True, help="GPUs each task needs (0: any host).")
@click.option("--priority", type=int, default=50, show_default=True, help="Job priority, 0-100.")
@click.option("--name", default=None, help="Job name (default: hyperseg_<shot name>).")
@click.option("--show", default=None, help="OpenCue: the show the job is filed under (default: the shot's "
                                           "`farm.show`, else $SHOW, else pyoutline's default show).")
@click.option("--shot", "farm_shot", default=None, help="OpenCue: the shot the job is filed under (default: the "
                                                        "shot's `farm.shot`, else the shot file's name).")
@click.option("--user", default=None, help="OpenCue: the job's owner (default: the shot's `farm.user`, else the "
                                           "login name).")
@click.option("--dry-run", is_flag=True, help="Write the job files, do not submit them.")
@click.option("--run-local", is_flag=True, help="openjd only: run the bundle on this machine with `openjd run`.")
@click.option("--overwrite", is_flag=True,
              help="Replace files in the job folder that hyperseg-vfx did not write or that were edited since.")
def submit(shot_file: Path, farm: str, out_dir: Path | None, frame_spec: str | None, chunk_size: int, gpus: int,
           priority: int, name: str | None, show: str | None, farm_shot: str | None, user: str | None, dry_run: bool,
           run_local: bool, overwrite: bool) -> None:
    """Write a shot's render job for a farm engine and submit it with the engine's own tools.

    Each task runs `hyperseg-vfx render SHOT --frames CHUNK` ($HYPERSEG_VFX_COMMAND names the
    executable on the workers); with --gpus N it adds `--device cuda`.

    \b
    Exit status:
      0  the engine accepted the job (--run-local: the bundle ran here), or --dry-run wrote it
      2  bad input, or the engine refused the job; nothing was submitted
      3  the job files were written but not submitted: the engine's tool is missing or not
         set up here (deadline, deadlinecommand, CUEBOT_HOSTS), or an openjd bundle that
         only `openjd run` or `deadline bundle submit` can take; the command to run is printed
    """
    import shlex

    from ..farm import submit_shot

    result = submit_shot(shot_file, farm, out_dir=out_dir, chunk_size=chunk_size, gpus=gpus, priority=priority,
                         name=name, dry_run=dry_run, run_local=run_local, overwrite=overwrite, frames=frame_spec,
                         show=show, farm_shot=farm_shot, user=user)
    for path in result.files:
        click.echo(f"wrote {path}")
    click.echo(result.message)
    if result.command and not result.submitted:
        click.echo(f"  {shlex.join(result.command)}")
    if not (result.submitted or dry_run):
        click.get_current_context().exit(NOT_SUBMITTED)


@click.group("farm")
def farm_group() -> None:
    """Set up render farms for hyperseg-vfx jobs."""


@farm_group.command("install-deadline-plugin")
@click.argument("repository", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace plugin files that differ from the shipped ones.")
def install_deadline_plugin_command(repository: Path, force: bool) -> None:
    """Copy the HyperSeg plugin into a Deadline 10 REPOSITORY (custom/plugins/HyperSeg/)."""
    from ..farm.install import install_deadline_plugin

    target, written = install_deadline_plugin(repository, force=force)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"The HyperSeg plugin is installed in {target}" + ("" if written else " (already up to date)")
               + "; set its executable in Monitor > Tools > Configure Plugins > HyperSeg.")
