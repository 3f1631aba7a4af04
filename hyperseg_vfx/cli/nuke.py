"""`nuke ...`: set up the Nuke plugin."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("nuke")
def nuke_group() -> None:
    """Set up the HyperSeg node in Nuke."""


@nuke_group.command("install")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace files in FOLDER that differ from the ones installed.")
def install_command(folder: Path, force: bool) -> None:
    """Copy the Nuke plugin and its gizmo into FOLDER (e.g. ~/.nuke/hyperseg) and record this
    hyperseg-vfx's command there, for the bridge the node starts. Then put FOLDER on NUKE_PATH."""
    from ..nuke_install import COMMAND_FILE, install_nuke_plugin

    target, written = install_nuke_plugin(folder, force=force)
    for path in written:
        click.echo(f"wrote {path}")
    if not written:
        click.echo(f"{target}: already up to date")
    click.echo(f"\nThe node runs {target / COMMAND_FILE}'s command to start a bridge. Put the folder on Nuke's "
               f"plugin path:\n  Linux/macOS: export NUKE_PATH=\"{target}\"\n"
               f"  Windows:     setx NUKE_PATH \"{target}\"\n"
               f"or add this line to ~/.nuke/init.py:\n  nuke.pluginAddPath(\"{target.as_posix()}\")")
