"""The `hyperseg-vfx` command line.

Every command imports its heavy modules (torch, OpenImageIO) inside its body, so `--help` is
instant. Errors that are the user's to fix (HypersegError) print one line and exit with 2.
"""

from __future__ import annotations

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
    ]
    extra = {k: v for k, v in meta.items() if k not in ("name", "description")}
    lines += [f"{k + ':':<17}{v}" for k, v in extra.items()]
    click.echo("\n".join(lines))


@main.command()
@click.option("--width", type=click.IntRange(1), default=1920, show_default=True)
@click.option("--height", type=click.IntRange(1), default=1080, show_default=True)
@DEVICE_OPTION
@click.option("--checkpoint", "checkpoint_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Model to time (default: an untrained model of the paper's architecture, random backbone).")
@click.option("--repeats", type=click.IntRange(1), default=1, show_default=True, help="Timed runs; the best is reported.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench(width: int, height: int, device: str, checkpoint_path: Path | None, repeats: int, as_json: bool) -> None:
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
    result = run_benchmark(segmenter, width, height, repeats)
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(
        f"{width}x{height} on {result['device']} ({result['threads']} threads, {result['compute_dtype']}, {result['tiles']} tiles)\n"
        f"  full frame:   {result['full_frame_s']:.3f} s  {result['full_frame_gflop']:.0f} GFLOP  "
        f"{result['full_frame_floor_ratio']:.2f}x floor\n"
        f"  click update: {result['click_update_s']:.3f} s  {result['click_update_gflop']:.0f} GFLOP  "
        f"{result['click_update_floor_ratio']:.2f}x floor\n"
        f"  stages:       " + ", ".join(f"{k} {v:.3f} s" for k, v in result["stage_s"].items()) + "\n"
        f"  matmul rate:  {result['matmul_gflops']:.0f} GFLOP/s\n"
        f"  peak RSS:     {result['peak_rss_bytes'] / 2**30:.2f} GiB\n"
        f"  literal path would need {result['literal_path']['hypercolumn_bytes'] / 2**30:.1f} GiB of hypercolumns and "
        f"{result['literal_path']['projection_gflop']:.0f} GFLOP for its projection"
    )


if __name__ == "__main__":
    sys.exit(main())
