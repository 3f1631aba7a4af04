"""The `hyperseg-vfx` command line.

Every command imports its heavy modules (torch, OpenImageIO) inside its body, so `--help` is
instant. Errors that are the user's to fix (HypersegError) print one line and exit with 2.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

from . import __version__
from .errors import HypersegError

DEVICE_OPTION = click.option(
    "--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]),
    help="auto picks CUDA when a GPU is visible.",
)


class UserErrorGroup(click.Group):
    """A click group that turns HypersegError into 'Error: ...' and exit status 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HypersegError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=UserErrorGroup)
@click.version_option(__version__, prog_name="hyperseg-vfx")
def main() -> None:
    """HyperSeg interactive segmentation for VFX: clicks in, full-resolution EXR mattes out."""


@main.command("fetch-weights")
@click.option("--dest", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to put the file (default: the torch hub cache, where `imagenet` looks).")
def fetch_weights(dest: Path | None) -> None:
    """Download torchvision's VGG-19 ImageNet weights (needs internet; run once per machine)."""
    from .modeling.backbone import VGG19_IMAGENET_URL, fetch_imagenet_weights

    click.echo(f"Downloading {VGG19_IMAGENET_URL} ...")
    try:
        path = fetch_imagenet_weights(dest)
    except OSError as exc:
        raise HypersegError(f"download of {VGG19_IMAGENET_URL} failed: {exc}") from None
    click.echo(f"VGG-19 ImageNet weights are at {path}")
    click.echo("Models with backbone weights 'imagenet' find them there (or set HYPERSEG_VGG19_WEIGHTS to the file).")


@main.group()
def checkpoint() -> None:
    """Create and inspect model checkpoints."""


@checkpoint.command("init")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the network weights.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Model config YAML (default: the paper's architecture).")
@click.option("--backbone", default=None, help="Backbone weights spec: imagenet, imagenet:PATH or random:SEED.")
@click.option("--tucker-frames", type=int, default=8, show_default=True,
              help="Generated plates the Tucker factors are fitted on.")
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
def checkpoint_init(out: Path, seed: int, config_file: Path | None, backbone: str | None, tucker_frames: int, force: bool) -> None:
    """Write an untrained checkpoint (Tucker factors fitted on generated plates)."""
    from .checkpoint import save_checkpoint
    from .config import ModelConfig
    from .modeling.factory import build_untrained

    if out.exists() and not force:
        raise HypersegError(f"{out} already exists (use --force to overwrite it)")
    config = ModelConfig.from_yaml(config_file) if config_file else ModelConfig()
    if backbone:
        config.backbone.weights = backbone
    model = build_untrained(config, seed, tucker_frames)
    metadata = {"name": f"untrained-seed{seed}", "trained": False,
                "description": "untrained: network weights are random; Tucker factors fitted on generated plates",
                "seed": seed}
    save_checkpoint(model, out, metadata)
    click.echo(f"Wrote untrained checkpoint {out} (backbone {config.backbone.weights}, seed {seed})")


@checkpoint.command("info")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def checkpoint_info(path: Path, as_json: bool) -> None:
    """Print what a checkpoint holds."""
    from .checkpoint import describe_checkpoint

    info = describe_checkpoint(path)
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    net = info["network"]
    meta = info["metadata"]
    lines = [
        f"file:            {info['file']}",
        f"name:            {meta.get('name', '-')}",
        f"description:     {meta.get('description', '-')}",
        f"format:          version {info['format_version']} (written by hyperseg-vfx {info['package_version']})",
        f"backbone:        VGG-19 taps {', '.join(info['taps'])}; weights {info['backbone_weights']}; "
        f"tessellation {'on' if info['tessellate'] else 'off'}",
        f"tucker ranks:    {info['tucker_ranks']} (D_phi = {sum(info['tucker_ranks'])})",
        f"network:         width {net['width']}, dilations {net['dilations']}, {net['candidates']} candidates, "
        f"context skips {'on' if net['context_skips'] else 'off'}, {net['parameters']:,} parameters",
        f"click maps:      radius {info['context']['click_radius']} px, truncation {info['context']['distance_truncation']} px "
        f"at short side {info['context']['reference_short_side']}",
        f"refinement:      {_refinement_line(info['refine'])}",
        f"working size:    {_working_size_line(info['working_short_side'])}",
    ]
    extra = {k: v for k, v in meta.items() if k not in ("name", "description")}
    lines += [f"{k + ':':<17}{v}" for k, v in extra.items()]
    click.echo("\n".join(lines))


def _refinement_line(refine: dict) -> str:
    if not refine["radius"]:
        return "none (the network's candidates as they are)"
    return (f"guided filter, radius {refine['radius']:g} px at short side {refine['reference_short_side']}, "
            f"eps {refine['eps']:g}")


def _working_size_line(short_side: int | None) -> str:
    if short_side is None:
        return "native (backbone and network at the plate's own resolution)"
    return f"short side {short_side} px (larger plates: network at this size, guided upsampling to full resolution)"


@checkpoint.command("set-working-size")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--short-side", type=click.IntRange(16), default=None,
              help="Short side (px) that backbone and network run at on larger plates.")
@click.option("--native", is_flag=True, help="Run at every plate's own resolution (the paper's model).")
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
def checkpoint_set_working_size(source: Path, out: Path, short_side: int | None, native: bool, force: bool) -> None:
    """Copy a checkpoint with another working resolution (the network's weights are unchanged)."""
    from .checkpoint import load_checkpoint, save_checkpoint

    if native == (short_side is not None):
        raise click.UsageError("give exactly one of --short-side N and --native")
    if out.exists() and not force:
        raise HypersegError(f"{out} already exists (use --force to overwrite it)")
    model, metadata = load_checkpoint(source)
    model.config.working_short_side = short_side
    model.config.validate()
    save_checkpoint(model, out, metadata)
    click.echo(f"Wrote {out}: {source} with working size {_working_size_line(short_side)}")


@checkpoint.command("set-refine")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--radius", type=float, required=True,
              help="Guided-filter radius in px at --reference-short-side (0: no refinement).")
