"""`fetch-weights` and `checkpoint ...`: getting, making and inspecting model files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from ..edge_methods import (EDGE_METHODS, MAX_EDGE_PASSES, MAX_PROJECTION_ZONE, MAX_REFINER_BAND, MAX_REFINER_WIDTH,
                            PROJECTION_MIN_FACTOR, SOFT_EDGES)
from ..errors import HypersegError
from ..tile_layouts import TILE_OVERLAPS
from .options import DEVICE_OPTION


@click.command("fetch-weights")
@click.option("--dest", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to put the file (default: the torch hub cache, where `imagenet` looks).")
def fetch_weights(dest: Path | None) -> None:
    """Download torchvision's VGG-19 ImageNet weights (needs internet; run once per machine)."""
    from ..modeling.backbone import VGG19_IMAGENET_URL, fetch_imagenet_weights

    click.echo(f"Downloading {VGG19_IMAGENET_URL} ...")
    try:
        path = fetch_imagenet_weights(dest)
    except OSError as exc:
        raise HypersegError(f"download of {VGG19_IMAGENET_URL} failed: {exc}") from None
    click.echo(f"VGG-19 ImageNet weights are at {path}")
    click.echo("Models with backbone weights 'imagenet' find them there (or set HYPERSEG_VGG19_WEIGHTS to the file).")


@click.group()
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
    from ..checkpoint import save_checkpoint
    from ..config import ModelConfig
    from ..modeling.factory import build_untrained

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
    from ..checkpoint import describe_checkpoint

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
        f"tessellation {_tessellation_line(info)}",
        f"tucker ranks:    {info['tucker_ranks']} (D_phi = {sum(info['tucker_ranks'])})",
        f"network:         width {net['width']}, dilations {net['dilations']}, {net['candidates']} candidates, "
        f"context skips {'on' if net['context_skips'] else 'off'}, {net['parameters']:,} parameters",
        f"click maps:      radius {info['context']['click_radius']} px, truncation {info['context']['distance_truncation']} px "
        f"at short side {info['context']['reference_short_side']}",
        f"refinement:      {_refinement_line(info['refine'])}",
        f"working size:    {_working_size_line(info['working_short_side'])}",
        f"edges:           {_edges_line(info['edges'])}",
    ]
    extra = {k: v for k, v in meta.items() if k not in ("name", "description", "training")}
    for key, value in extra.items():
        lines += _metadata_lines(key, value)
    if isinstance(meta.get("training"), dict):
        lines += _training_lines(meta["training"])
    click.echo("\n".join(lines))


def _metadata_lines(key: str, value, indent: int = 0) -> list[str]:
    """`key: value` as lines: a mapping as indented `key: value` lines below its key, a list of
    plain values comma-separated."""
    label = f"{' ' * indent}{key}:"
    if isinstance(value, dict):
        return [label] + [line for k, v in value.items() for line in _metadata_lines(str(k), v, indent + 2)]
    if isinstance(value, list) and not any(isinstance(v, (dict, list)) for v in value):
        value = ", ".join(map(str, value))
    return [f"{label:<17}{value}"]


def _training_lines(training: dict) -> list[str]:
    """The training history (each run's `init.training` is the run it started from) as one line
    per stage, oldest first: `stage N: from CHECKPOINT: steps 1000, batch_size 4, ...`."""
    stages = []
    while isinstance(training, dict):
        init = training.get("init") if isinstance(training.get("init"), dict) else {}
        stages.append((init.get("checkpoint"), {k: v for k, v in training.items() if k != "init"}))
        training = init.get("training")
    lines = [f"{'training:':<17}{len(stages)} stage{'s' if len(stages) > 1 else ''}, oldest first"]
    for number, (start, fields) in enumerate(reversed(stages), 1):
        described = ", ".join(f"{k} {v}" for k, v in fields.items() if not isinstance(v, (dict, list)))
        nested = {k: v for k, v in fields.items() if isinstance(v, (dict, list))}
        lines.append(f"{f'  stage {number}:':<17}" + (f"from {start}: " if start else "") + described)
        lines += [line for k, v in nested.items() for line in _metadata_lines(k, v, 4)]
    return lines


def _refinement_line(refine: dict) -> str:
    if not refine["radius"]:
        return "none (the network's candidates as they are)"
    return (f"guided filter, radius {refine['radius']:g} px at short side {refine['reference_short_side']}, "
            f"eps {refine['eps']:g}")


def _tessellation_line(info: dict) -> str:
    if not info["tessellate"]:
        return "off"
    width, height = info["tile_extent"]
    overlap = info.get("tile_overlap", "none")
    if overlap != "none":
        crop = f"{width}x{height} frame px, stretched as in training" if width else "one tile's size, unstretched"
        return f"on, overlapping crops of {crop} ({_OVERLAP_WORDS[overlap]})"
    return f"on, tiles covering {width}x{height} frame px as in training" if width else "on, the paper's grid"


