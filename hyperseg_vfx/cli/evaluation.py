"""`evaluate`: HyperSeg against the baselines under the same robot clicks."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import HypersegError
from ..edge_methods import EDGES
from .options import DEVICE_OPTION, parse_size


@click.command("evaluate")
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
              help="Resample every sample to WIDTHxHEIGHT first (plates bilinear, truth from the soft matte); "
                   "the data must have that aspect ratio (within 1%).")
@click.option("--edges", type=click.Choice(EDGES), default="model", show_default=True,
              help="HyperSeg's edge stage at the plate's resolution: the model config's choice, none, or a graph "
                   "cut in a band around the edge.")
@DEVICE_OPTION
def evaluate_command(data_spec: str, checkpoints: tuple[Path, ...], methods: str, protocol: str, report_dir: Path,
                     save_masks: bool, overlays: int, size_text: str | None, edges: str,
                     device: str) -> None:
    """Compare HyperSeg with the Random Walk and Graph Cut baselines under the same robot clicks."""
    from ..data.datasets import open_dataset
    from ..evaluation import PROTOCOLS, build_methods, evaluate, write_report
    from ..evaluation.artifacts import ArtifactWriter
    from ..evaluation.claims import ClaimCounter
    from ..evaluation.report import markdown_table

    kinds = [m.strip() for m in methods.split(",") if m.strip()]
    if "hyperseg" in kinds and not checkpoints:
        from ..render import DEFAULT_CHECKPOINT

        if not DEFAULT_CHECKPOINT.is_file():
            raise HypersegError(f"no default model installed ({DEFAULT_CHECKPOINT}): pass --checkpoint FILE")
        checkpoints = (DEFAULT_CHECKPOINT,)
    samples = open_dataset(data_spec)
    if size_text is not None:
        from ..data.datasets import resampled

        samples = resampled(samples, *parse_size(size_text))
        data_spec = f"{data_spec} at {size_text}"
    if protocol == "track":
        return _evaluate_tracking(samples, checkpoints, device, report_dir, data_spec)
    built = build_methods(kinds, checkpoints, device, edges=None if edges == "model" else edges)
    writer = ArtifactWriter(report_dir, samples, save_masks, overlays)
    claims = ClaimCounter()

    def progress(result, sample, trial) -> None:
        writer(result, sample, trial)
        claims(result, sample, trial)
        click.echo(f"{result.method}  {result.clip} {result.frame}  {len(result.clicks)} clicks  "
                   f"IoU {result.iou:.3f}", err=True)

    click.echo(f"Evaluating {', '.join(built)} on {len(samples)} samples ({protocol} protocol) ...", err=True)
    results = evaluate(samples, built, PROTOCOLS[protocol], on_result=progress)
    report = write_report(report_dir, results, PROTOCOLS[protocol], {n: m.describe() for n, m in built.items()},
                          data_spec)
    click.echo(markdown_table(report["methods"]), nl=False)
    if claims.summary():
        _add_claims(report_dir, claims.summary())
    click.echo(f"report: {report_dir / 'report.md'}")


def _add_claims(report_dir: Path, summary: dict) -> None:
    """Clips of several objects: their double claims in report.json (`objects`) and report.md."""
    import json

    from ..door import ANYWHERE
    from ..evaluation.claims import markdown_section

    report = json.loads(ANYWHERE.read_text(report_dir / "report.json"))
    report["objects"] = summary
    markdown = ANYWHERE.read_text(report_dir / "report.md") + markdown_section(summary)
    ANYWHERE.write_text(report_dir / "report.json", json.dumps(report, indent=1) + "\n", replace=True)
    ANYWHERE.write_text(report_dir / "report.md", markdown, replace=True)
    click.echo(markdown_section(summary), nl=False)


def _evaluate_tracking(samples, checkpoints, device: str, report_dir: Path, data_spec: str) -> None:
    """`evaluate --protocol track`: HyperSeg only (the baselines have no tracking)."""
    import numpy as np

    from ..evaluation.tracking_protocol import evaluate_tracking, markdown_table
    from ..segmenter import Segmenter

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