@click.option("--eps", type=float, default=1e-3, show_default=True,
              help="Regulariser in squared [0, 1] RGB units; smaller snaps harder to colour edges.")
@click.option("--reference-short-side", type=int, default=1080, show_default=True,
              help="Short side (px) of the frames the radius is given for; it scales with the frame.")
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
def checkpoint_set_refine(source: Path, out: Path, radius: float, eps: float, reference_short_side: int, force: bool) -> None:
    """Copy a checkpoint with another edge refinement (the network's weights are unchanged)."""
    from .checkpoint import load_checkpoint, save_checkpoint
    from .config import RefineConfig

    if out.exists() and not force:
        raise HypersegError(f"{out} already exists (use --force to overwrite it)")
    model, metadata = load_checkpoint(source)
    model.config.refine = RefineConfig(radius, eps, reference_short_side)
    model.config.validate()
    save_checkpoint(model, out, metadata)
    click.echo(f"Wrote {out}: {source} with refinement {_refinement_line(dataclasses.asdict(model.config.refine))}")


@main.command()
@click.option("--width", type=click.IntRange(1), default=1920, show_default=True)
@click.option("--height", type=click.IntRange(1), default=1080, show_default=True)
@DEVICE_OPTION
@click.option("--checkpoint", "checkpoint_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Model to time (default: an untrained model of the paper's architecture, random backbone).")
@click.option("--repeats", type=click.IntRange(1), default=1, show_default=True, help="Timed runs; the best is reported.")
@click.option("--compare-native", is_flag=True,
              help="For a model with a working size, also time it at the plate's own resolution.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench(width: int, height: int, device: str, checkpoint_path: Path | None, repeats: int, compare_native: bool,
          as_json: bool) -> None:
    """Time a full frame and a click update; compare with the FLOP floor; report peak memory."""
    from .bench import run_benchmark
    from .segmenter import Segmenter

    if checkpoint_path:
        segmenter = Segmenter.from_checkpoint(checkpoint_path, device=device)
    else:
        from .config import ModelConfig
        from .modeling.factory import build_untrained

        config = ModelConfig()
        config.backbone.weights = "random:0"
        segmenter = Segmenter(build_untrained(config, seed=0, tucker_frames=1), device=device)
    if not as_json:
        click.echo(f"Benchmarking {width}x{height} on {segmenter.device} (warm-up first) ...", err=True)
    result = run_benchmark(segmenter, width, height, repeats, compare_native)
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(_bench_text(result))
    if "native" in result:
        click.echo(f"same model at the plate's resolution:\n{_bench_text(result['native'])}\n"
                   f"  speed-up:     full frame {result['full_frame_speedup']:.1f}x, "
                   f"click update {result['click_update_speedup']:.1f}x")