_OVERLAP_WORDS = {"nearest": "each pixel from the crop whose centre is nearest",
                  "blend": "blended linearly across each overlap"}


def _edges_line(edges: dict) -> str:
    if edges["method"] == "none":
        return "as the network and refinement give them"
    line = f"{edges['method']} at the plate's resolution, band {edges['band']:g} working px, "
    if edges["method"] in ("grabcut", "learned"):
        soft = f"soft edge {edges['soft_width']:g} px" if edges["soft_width"] else "hard edge"
        if edges.get("soft_edge") == "projection":
            soft = (f"soft edge by projection within {edges['projection_zone']:g} working px on plates "
                    f"{PROJECTION_MIN_FACTOR:g}x the working size or more ({soft} below)")
        passes = f", {edges['grabcut_passes']} passes" if edges["grabcut_passes"] > 1 else ""
        line += f"colour models by GrabCut, smoothness {edges['grabcut_smoothness']:g}, {soft}{passes}"
        if edges["method"] == "learned":
            line += f", then a learned refiner ({edges['refiner_width']} channels) within {edges['refiner_band']:g} plate px"
        return line
    return line + f"smoothness {edges['smoothness']:g}"


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
    from ..checkpoint import load_checkpoint, save_checkpoint

    if native == (short_side is not None):
        raise click.UsageError("give exactly one of --short-side N and --native")
    if out.exists() and not force:
        raise HypersegError(f"{out} already exists (use --force to overwrite it)")
    model, metadata = load_checkpoint(source)
    model.config.working_short_side = short_side
    model.config.validate()
    save_checkpoint(model, out, metadata)
    click.echo(f"Wrote {out}: {source} with working size {_working_size_line(short_side)}")


@checkpoint.command("set-tile-extent")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--extent", metavar="WxH", default=None,
              help="Frame pixels one tile covered in training (e.g. 192x144): frames of any aspect are cut "
                   "into whole tiles stretched as in training.")
@click.option("--paper-grid", is_flag=True, help="The paper's grid: ceil(w / 224) x ceil(h / 224) tiles.")
@click.option("--overlap", type=click.Choice(TILE_OVERLAPS), default="none", show_default=True,
              help="none: whole tiles meeting at seams; nearest / blend: overlapping crops of exactly the extent "
                   "(224 px with --paper-grid), each pixel from the crop whose centre is nearest, or blended "
                   "linearly across the overlap.")
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
def checkpoint_set_tile_extent(source: Path, out: Path, extent: str | None, paper_grid: bool, overlap: str,
                               force: bool) -> None:
    """Copy a checkpoint with another tile grid (backbone.tile_extent and tile_overlap; the weights are unchanged)."""
    from ..checkpoint import load_checkpoint, save_checkpoint
    from ..config import ConfigError

    if paper_grid == (extent is not None):
        raise click.UsageError("give exactly one of --extent WxH and --paper-grid")
    if out.exists() and not force:
        raise HypersegError(f"{out} already exists (use --force to overwrite it)")
    size = (0, 0) if paper_grid else _extent(extent)
    model, metadata = load_checkpoint(source)
    model.config.backbone.tile_extent = size
    model.config.backbone.tile_overlap = overlap
    try:
        model.config.validate()
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--extent") from None
    save_checkpoint(model, out, metadata)
    grid = _tessellation_line({"tessellate": True, "tile_extent": size, "tile_overlap": overlap})
    click.echo(f"Wrote {out}: {source} with tessellation {grid}")


@checkpoint.command("set-edges")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--method", type=click.Choice(EDGE_METHODS), required=True,
              help="none: the matte as the network gives it; graphcut: a band graph cut by the network's "
                   "probability; grabcut: by colour models of the object and its background.")
