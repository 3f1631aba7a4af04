"""`synth`, `fit-tucker`, `train` and `training-curve`: data and training."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .options import parse_size


@click.command()
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
@click.option("--objects", type=click.IntRange(1, 3), default=1, show_default=True,
              help="Objects per clip (2 or 3: occluding each other, a matte folder alpha/object<k>/ per object).")
def synth(out: Path, clips: int, frame_count: int, size: str, seed: int, greenscreen: bool, generator: str,
          objects: int) -> None:
    """Generate synthetic composited clips with exact mattes (the clips:OUT dataset layout)."""
    width, height = parse_size(size)
    if generator == "procedural":
        from ..data.procedural import generate_procedural_clips

        if greenscreen:
            raise click.UsageError("--greenscreen is a photo-generator option")
        folders = generate_procedural_clips(out, clips, frame_count, width, height, seed, objects)
    else:
        from ..data.synth import generate_clips

        folders = generate_clips(out, clips, frame_count, width, height, seed, greenscreen, objects)
    click.echo(f"Wrote {len(folders)} clips of {frame_count} frames ({width}x{height}, seed {seed}) to {out}; "
               f"use it as --data clips:{out}")


@click.command("fit-tucker")
@click.option("--data", "data_spec", required=True, help="Frames to fit on: clips:ROOT or davis:ROOT[...].")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The FACTORS file to write.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Training config YAML: its model (backbone, ranks), data.size and data.side are used "
                   "(default: the paper's model).")
@click.option("--frames", "frame_count", type=click.IntRange(1), default=256, show_default=True,
              help="Distinct frames to fit on, evenly spaced over the dataset.")
@click.option("--size", type=click.IntRange(16), default=None,
              help="Resize frames to this long side first (default: the config's data.size, else full resolution).")
@click.option("--backbone", default=None, help="Backbone weights spec, overriding the config's.")
def fit_tucker_command(data_spec: str, out: Path, config_file: Path | None, frame_count: int, size: int | None,
                       backbone: str | None) -> None:
    """Fit the Tucker factors of a model on a dataset's frames (streaming) and write them."""
    from ..config import ModelConfig
    from ..data.datasets import open_dataset
    from ..modeling.hyperseg import HyperSeg
    from ..training.config import TrainConfig
    from ..training.tucker_fit import distinct_frames, fit_on_dataset, save_factors

    side = "long"
    if config_file:
        train_config = TrainConfig.from_yaml(config_file)
        model_config, size, side = train_config.model, size or train_config.data.size, train_config.data.side
    else:
        model_config = ModelConfig()
    if backbone:
        model_config.backbone.weights = backbone
    samples = open_dataset(data_spec)
    count = len(distinct_frames(samples, frame_count))
    click.echo(f"Fitting Tucker ranks {list(model_config.compressed_channels)} on {count} frames of {data_spec} ...",
               err=True)
    model = HyperSeg(model_config)
    fit_on_dataset(model, samples, frame_count, size, side)
    save_factors(out, model, count, data_spec)
    click.echo(f"Wrote {out}; use it as data.tucker_factors in a training config")


@click.command()
@click.argument("config_file", metavar="CONFIG", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--resume", is_flag=True, help="Continue the run in the config's `out` folder from its last.pt.")
def train(config_file: Path, resume: bool) -> None:
    """Train a model from a YAML config (data, model, optimiser, schedule, loss, clicks, seed).

    Multi-GPU / multi-node: launch with torchrun (WORLD_SIZE > 1 uses DistributedDataParallel).
    """
    from ..training.config import TrainConfig
    from ..training.train import Trainer

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


@click.command("training-curve")
@click.argument("metrics", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The PNG to write.")
@click.option("--title", default="", help="Title above the plots.")
def training_curve(metrics: tuple[Path, ...], out: Path, title: str) -> None:
    """Plot loss terms and IoU from metrics.jsonl files (several: stages of one training, in order)."""
    from ..training.curve import plot_training_curve

    plot_training_curve(metrics, out, title)
    click.echo(f"Wrote {out}")