def _bench_text(result: dict) -> str:
    working = ("native resolution" if result["working_short_side"] is None else
               f"working size {result['working_width']}x{result['working_height']}")
    return (
        f"{result['width']}x{result['height']} on {result['device']} ({result['threads']} threads, {result['compute_dtype']}, "
        f"{working}, {result['tiles']} tiles)\n"
        f"  full frame:   {result['full_frame_s']:.3f} s  {result['full_frame_gflop']:.0f} GFLOP  "
        f"{result['full_frame_floor_ratio']:.2f}x floor\n"
        f"  click update: {result['click_update_s']:.3f} s  {result['click_update_gflop']:.0f} GFLOP  "
        f"{result['click_update_floor_ratio']:.2f}x floor\n"
        f"  stages:       " + ", ".join(f"{k} {v:.3f} s" for k, v in result["stage_s"].items()) + "\n"
        f"  update:       " + ", ".join(f"{k} {v:.3f} s" for k, v in result["click_update_stage_s"].items()) + "\n"
        f"  matmul rate:  {result['matmul_gflops']:.0f} GFLOP/s\n"
        f"  peak RSS:     {result['peak_rss_bytes'] / 2**30:.2f} GiB\n"
        f"  literal path would need {result['literal_path']['hypercolumn_bytes'] / 2**30:.1f} GiB of hypercolumns and "
        f"{result['literal_path']['projection_gflop']:.0f} GFLOP for its projection"
    )


