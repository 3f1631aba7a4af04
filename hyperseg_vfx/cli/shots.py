"""`render`, `track` and `preview`: the commands that work on a shot file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from ..errors import HypersegError
from .options import DEVICE_OPTION
from .progress import RenderOutput, render_summary, stop_on_signals


def _load_shot_for_command(shot_file: Path, frames: str | None, checkpoint: Path | None = None,
                           path_mapping_rules: Path | None = None):
    """The shot, fully validated (files included) with `checkpoint` replacing the shot's and
    the paths in it mapped by the rules file `path_mapping_rules` (pathmapping-1.0 JSON)."""
    import dataclasses

    from ..pathmapping import load_path_mapping
    from ..shot import check_shot_files, load_shot

    mapping = load_path_mapping(path_mapping_rules) if path_mapping_rules is not None else None
    try:
        shot = load_shot(shot_file, frames=frames, check_files=False, path_mapping=mapping)
    except OSError as exc:
        raise HypersegError(f"cannot read shot file {shot_file}: {exc.strerror or exc}") from None
    if checkpoint is not None:
        shot = dataclasses.replace(shot, checkpoint=str(checkpoint.absolute()))
    check_shot_files(shot)
    return shot


@click.command()
@click.argument("shot_file", metavar="SHOT", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--frames", "frame_spec", default=None,
              help="Frames to render instead of the shot's, e.g. 1001-1050 (a farm chunk).")
@click.option("--checkpoint", "checkpoint_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Model to use (default: the shot's `checkpoint`, else the bundled default model).")
@DEVICE_OPTION
@click.option("--skip-existing", is_flag=True, help="Keep outputs that exist and open cleanly; render the rest.")
@click.option("--continue-on-error", is_flag=True,
              help="Report a failed frame and go on (exit 1 at the end) instead of stopping at it.")
@click.option("--openjd-progress", is_flag=True, help="Also print `openjd_progress: N` lines on stdout.")
@click.option("--preview", is_flag=True, help="Afterwards write <output folder>/<shot name>_preview.png.")
@click.option("--path-mapping-rules", "path_mapping_rules", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="OpenJD pathmapping-1.0 JSON file: map the shot's paths to this machine's "
                                 "(what a farm worker passes, e.g. {{Session.PathMappingRulesFile}}).")
@click.option("--gpu-list-env", "gpu_list_env", default=None, metavar="NAME",
              help="Use only the GPUs listed in $NAME (e.g. OpenCue's CUE_GPU_CORES): sets CUDA_VISIBLE_DEVICES.")
@click.option("--overwrite", is_flag=True,
              help="Let outputs replace existing files that are not mattes hyperseg-vfx wrote (refused otherwise).")
def render(shot_file: Path, frame_spec: str | None, checkpoint_path: Path | None, device: str,
           skip_existing: bool, continue_on_error: bool, openjd_progress: bool, preview: bool,
           path_mapping_rules: Path | None, gpu_list_env: str | None, overwrite: bool) -> None:
    """Render a shot's mattes: one EXR per frame.

    \b
    Exit status:
      0    every frame has its matte
      1    some frames failed (--continue-on-error, or the render stopped at the first failure)
      2    bad input or set-up, nothing rendered: invalid shot, missing plate, an output that
           would replace a file hyperseg-vfx did not write, an output folder that cannot be written
      130  stopped by SIGINT (Ctrl-C) or CTRL_BREAK (Windows) after the frame in flight
      143  stopped by SIGTERM after the frame in flight
    """
    import threading

    if gpu_list_env:
        from ..farm.gpus import restrict_gpus_from_env

        gpus = restrict_gpus_from_env(gpu_list_env)
        click.echo(f"GPUs: CUDA_VISIBLE_DEVICES={gpus} (from ${gpu_list_env})" if gpus else
                   f"GPUs: ${gpu_list_env} is not set; every visible GPU may be used", err=True)
    from ..render import check_outputs, render_segmenter, render_shot, resolve_checkpoint

    shot = _load_shot_for_command(shot_file, frame_spec, checkpoint_path, path_mapping_rules)
    if overwrite:
        shot = dataclasses.replace(shot, overwrite=True)
    if not skip_existing:  # before loading the model; render_shot checks again (after --skip-existing's choice)
        check_outputs(shot)
    from ..devices import check_precision, resolve_device

    check_precision(resolve_device(device), shot.options.precision)  # before loading the model too
    segmenter = render_segmenter(resolve_checkpoint(shot), device)
    name = shot_file.stem
    click.echo(f"Rendering {name}: {len(shot.frames)} frames with {segmenter.model_name} on {segmenter.device}",
               err=True)
    cancel, received = threading.Event(), []
    output = RenderOutput(len(shot.frames), name, openjd_progress)
    previous = stop_on_signals(cancel, received)
    try:
        report = render_shot(shot, segmenter, skip_existing=skip_existing,
                             continue_on_error=continue_on_error, progress=output, cancel=cancel)
    finally:
        output.close()
        import signal

        for signum, handler in previous.items():
            signal.signal(signum, handler)
    click.echo(render_summary(name, report), err=True)
    ctx = click.get_current_context()
    if report.cancelled:
        click.echo(f"stopped by a signal; {len(report.not_done)} frames not rendered", err=True)
        ctx.exit(128 + (received[0] if received else 15))
    if report.stopped:
        click.echo("stopped at the first failure (--continue-on-error renders the other frames)", err=True)
    if preview:
        from ..preview import default_preview_path, write_contact_sheet

        sheet_path = default_preview_path(shot)
        write_contact_sheet(shot, sheet_path)
        click.echo(f"contact sheet: {sheet_path}", err=True)
    if not report.ok:
        ctx.exit(1)


@click.command()
@click.argument("shot_file", metavar="SHOT", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The tracked shot file to write (never the input shot file).")
@click.option("--frames", "frame_spec", default=None,
              help="Frames to track (default: the shot's); keys on other frames are kept as they are.")
@click.option("--output", "output_pattern", default=None, metavar="PATTERN",
              help="Matte pattern of the tracked shot (default: the shot's with `_tracked` added to the file "
                   "name, so rendering it keeps the untracked mattes).")
@click.option("--checkpoint", "checkpoint_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Model the clicks are checked with (default: the shot's `checkpoint`, else the bundled model).")
@DEVICE_OPTION
@click.option("--overwrite", is_flag=True, help="Let --out replace an existing file (refused otherwise).")
def track(shot_file: Path, out_file: Path, frame_spec: str | None, output_pattern: str | None,
          checkpoint_path: Path | None, device: str, overwrite: bool) -> None:
    """Carry the clicks from their artist keys to every frame, following the object.

    Clicks are carried forward and backward from the nearest artist keyframe with the motion
    measured on the plates and checked against the mattes; tracked keys are rounded to 1/1000 px.
    The tracked shot renders to its own mattes (--output). Exit status: 0 written, 2 bad input
    (no artist keys, missing plates, an --out that exists without --overwrite; nothing written).
    """
    import os

    from ..door import ANYWHERE
    from ..render import render_segmenter, resolve_checkpoint
    from ..sequences import parse_frame_spec
    from ..shot import ShotError, load_shot, save_shot
    from ..tracking import track_shot

    if out_file.resolve() == shot_file.resolve():
        raise HypersegError(f"--out {out_file} is the input shot file; write the tracked shot elsewhere")
    ANYWHERE.check_output(out_file, "out", replace=overwrite)  # before any work: the no-overwrite rule
    try:
        shot = load_shot(shot_file, check_files=False)
        frames = None if frame_spec is None else parse_frame_spec(frame_spec)
    except OSError as exc:
        raise HypersegError(f"cannot read shot file {shot_file}: {exc.strerror or exc}") from None
    except ShotError:  # names its own field (a ValueError too, but not --frames')
        raise
    except ValueError as exc:
        raise HypersegError(f"--frames: {exc}") from None
    segmenter = render_segmenter(resolve_checkpoint(shot, checkpoint_path), device)
    count = len(frames or shot.frames)
    clicks = [(f"clicks[{i}]", c) for i, c in enumerate(shot.clicks)] or [
        (f"objects.{o.name}.clicks[{i}]", c) for o in shot.objects for i, c in enumerate(o.clicks)]
    click.echo(f"Tracking {shot_file.stem}: {len(clicks)} clicks over {count} frames with "
               f"{segmenter.model_name} on {segmenter.device}", err=True)
    progress = lambda frame, done, total: click.echo(f"frame {frame}  tracked  ({done}/{total})", err=True)  # noqa: E731
    output = None if output_pattern is None else os.path.abspath(output_pattern)
    result = track_shot(shot, segmenter, frames=frames, progress=progress, output=output)
    save_shot(result.shot, out_file, overwrite=overwrite)
    labels = {name: "positive" if c.positive else "negative" for name, c in clicks}
    click.echo(f"tracked {len(clicks)} clicks over {count} frames from keyframes "
               f"{', '.join(map(str, result.keyframes))}: {len(result.moves)} moved back onto the object, "
               f"{len(result.drops)} dropped, {len(result.unverified)} kept unverified", err=True)
    for index, frame, reason in result.drops:
        name = index if isinstance(index, str) else f"clicks[{index}]"  # objects' clicks are named
        click.echo(f"  {name} ({labels[name]}) dropped from frame {frame} on: {reason}", err=True)
    click.echo(f"wrote {out_file} (mattes: {result.shot.output})")


@click.command()
@click.argument("shot_file", metavar="SHOT", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The contact sheet to write (.png).")
@click.option("--frames", "frame_spec", default=None, help="Frames to sample from (default: the shot's).")
@click.option("--count", type=click.IntRange(1), default=6, show_default=True, help="Frames on the sheet.")
def preview(shot_file: Path, out: Path, frame_spec: str | None, count: int) -> None:
    """Write a contact sheet of a shot: plates, rendered mattes as a red tint, clicks as dots."""
    from ..preview import write_contact_sheet
    from ..shot import load_shot

    try:
        shot = load_shot(shot_file, frames=frame_spec, check_files=False)
    except OSError as exc:
        raise HypersegError(f"cannot read shot file {shot_file}: {exc.strerror or exc}") from None
    sheet = write_contact_sheet(shot, out, count=count)
    note = f" ({len(sheet.missing)} without a matte: {', '.join(map(str, sheet.missing))})" if sheet.missing else ""
    click.echo(f"Wrote {out}: frames {', '.join(map(str, sheet.frames))}{note}")