@click.option("--band", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Band half-width in working px (default: the checkpoint's).")
@click.option("--soft-width", type=click.FloatRange(min=0), default=None,
              help="grabcut's soft edge in plate px either side of the cut, 0 for a hard edge (default: the checkpoint's).")
@click.option("--passes", type=click.IntRange(1, MAX_EDGE_PASSES), default=None,
              help="grabcut's runs, each around the previous one's edge (default: the checkpoint's).")
@click.option("--soft-edge", type=click.Choice(SOFT_EDGES), default=None,
              help="grabcut's soft edge: posterior (the colour models' posterior within --soft-width px) or "
                   "projection (alpha from the compositing equation near the cut, on plates "
                   f"{PROJECTION_MIN_FACTOR:g}x the working size or more) (default: the checkpoint's).")
@click.option("--projection-zone", type=click.FloatRange(min=0, max=MAX_PROJECTION_ZONE, min_open=True), default=None,
              help="The projection's half-width in working px (default: the checkpoint's).")
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
def checkpoint_set_edges(source: Path, out: Path, method: str, band: float | None, soft_width: float | None,
                         passes: int | None, soft_edge: str | None, projection_zone: float | None,
                         force: bool) -> None:
    """Copy a checkpoint with another edge stage at the plate's resolution (weights unchanged)."""
    from ..checkpoint import load_checkpoint, save_checkpoint

    if out.exists() and not force:
        raise HypersegError(f"{out} already exists (use --force to overwrite it)")
    model, metadata = load_checkpoint(source)
    edges = model.config.edges
    model.config.edges = dataclasses.replace(edges, method=method, band=edges.band if band is None else band,
                                             soft_width=edges.soft_width if soft_width is None else soft_width,
                                             grabcut_passes=edges.grabcut_passes if passes is None else passes,
                                             soft_edge=edges.soft_edge if soft_edge is None else soft_edge,
                                             projection_zone=(edges.projection_zone if projection_zone is None
                                                              else projection_zone))
    model.config.validate()
    save_checkpoint(model, out, metadata)
    click.echo(f"Wrote {out}: {source} with edges {_edges_line(dataclasses.asdict(model.config.edges))}")


@checkpoint.command("train-refiner")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data", "data_specs", multiple=True, required=True,
              help="Training clips (clips:ROOT or davis:ROOT[:split]); repeat for several. Never the clips you evaluate on.")
@click.option("--width", type=click.IntRange(1, MAX_REFINER_WIDTH), default=16, show_default=True,
              help="The refiner's channels per layer (its cost per band pixel grows with the square).")
@click.option("--band", type=click.FloatRange(0, MAX_REFINER_BAND, min_open=True), default=8.0, show_default=True,
              help="Half-width in plate px of the band around grabcut's edge that the refiner decides.")
@click.option("--steps", type=click.IntRange(1, 100_000), default=3000, show_default=True, help="Training steps (batches of 32 patches).")
@click.option("--patches-per-state", type=click.IntRange(1, 1024), default=64, show_default=True,
              help="Training patches cut around each recorded state's edge (about 58 kB each).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the weights, the patches and the batches.")
@DEVICE_OPTION
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
def checkpoint_train_refiner(source: Path, out: Path, data_specs: tuple[str, ...], width: int, band: float, steps: int,
                             patches_per_state: int, seed: int, device: str, force: bool) -> None:
    """Copy a checkpoint with a learned band refiner trained on its own mattes, as edges `learned`.

    Runs the fixed 10-click protocol with the model and its grabcut edges on every sample of
    --data, records the edge stage's inputs after clicks 3, 6 and 10, and trains a small
    convolutional refiner (on the CPU) to decide the pixels within --band px of grabcut's edge.
    The network's weights are unchanged.
    """
    from ..checkpoint import load_checkpoint, save_checkpoint
    from ..data.datasets import open_dataset
    from ..segmenter import Segmenter
    from ..training.band_refiner import train_band_refiner

    if out.exists() and not force:
        raise HypersegError(f"{out} already exists (use --force to overwrite it)")
    samples = [sample for spec in data_specs for sample in open_dataset(spec)]
    model, metadata = load_checkpoint(source)
    segmenter = Segmenter(model, device=device, metadata={"checkpoint": str(source)} | metadata)
    refiner, record = train_band_refiner(segmenter, samples, width, band, steps, seed, patches_per_state,
                                         progress=lambda line: click.echo(line, err=True))
    model = segmenter.model.cpu()
    model.config.edges = dataclasses.replace(model.config.edges, method="learned", refiner_width=width, refiner_band=band)
    model.config.validate()
    model.band_refiner = refiner
    save_checkpoint(model, out, metadata | {"band_refiner": record | {"data": list(data_specs)}})
    click.echo(f"Wrote {out}: {source} with edges {_edges_line(dataclasses.asdict(model.config.edges))}; "
               f"refiner trained on {record['states']} states, final loss {record['final_loss']:.4f}")


def _extent(text: str) -> tuple[int, int]:
    """`192x144` -> (192, 144); a usage error (exit 2) naming --extent otherwise."""
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit()) or not (16 <= int(width) <= 8192 and 16 <= int(height) <= 8192):
        raise click.BadParameter(f"{text!r} is not WIDTHxHEIGHT in pixels (16..8192 each), e.g. 192x144",
                                 param_hint="--extent")
    return int(width), int(height)


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
    from ..checkpoint import load_checkpoint, save_checkpoint
    from ..config import RefineConfig

    if out.exists() and not force:
        raise HypersegError(f"{out} already exists (use --force to overwrite it)")
    model, metadata = load_checkpoint(source)
    model.config.refine = RefineConfig(radius, eps, reference_short_side)
    model.config.validate()
    save_checkpoint(model, out, metadata)
    click.echo(f"Wrote {out}: {source} with refinement {_refinement_line(dataclasses.asdict(model.config.refine))}")