@main.command("bench-bridge")
@click.option("--width", type=click.IntRange(16), default=1920, show_default=True)
@click.option("--height", type=click.IntRange(16), default=1080, show_default=True)
@DEVICE_OPTION
@click.option("--checkpoint", "checkpoint_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Model the bridge serves (default: the bundled default model).")
@click.option("--clicks", type=click.IntRange(1), default=10, show_default=True, help="Click updates timed.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench_bridge(width: int, height: int, device: str, checkpoint_path: Path | None, clicks: int, as_json: bool) -> None:
    """Time click updates through a real bridge: round trip against the network time."""
    from .bridge.bench import run_bridge_benchmark

    if not as_json:
        click.echo(f"Starting a bridge and timing {clicks} click updates at {width}x{height} ...", err=True)
    result = run_bridge_benchmark(width, height, checkpoint_path, device, clicks)
    if as_json:
        click.echo(json.dumps(result))
        return
    ms = lambda name, key="median": f"{result[name][key] * 1000:.1f} ms"  # noqa: E731
    click.echo(
        f"{width}x{height} on {result['device']}, model {result['model']}, {clicks} click updates (median; p90)\n"
        f"  round trip:  {ms('round_trip_s')}; {ms('round_trip_s', 'p90')}\n"
        f"  network:     {ms('network_s')}; {ms('network_s', 'p90')}\n"
        f"  refinement:  {ms('refine_s')}; {ms('refine_s', 'p90')}\n"
        f"  overhead:    {ms('overhead_s')}; {ms('overhead_s', 'p90')} (round trip - network - refinement)\n"
        f"    EXR write: {ms('write_s')}; server other {ms('server_other_s')}; HTTP and JSON {ms('http_s')}\n"
        f"  first click (features computed): {result['first_click_s']:.2f} s"
    )


class _RenderOutput:
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


def _stop_on_signals(cancel, received: list) -> dict:
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


def _summary(name: str, report) -> str:
    text = (f"{name}: {len(report.written)} written, {len(report.skipped)} skipped, "
            f"{len(report.failed)} failed of {len(report.frames)} frames in {report.seconds:.1f} s")
    if report.failed:
        text += "; failed: " + ", ".join(str(r.frame) for r in report.failed)
    return text


def _load_shot_for_command(shot_file: Path, frames: str | None, checkpoint: Path | None = None,
                           path_mapping_rules: Path | None = None):
    """The shot, fully validated (files included) with `checkpoint` replacing the shot's and
    the paths in it mapped by the rules file `path_mapping_rules` (pathmapping-1.0 JSON)."""
    import dataclasses

    from .pathmapping import load_path_mapping
    from .shot import check_shot_files, load_shot

    mapping = load_path_mapping(path_mapping_rules) if path_mapping_rules is not None else None
    try:
        shot = load_shot(shot_file, frames=frames, check_files=False, path_mapping=mapping)
    except OSError as exc:
        raise HypersegError(f"cannot read shot file {shot_file}: {exc.strerror or exc}") from None
    if checkpoint is not None:
        shot = dataclasses.replace(shot, checkpoint=str(checkpoint.absolute()))
    check_shot_files(shot)
    return shot


@main.command()
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
        from .farm.gpus import restrict_gpus_from_env

        gpus = restrict_gpus_from_env(gpu_list_env)
        click.echo(f"GPUs: CUDA_VISIBLE_DEVICES={gpus} (from ${gpu_list_env})" if gpus else
                   f"GPUs: ${gpu_list_env} is not set; every visible GPU may be used", err=True)
    from .render import check_outputs, render_segmenter, render_shot, resolve_checkpoint

    shot = _load_shot_for_command(shot_file, frame_spec, checkpoint_path, path_mapping_rules)
    if overwrite:
        shot = dataclasses.replace(shot, overwrite=True)
    if not skip_existing:  # before loading the model; render_shot checks again (after --skip-existing's choice)
        check_outputs(shot)
    segmenter = render_segmenter(resolve_checkpoint(shot), device)
    name = shot_file.stem
    click.echo(f"Rendering {name}: {len(shot.frames)} frames with {segmenter.model_name} on {segmenter.device}",
               err=True)
    cancel, received = threading.Event(), []
    output = _RenderOutput(len(shot.frames), name, openjd_progress)
    previous = _stop_on_signals(cancel, received)
    try:
        report = render_shot(shot, segmenter, skip_existing=skip_existing,
                             continue_on_error=continue_on_error, progress=output, cancel=cancel)
    finally:
        output.close()
        import signal

        for signum, handler in previous.items():
            signal.signal(signum, handler)
    click.echo(_summary(name, report), err=True)
    ctx = click.get_current_context()
    if report.cancelled:
        click.echo(f"stopped by a signal; {len(report.not_done)} frames not rendered", err=True)
        ctx.exit(128 + (received[0] if received else 15))
    if report.stopped:
        click.echo("stopped at the first failure (--continue-on-error renders the other frames)", err=True)
    if preview:
        from .preview import default_preview_path, write_contact_sheet

        sheet_path = default_preview_path(shot)
        write_contact_sheet(shot, sheet_path)
        click.echo(f"contact sheet: {sheet_path}", err=True)
    if not report.ok:
        ctx.exit(1)


@main.command()
@click.argument("shot_file", metavar="SHOT", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The tracked shot file to write (never the input shot file).")
@click.option("--frames", "frame_spec", default=None,
              help="Frames to track (default: the shot's); keys on other frames are kept as they are.")
@click.option("--checkpoint", "checkpoint_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Model the clicks are checked with (default: the shot's `checkpoint`, else the bundled model).")
@DEVICE_OPTION
def track(shot_file: Path, out_file: Path, frame_spec: str | None, checkpoint_path: Path | None, device: str) -> None:
    """Carry the clicks from their artist keys to every frame, following the object.

    Clicks are carried forward and backward from the nearest artist keyframe with the motion
    measured on the plates and checked against the mattes. Exit status: 0 written, 2 bad input
    (no artist keys, missing plates; nothing written).
    """
    from .render import render_segmenter, resolve_checkpoint
    from .sequences import parse_frame_spec
    from .shot import load_shot, save_shot
    from .tracking import track_shot

    if out_file.resolve() == shot_file.resolve():
        raise HypersegError(f"--out {out_file} is the input shot file; write the tracked shot elsewhere")
    try:
        shot = load_shot(shot_file, check_files=False)
        frames = None if frame_spec is None else parse_frame_spec(frame_spec)
    except OSError as exc:
        raise HypersegError(f"cannot read shot file {shot_file}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise HypersegError(f"--frames: {exc}") from None
    segmenter = render_segmenter(resolve_checkpoint(shot, checkpoint_path), device)
    count = len(frames or shot.frames)
    click.echo(f"Tracking {shot_file.stem}: {len(shot.clicks)} clicks over {count} frames with "
               f"{segmenter.model_name} on {segmenter.device}", err=True)
    progress = lambda frame, done, total: click.echo(f"frame {frame}  tracked  ({done}/{total})", err=True)  # noqa: E731
    result = track_shot(shot, segmenter, frames=frames, progress=progress)
    save_shot(result.shot, out_file)
    labels = ["positive" if c.positive else "negative" for c in shot.clicks]
    click.echo(f"tracked {len(shot.clicks)} clicks over {count} frames from keyframes "
               f"{', '.join(map(str, result.keyframes))}: {len(result.moves)} moved back onto the object, "
               f"{len(result.drops)} dropped, {len(result.unverified)} kept unverified", err=True)
    for index, frame, reason in result.drops:
        click.echo(f"  clicks[{index}] ({labels[index]}) dropped from frame {frame} on: {reason}", err=True)
    click.echo(f"wrote {out_file}")


@main.command()
@click.argument("shot_file", metavar="SHOT", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The contact sheet to write (.png).")
@click.option("--frames", "frame_spec", default=None, help="Frames to sample from (default: the shot's).")
@click.option("--count", type=click.IntRange(1), default=6, show_default=True, help="Frames on the sheet.")
def preview(shot_file: Path, out: Path, frame_spec: str | None, count: int) -> None:
    """Write a contact sheet of a shot: plates, rendered mattes as a red tint, clicks as dots."""
    from .preview import write_contact_sheet
    from .shot import load_shot

    try:
        shot = load_shot(shot_file, frames=frame_spec, check_files=False)
    except OSError as exc:
        raise HypersegError(f"cannot read shot file {shot_file}: {exc.strerror or exc}") from None
    sheet = write_contact_sheet(shot, out, count=count)
    note = f" ({len(sheet.missing)} without a matte: {', '.join(map(str, sheet.missing))})" if sheet.missing else ""
    click.echo(f"Wrote {out}: frames {', '.join(map(str, sheet.frames))}{note}")


def _size(value: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"expected WIDTHxHEIGHT, e.g. 640x360, got {value!r}") from None
    if width < 16 or height < 16:
        raise click.BadParameter(f"{value}: width and height must be at least 16")
    return width, height


@main.command()
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
    from .demo import DEMO_MODEL_NOTICE, UNTRAINED_WARNING, prepare_demo_folder, untrained_demo_model, write_demo_shot
    from .preview import default_preview_path, write_contact_sheet
    from .render import DEFAULT_CHECKPOINT, render_shot
    from .segmenter import Segmenter
    from .shot import load_shot

    width, height = _size(size)
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
    output = _RenderOutput(len(shot.frames), "demo", openjd=False)
    try:
        report = render_shot(shot, segmenter, progress=output)
    finally:
        output.close()
    click.echo(_summary("demo", report), err=True)
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


@main.command("evaluate")
@click.option("--data", "data_spec", required=True,
              help="Samples to evaluate on: clips:ROOT (e.g. from `hyperseg-vfx synth`) or davis:ROOT[...].")
@click.option("--checkpoint", "checkpoints", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="HyperSeg model; repeat to compare several (default: the bundled default model).")
@click.option("--methods", default="hyperseg,random_walk,graph_cut", show_default=True,
              help="Comma-separated: hyperseg, random_walk, graph_cut.")
@click.option("--protocol", type=click.Choice(["fixed", "robot", "track"]), default="fixed", show_default=True,
              help="fixed: 10 robot clicks, at most 5 of each label (the paper's); robot: up to 20 (NoC, mIoU@k); "
                   "track: fixed clicks on each clip's first frame, tracked vs held vs the robot on every frame.")
@click.option("--report", "report_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for report.json, report.md, plots, overlays (and masks).")
@click.option("--save-masks", is_flag=True, help="Also write REPORT/masks/<method>/<clip>/<frame>.png (0/255).")
@click.option("--overlays", type=click.IntRange(0), default=3, show_default=True,
              help="Samples per method with an overlay PNG.")
@click.option("--size", "size_text", default=None,
              help="Resample every sample to WIDTHxHEIGHT first (plates bilinear, truth from the soft matte).")
@DEVICE_OPTION
def evaluate_command(data_spec: str, checkpoints: tuple[Path, ...], methods: str, protocol: str, report_dir: Path,
                     save_masks: bool, overlays: int, size_text: str | None, device: str) -> None:
    """Compare HyperSeg with the Random Walk and Graph Cut baselines under the same robot clicks."""
    from .data.datasets import open_dataset
    from .evaluation import PROTOCOLS, build_methods, evaluate, write_report
    from .evaluation.artifacts import ArtifactWriter
    from .evaluation.report import markdown_table

    kinds = [m.strip() for m in methods.split(",") if m.strip()]
    if "hyperseg" in kinds and not checkpoints:
        from .render import DEFAULT_CHECKPOINT

        if not DEFAULT_CHECKPOINT.is_file():
            raise HypersegError(f"no default model installed ({DEFAULT_CHECKPOINT}): pass --checkpoint FILE")
        checkpoints = (DEFAULT_CHECKPOINT,)
    samples = open_dataset(data_spec)
    if size_text is not None:
        from .data.datasets import resampled

        samples = resampled(samples, *_size(size_text))
        data_spec = f"{data_spec} at {size_text}"
    if protocol == "track":
        return _evaluate_tracking(samples, checkpoints, device, report_dir, data_spec)
    built = build_methods(kinds, checkpoints, device)
    writer = ArtifactWriter(report_dir, samples, save_masks, overlays)

    def progress(result, sample, trial) -> None:
        writer(result, sample, trial)
        click.echo(f"{result.method}  {result.clip} {result.frame}  {len(result.clicks)} clicks  "
                   f"IoU {result.iou:.3f}", err=True)

    click.echo(f"Evaluating {', '.join(built)} on {len(samples)} samples ({protocol} protocol) ...", err=True)
    results = evaluate(samples, built, PROTOCOLS[protocol], on_result=progress)
    report = write_report(report_dir, results, PROTOCOLS[protocol], {n: m.describe() for n, m in built.items()},
                          data_spec)
    click.echo(markdown_table(report["methods"]), nl=False)
    click.echo(f"report: {report_dir / 'report.md'}")


def _evaluate_tracking(samples, checkpoints, device: str, report_dir: Path, data_spec: str) -> None:
    """`evaluate --protocol track`: HyperSeg only (the baselines have no tracking)."""
    import numpy as np

    from .evaluation.tracking_protocol import evaluate_tracking, markdown_table
    from .segmenter import Segmenter

    if len(checkpoints) != 1:
        raise HypersegError("--protocol track evaluates one --checkpoint at a time")
    segmenter = Segmenter.from_checkpoint(checkpoints[0], device=device, cache_bytes=512 * 1024**2)

    def progress(clip: str, scores) -> None:
        if scores is None:
            click.echo(f"{clip}  skipped: no object on its first frame", err=True)
        else:
            click.echo(f"{clip}  " + "  ".join(f"{row} J {np.mean(s.ious):.3f}" for row, s in scores.items()), err=True)

    click.echo(f"Tracking evaluation of {segmenter.model_name} on {data_spec} (baselines are not tracked: "
               "HyperSeg only) ...", err=True)
    report = evaluate_tracking(samples, segmenter, report_dir, data_spec, on_clip=progress)
    click.echo(markdown_table(report["methods"]), nl=False)
    click.echo(f"report: {report_dir / 'report.md'}")


@main.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--clips", type=click.IntRange(1), default=8, show_default=True, help="Number of clips.")
@click.option("--frames", "frame_count", type=click.IntRange(1), default=10, show_default=True,
              help="Frames per clip (numbered from 1001).")
@click.option("--size", default="320x240", show_default=True, help="Frame size WIDTHxHEIGHT.")
@click.option("--seed", type=int, default=0, show_default=True, help="Clips of one seed are always the same.")
@click.option("--greenscreen", is_flag=True, help="Green-screen plates instead of photographic backgrounds.")
@click.option("--generator", type=click.Choice(["photo", "procedural"]), default="photo", show_default=True,
              help="photo: photographs cut by outlines (training data); procedural: a second generator sharing "
                   "no code with it (held-out checks: never train on it).")
def synth(out: Path, clips: int, frame_count: int, size: str, seed: int, greenscreen: bool, generator: str) -> None:
    """Generate synthetic composited clips with exact mattes (the clips:OUT dataset layout)."""
    width, height = _size(size)
    if generator == "procedural":
        from .data.procedural import generate_procedural_clips

        if greenscreen:
            raise click.UsageError("--greenscreen is a photo-generator option")
        folders = generate_procedural_clips(out, clips, frame_count, width, height, seed)
    else:
        from .data.synth import generate_clips

        folders = generate_clips(out, clips, frame_count, width, height, seed, greenscreen)
    click.echo(f"Wrote {len(folders)} clips of {frame_count} frames ({width}x{height}, seed {seed}) to {out}; "
               f"use it as --data clips:{out}")


@main.command("fit-tucker")
@click.option("--data", "data_spec", required=True, help="Frames to fit on: clips:ROOT or davis:ROOT[...].")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The FACTORS file to write.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Training config YAML: its model (backbone, ranks) and data.size are used (default: the paper's model).")
@click.option("--frames", "frame_count", type=click.IntRange(1), default=256, show_default=True,
              help="Distinct frames to fit on, evenly spaced over the dataset.")
@click.option("--size", type=click.IntRange(16), default=None,
              help="Resize frames to this long side first (default: the config's data.size, else full resolution).")
@click.option("--backbone", default=None, help="Backbone weights spec, overriding the config's.")
def fit_tucker_command(data_spec: str, out: Path, config_file: Path | None, frame_count: int, size: int | None,
                       backbone: str | None) -> None:
    """Fit the Tucker factors of a model on a dataset's frames (streaming) and write them."""
    from .config import ModelConfig
    from .data.datasets import open_dataset
    from .modeling.hyperseg import HyperSeg
    from .training.config import TrainConfig
    from .training.tucker_fit import distinct_frames, fit_on_dataset, save_factors

    if config_file:
        train_config = TrainConfig.from_yaml(config_file)
        model_config, size = train_config.model, size or train_config.data.size
    else:
        model_config = ModelConfig()
    if backbone:
        model_config.backbone.weights = backbone
    samples = open_dataset(data_spec)
    count = len(distinct_frames(samples, frame_count))
    click.echo(f"Fitting Tucker ranks {list(model_config.compressed_channels)} on {count} frames of {data_spec} ...",
               err=True)
    model = HyperSeg(model_config)
    fit_on_dataset(model, samples, frame_count, size)
    save_factors(out, model, count, data_spec)
    click.echo(f"Wrote {out}; use it as data.tucker_factors in a training config")


@main.command()
@click.argument("config_file", metavar="CONFIG", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--resume", is_flag=True, help="Continue the run in the config's `out` folder from its last.pt.")
def train(config_file: Path, resume: bool) -> None:
    """Train a model from a YAML config (data, model, optimiser, schedule, loss, clicks, seed).

    Multi-GPU / multi-node: launch with torchrun (WORLD_SIZE > 1 uses DistributedDataParallel).
    """
    from .training.config import TrainConfig
    from .training.train import Trainer

    config = TrainConfig.from_yaml(config_file)
    trainer = Trainer(config, resume=resume)
    if trainer.dist.main:
        click.echo(f"Training {config.metadata.name}: {len(trainer.samples)} samples, steps {trainer.start_step}.."
                   f"{config.schedule.end_step}, {trainer.dist.world} process(es) on {trainer.device}; run folder {config.out}",
                   err=True)
        bar = click.progressbar(length=config.schedule.end_step, label="train", file=sys.stderr, show_pos=True,
                                item_show_func=lambda record: record)
        bar.__enter__()
        bar.update(trainer.start_step)

        def progress(done: int, total: int, record: dict) -> None:
            shown = "  ".join(f"{k} {record[k]:.4g}" for k in ("loss", "iou", "val_iou") if k in record)
            bar.update(1, shown or None)

        trainer.progress = progress
    final = trainer.run()
    if trainer.dist.main:
        bar.__exit__(None, None, None)
        click.echo(f"Wrote {final} (metrics: {Path(config.out) / 'metrics.jsonl'})")


@main.command("training-curve")
@click.argument("metrics", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The PNG to write.")
@click.option("--title", default="", help="Title above the plots.")
def training_curve(metrics: tuple[Path, ...], out: Path, title: str) -> None:
    """Plot loss terms and IoU from metrics.jsonl files (several: stages of one training, in order)."""
    from .training.curve import plot_training_curve

    plot_training_curve(metrics, out, title)
    click.echo(f"Wrote {out}")


@main.command()
@click.option("--host", default=None, show_default="127.0.0.1",
              help="Address to bind. Anything but 127.0.0.1, ::1 or localhost requires --token-file.")
@click.option("--port", type=click.IntRange(0, 65535), default=None, show_default="8765")
@click.option("--checkpoint", "checkpoint_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Model to serve (default: the bundled default model).")
@DEVICE_OPTION
@click.option("--allow-root", "allow_roots", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="A folder request paths may lie in (repeat for more; default: the current folder and "
                   "the system temp folder).")
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
          request_timeout: float | None) -> None:
    """Run the bridge: the HTTP/JSON server Nuke talks to (OpenAPI at /docs).

    It keeps the model warm, caches per-frame features (a new click runs only the network) and
    writes mattes exactly as `render` does. SIGINT/SIGTERM stop it cleanly.
    """
    from .bridge.security import check_default_roots, read_token_file
    from .bridge.server import serve as run_server
    from .bridge.settings import BridgeSettings, default_allow_roots

    if not allow_roots:
        check_default_roots(default_allow_roots())
    given = {"host": host, "port": port, "cache_bytes": cache_bytes, "max_body_bytes": max_body_bytes,
             "request_timeout_s": request_timeout}
    run_server(BridgeSettings(
        checkpoint=checkpoint_path, device=device, allow_roots=tuple(allow_roots) or default_allow_roots(),
        token=None if token_file is None else read_token_file(token_file),
        allowed_hosts=allowed_hosts, allow_origins=allow_origins,
        **{name: value for name, value in given.items() if value is not None},
    ))


@main.command()
@click.argument("shot_file", metavar="SHOT", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--farm", required=True, metavar="FARM",
              help="openjd, deadline-cloud, opencue or deadline10.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the job files (default: <shot folder>/farm/<shot name>_<farm>/).")
@click.option("--chunk-size", type=int, default=10, show_default=True, help="Frames per task.")
@click.option("--gpus", type=int, default=0, show_default=True, help="GPUs each task needs (0: any host).")
@click.option("--priority", type=int, default=50, show_default=True, help="Job priority, 0-100.")
@click.option("--name", default=None, help="Job name (default: hyperseg_<shot name>).")
@click.option("--dry-run", is_flag=True, help="Write the job files, do not submit them.")
@click.option("--run-local", is_flag=True, help="openjd only: run the bundle on this machine with `openjd run`.")
@click.option("--overwrite", is_flag=True,
              help="Replace files in the job folder that hyperseg-vfx did not write or that were edited since.")
def submit(shot_file: Path, farm: str, out_dir: Path | None, chunk_size: int, gpus: int, priority: int,
           name: str | None, dry_run: bool, run_local: bool, overwrite: bool) -> None:
    """Write a shot's render job for a farm engine and submit it with the engine's own tools.

    Each task runs `hyperseg-vfx render SHOT --frames CHUNK` ($HYPERSEG_VFX_COMMAND names the
    executable on the workers). Exit status: 0 written (and submitted when the engine's tool is
    here), 2 bad input or a refused submission.
    """
    import shlex

    from .farm import submit_shot

    result = submit_shot(shot_file, farm, out_dir=out_dir, chunk_size=chunk_size, gpus=gpus, priority=priority,
                         name=name, dry_run=dry_run, run_local=run_local, overwrite=overwrite)
    for path in result.files:
        click.echo(f"wrote {path}")
    click.echo(result.message)
    if result.command and not result.submitted:
        click.echo(f"  {shlex.join(result.command)}")


@main.group("farm")
def farm_group() -> None:
    """Set up render farms for hyperseg-vfx jobs."""


@farm_group.command("install-deadline-plugin")
@click.argument("repository", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace plugin files that differ from the shipped ones.")
def install_deadline_plugin_command(repository: Path, force: bool) -> None:
    """Copy the HyperSeg plugin into a Deadline 10 REPOSITORY (custom/plugins/HyperSeg/)."""
    from .farm.install import install_deadline_plugin

    target, written = install_deadline_plugin(repository, force=force)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"The HyperSeg plugin is installed in {target}" + ("" if written else " (already up to date)")
               + "; set its executable in Monitor > Tools > Configure Plugins > HyperSeg.")


if __name__ == "__main__":
    sys.exit(main())
