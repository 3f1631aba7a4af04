"""`bench` and `bench-bridge`: time the model and the bridge on this machine."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..edge_methods import EDGES
from .options import DEVICE_OPTION


@click.command()
@click.option("--width", type=click.IntRange(1), default=1920, show_default=True)
@click.option("--height", type=click.IntRange(1), default=1080, show_default=True)
@DEVICE_OPTION
@click.option("--checkpoint", "checkpoint_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Model to time (default: an untrained model of the paper's architecture, random backbone).")
@click.option("--repeats", type=click.IntRange(1), default=1, show_default=True, help="Timed runs; the best is reported.")
@click.option("--compare-native", is_flag=True,
              help="For a model with a working size, also time it at the plate's own resolution.")
@click.option("--objects", "object_counts", metavar="N[,N...]",
              help="Time these numbers of objects of one shot instead (full frame, click update, editing one object, render), e.g. 1,2,4,8.")
@click.option("--edges", type=click.Choice(EDGES), default="model", show_default=True,
              help="Edge stage to time: the model config's, none, or the band graph cut.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench(width: int, height: int, device: str, checkpoint_path: Path | None, repeats: int, compare_native: bool,
          object_counts: str | None, edges: str, as_json: bool) -> None:
    """Time a full frame and a click update; compare with the FLOP floor; report peak memory."""
    counts = _object_counts(object_counts) if object_counts is not None else None
    from ..bench import run_benchmark
    from ..segmenter import Segmenter

    if checkpoint_path:
        segmenter = Segmenter.from_checkpoint(checkpoint_path, device=device)
    else:
        from ..config import ModelConfig
        from ..modeling.factory import build_untrained

        config = ModelConfig()
        config.backbone.weights = "random:0"
        segmenter = Segmenter(build_untrained(config, seed=0, tucker_frames=1), device=device)
    if not as_json:
        click.echo(f"Benchmarking {width}x{height} on {segmenter.device} (warm-up first) ...", err=True)
    if counts is not None:
        from ..bench_objects import run_objects_benchmark

        result = run_objects_benchmark(segmenter, width, height, counts, repeats, edges=None if edges == "model" else edges)
        click.echo(json.dumps(result) if as_json else _objects_text(result))
        return
    result = run_benchmark(segmenter, width, height, repeats, compare_native, None if edges == "model" else edges)
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(_bench_text(result))
    if "native" in result:
        click.echo(f"same model at the plate's resolution:\n{_bench_text(result['native'])}\n"
                   f"  speed-up:     full frame {result['full_frame_speedup']:.1f}x, "
                   f"click update {result['click_update_speedup']:.1f}x")


def _object_counts(text: str) -> list[int]:
    """`1,2,4,8` -> [1, 2, 4, 8]; a usage error (exit 2) naming the option otherwise."""
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1 or max(counts) > 64:
        raise click.BadParameter(f"{text!r} is not a list of object counts 1..64 such as 1,2,4,8",
                                 param_hint="--objects")
    return counts


def _objects_text(result: dict) -> str:
    lines = [f"{result['width']}x{result['height']} on {result['device']}, model {result['model']} "
             f"(working size {result['working_size'][1]}x{result['working_size'][0]}, edges {result['edges']}), "
             f"best of {result['repeats']}; render: {result['render_frames']} frames",
             "| objects | full frame s (x1) | click update s (x1) | edit one object s (x1) | features s "
             "| update: network / refine / edges s | feature passes | render s/frame (x1) |",
             "|---|---|---|---|---|---|---|---|"]
    for row in result["rows"]:
        stages = row["update_stage_s"]
        lines.append(f"| {row['objects']} | {row['full_frame_s']:.3f} ({row['full_frame_ratio']:.2f}) "
                     f"| {row['click_update_s']:.3f} ({row['click_update_ratio']:.2f}) "
                     f"| {row['edit_one_s']:.3f} ({row['edit_one_ratio']:.2f}) | {row['features_s']:.3f} "
                     f"| {stages['network']:.3f} / {stages['refine']:.3f} / {stages['edges']:.3f} "
                     f"| {row['feature_computations']} | {row['render_s_per_frame']:.3f} ({row['render_ratio']:.2f}) |")
    return "\n".join(lines)


def _bench_text(result: dict) -> str:
    working = ("native resolution" if result["working_short_side"] is None else
               f"working size {result['working_width']}x{result['working_height']}")
    return (
        f"{result['width']}x{result['height']} on {result['device']} ({result['threads']} threads, {result['compute_dtype']}, "
        f"{working}, {result['tiles']} tiles, edges {result['edges']})\n"
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


@click.command("bench-bridge")
@click.option("--width", type=click.IntRange(16), default=1920, show_default=True)
@click.option("--height", type=click.IntRange(16), default=1080, show_default=True)
@DEVICE_OPTION
@click.option("--checkpoint", "checkpoint_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Model the bridge serves (default: the bundled default model).")
@click.option("--clicks", type=click.IntRange(1), default=10, show_default=True, help="Click updates timed.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench_bridge(width: int, height: int, device: str, checkpoint_path: Path | None, clicks: int, as_json: bool) -> None:
    """Time click updates through a real bridge: round trip against the network time."""
    from ..bridge.bench import run_bridge_benchmark

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
