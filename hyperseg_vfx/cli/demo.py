"""`demo`: a synthetic shot rendered end to end, for a first look."""

from __future__ import annotations

from pathlib import Path

import click

from .options import DEVICE_OPTION, parse_size
from .progress import RenderOutput, render_summary


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("hyperseg_demo"),
              show_default=True, help="Folder for the demo shot, its mattes and contact sheet.")
@click.option("--size", default="192x144", show_default=True,
              help="Plate size WIDTHxHEIGHT (the bundled demo model was trained at 192x144).")
@click.option("--frames", "frame_count", type=click.IntRange(1), default=8, show_default=True,
              help="Number of frames (1001 on).")
@click.option("--checkpoint", "checkpoint_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Model to use (default: the bundled default model, else an untrained one).")
@DEVICE_OPTION
@click.option("--force", is_flag=True, help="Write into a non-empty folder that is not a previous demo output.")
def demo(out: Path, size: str, frame_count: int, checkpoint_path: Path | None, device: str, force: bool) -> None:
    """Generate a synthetic shot, render its mattes and a contact sheet."""
    from ..demo import DEMO_MODEL_NOTICE, UNTRAINED_WARNING, prepare_demo_folder, untrained_demo_model, write_demo_shot
    from ..preview import default_preview_path, write_contact_sheet
    from ..render import DEFAULT_CHECKPOINT, render_shot
    from ..segmenter import Segmenter
    from ..shot import load_shot

    width, height = parse_size(size)
    folder = prepare_demo_folder(out, force)
    checkpoint_path = checkpoint_path or (DEFAULT_CHECKPOINT if DEFAULT_CHECKPOINT.is_file() else None)
    cache_bytes = 256 * 1024**2  # the click robot segments each frame several times
    if checkpoint_path is not None:
        segmenter = Segmenter.from_checkpoint(checkpoint_path, device=device, cache_bytes=cache_bytes)
    else:
        click.echo("No default model installed: building an untrained one (random weights) ...", err=True)
        segmenter = Segmenter(untrained_demo_model(), device=device, cache_bytes=cache_bytes,
                              metadata={"name": "untrained-random0", "trained": False})
    untrained = not segmenter.metadata.get("trained", True)
    if untrained:
        click.echo(UNTRAINED_WARNING, err=True)
    elif segmenter.metadata.get("synthetic_demo"):
        click.echo(f"Model {segmenter.model_name}: {DEMO_MODEL_NOTICE}", err=True)
    click.echo(f"Writing a {frame_count}-frame synthetic {width}x{height} clip to {folder / 'clip'} and placing "
               "clicks where the matte is wrong (the evaluation's next-click robot) ...", err=True)
    shot_path = write_demo_shot(folder, segmenter, frames=frame_count, size=(width, height))
    shot = load_shot(shot_path)
    output = RenderOutput(len(shot.frames), "demo", openjd=False)
    try:
        report = render_shot(shot, segmenter, progress=output)
    finally:
        output.close()
    click.echo(render_summary("demo", report), err=True)
    sheet_path = default_preview_path(shot)
    write_contact_sheet(shot, sheet_path)
    click.echo(f"shot file:     {shot_path}")
    click.echo(f"plates:        {shot.input}")
    click.echo(f"mattes (EXR):  {shot.output}")
    click.echo(f"contact sheet: {sheet_path}")
    if untrained:
        click.echo(UNTRAINED_WARNING)
    elif segmenter.metadata.get("synthetic_demo"):
        click.echo(f"Model {segmenter.model_name}: {DEMO_MODEL_NOTICE}")
    if not report.ok:
        click.get_current_context().exit(1)
