"""End to end: the click loop, the three methods and the report on tiny synthetic samples."""

from __future__ import annotations

import json
import shutil

import numpy as np
import OpenImageIO as oiio
import pytest

from hyperseg_vfx.errors import HypersegError
from hyperseg_vfx.evaluation import FIXED, ROBOT, EvalSample, build_methods, evaluate, write_report
from hyperseg_vfx.evaluation.artifacts import ArtifactWriter
from hyperseg_vfx.evaluation.metrics import iou, miou_at_k, noc
from hyperseg_vfx.synthetic import synthetic_frame

SIZE = 64


def synthetic_sample(seed: int, frame: int) -> EvalSample:
    current, previous = synthetic_frame(SIZE, SIZE, seed, frame), synthetic_frame(SIZE, SIZE, seed, frame - 1)
    return EvalSample(f"clip{seed}", frame, None, ("synthetic", seed, frame), current.rgb, previous.rgb,
                      current.alpha > 0.5)


SAMPLES = [synthetic_sample(3, 1), synthetic_sample(4, 2)]


def read_png(path) -> np.ndarray:
    image = oiio.ImageBuf(str(path))
    assert not image.has_error, image.geterror()
    return image.get_pixels(oiio.UINT8)


@pytest.fixture(scope="module")
def methods(tiny_checkpoint):
    return build_methods(["hyperseg", "random_walk", "graph_cut"], [tiny_checkpoint], device="cpu")


@pytest.fixture(scope="module")
def fixed_run(methods, tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval")
    writer = ArtifactWriter(folder, SAMPLES, save_masks=True, overlays_per_method=1)
    results = evaluate(SAMPLES, methods, FIXED, on_result=writer)
    write_report(folder, results, FIXED, {n: m.describe() for n, m in methods.items()}, "synthetic")
    return folder, results


def test_fixed_protocol_report_files_and_structure(fixed_run, methods):
    folder, _ = fixed_run
    report = json.loads((folder / "report.json").read_text())
    names = list(methods)
    assert len(names) == 3 and names[1:] == ["random_walk", "graph_cut"]
    assert list(report["methods"]) == names
    assert report["protocol"] == {"name": "fixed", "max_clicks": 10, "max_per_label": 5}
    assert report["method_info"][names[0]]["kind"] == "hyperseg"
    for values in report["methods"].values():
        assert set(values) == {"samples", "miou", "mbiou", "boundary_iou", "noc85", "noc90", "sad", "mse", "gradient",
                               "miou_at_k"}
        assert values["noc85"] is None and values["noc90"] is None and len(values["miou_at_k"]) == 10
        assert values["sad"] is None  # these samples carry no soft truth
    assert len(report["samples"]) == 6
    for row in report["samples"]:
        assert len(row["ious"]) == 10 and row["iou"] == row["ious"][-1]
        positives = sum(click[2] for click in row["clicks"])
        assert positives <= 5 and len(row["clicks"]) - positives <= 5
        assert row["clicks"][0][2] is True
    table = (folder / "report.md").read_text()
    assert "| Method | mIOU | mBIOU | BIoU(0.02) | NoC@85 | NoC@90 | SAD | MSE | Grad |" in table
    assert all(f"| {name} |" in table for name in names)
    assert read_png(folder / "metrics.png").shape[2] in (3, 4)


def test_reported_means_come_from_the_per_sample_rows(fixed_run):
    folder, _ = fixed_run
    report = json.loads((folder / "report.json").read_text())
    for method, values in report["methods"].items():
        rows = [r for r in report["samples"] if r["method"] == method]
        assert values["miou"] == pytest.approx(np.mean([r["iou"] for r in rows]))
        assert values["mbiou"] == pytest.approx(np.mean([r["mbiou"] for r in rows]))
        assert values["boundary_iou"] == pytest.approx(np.mean([r["biou"] for r in rows]))
        assert values["miou_at_k"] == pytest.approx(miou_at_k([r["ious"] for r in rows]).tolist())


def test_saved_masks_and_overlays(fixed_run, methods):
    folder, results = fixed_run
    for result in results:
        mask = read_png(folder / "masks" / result.method / result.clip / f"{result.frame}.png")
        assert mask.shape == (SIZE, SIZE, 1) and set(np.unique(mask)) <= {0, 255}
        truth = next(s.mask for s in SAMPLES if s.clip == result.clip)
        assert iou(mask[..., 0] > 0, truth) == pytest.approx(result.iou)
    for name in methods:
        overlays = sorted((folder / "overlays" / name).iterdir())
        assert [p.name for p in overlays] == ["clip3_1.png"]  # one per method, the first sample
        assert read_png(overlays[0]).shape == (SIZE, 2 * SIZE + 4, 3)


def test_baselines_do_well_on_synthetic_samples(fixed_run):
    _, results = fixed_run
    for result in results:
        if result.method == "graph_cut":
            assert result.iou > 0.8


def test_report_is_deterministic(fixed_run, methods, tmp_path):
    folder, _ = fixed_run
    results = evaluate(SAMPLES, methods, FIXED)
    write_report(tmp_path, results, FIXED, {n: m.describe() for n, m in methods.items()}, "synthetic")
    assert (tmp_path / "report.json").read_bytes() == (folder / "report.json").read_bytes()


def test_robot_protocol_reports_noc_from_the_per_click_ious(tmp_path):
    methods = build_methods(["graph_cut", "random_walk"])
    results = evaluate(SAMPLES, methods, ROBOT)
    report = write_report(tmp_path, results, ROBOT, {n: m.describe() for n, m in methods.items()}, "synthetic")
    assert (tmp_path / "iou_per_click.png").is_file()
    for method, values in report["methods"].items():
        ious = np.array([r["ious"] for r in report["samples"] if r["method"] == method])
        assert ious.shape == (2, 20)
        assert values["noc85"] == pytest.approx(noc(ious, 0.85, 20).mean())
        assert values["noc90"] == pytest.approx(noc(ious, 0.90, 20).mean())
        assert 1 <= values["noc85"] <= values["noc90"] <= 20
    assert "| graph_cut |" in (tmp_path / "report.md").read_text()


def test_checkpoints_with_one_name_become_rows_named_by_file_stem(tiny_checkpoint, tmp_path):
    paths = [tmp_path / "a.pt", tmp_path / "b.pt"]
    for path in paths:
        shutil.copy(tiny_checkpoint, path)
    methods = build_methods(["hyperseg"], paths, device="cpu")
    assert list(methods) == ["a", "b"]


@pytest.mark.parametrize("kinds, checkpoints, message", [
    (["hyperseg", "watershed"], [], "unknown method"),
    (["hyperseg"], [], "needs at least one --checkpoint"),
    (["graph_cut"], ["x.pt"], "needs method hyperseg"),
])
def test_build_methods_rejects_bad_arguments(kinds, checkpoints, message):
    with pytest.raises(HypersegError, match=message):
        build_methods(kinds, checkpoints)


def test_build_methods_keeps_order_and_drops_repeats():
    assert list(build_methods(["graph_cut", "random_walk", "graph_cut"])) == ["graph_cut", "random_walk"]


def test_evaluate_command_on_synth_clips(tiny_checkpoint, tmp_path):
    from click.testing import CliRunner

    from hyperseg_vfx.cli import main

    runner = CliRunner()
    clips, out = tmp_path / "clips", tmp_path / "report"
    synth = runner.invoke(main, ["synth", str(clips), "--clips", "1", "--frames", "2", "--size", "48x48", "--seed", "7"])
    assert synth.exit_code == 0, synth.output
    args = ["evaluate", "--data", f"clips:{clips}", "--checkpoint", str(tiny_checkpoint), "--methods",
            "hyperseg,graph_cut", "--protocol", "fixed", "--report", str(out), "--save-masks", "--device", "cpu"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["data"] == f"clips:{clips}" and len(report["samples"]) == 4
    assert "| graph_cut |" in result.output and (out / "metrics.png").is_file()
    clip = report["samples"][0]["clip"]
    assert sorted(p.name for p in (out / "masks" / "graph_cut" / clip).iterdir()) == ["1001.png", "1002.png"]

    bad = runner.invoke(main, args[:5] + ["--methods", "watershed", "--report", str(out)])
    assert bad.exit_code == 2 and "unknown method" in bad.output


def test_evaluate_size_resamples_the_dataset(tiny_checkpoint, tmp_path):
    from click.testing import CliRunner

    from hyperseg_vfx.cli import main

    runner = CliRunner()
    clips, out = tmp_path / "clips", tmp_path / "report"
    assert runner.invoke(main, ["synth", str(clips), "--clips", "1", "--frames", "1", "--size", "48x32", "--seed", "7"]).exit_code == 0
    args = ["evaluate", "--data", f"clips:{clips}", "--methods", "graph_cut", "--report", str(out), "--save-masks",
            "--size", "96x64"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["data"] == f"clips:{clips} at 96x64" and len(report["samples"]) == 1
    mask = read_png(next((out / "masks" / "graph_cut").rglob("*.png")))
    assert mask.shape[:2] == (64, 96)
    bad = runner.invoke(main, args[:-1] + ["96"])
    assert bad.exit_code == 2 and "WIDTHxHEIGHT" in bad.output


@pytest.mark.parametrize("generator, plate, size", [("procedural", "128x72", "256x144"),
                                                    ("photo", "172x72", "344x144")])
def test_evaluate_size_at_16_9_and_scope_with_matting_errors(tiny_checkpoint, tmp_path, generator, plate, size):
    """`evaluate --size` on 16:9 and 2.39:1 clips: the report is at that size, and every row
    carries Rhemann et al.'s matting errors against the clips' soft truth, equal to a recomputation
    from the saved binary mask for the baseline (its output is its mask)."""
    from click.testing import CliRunner

    from hyperseg_vfx.cli import main
    from hyperseg_vfx.data.datasets import open_dataset, resampled
    from hyperseg_vfx.evaluation.harness import MATTING_BAND_RATIO
    from hyperseg_vfx.evaluation.metrics import boundary_width, matting_band, matting_errors

    runner = CliRunner()
    clips, out = tmp_path / "clips", tmp_path / "report"
    made = runner.invoke(main, ["synth", str(clips), "--generator", generator, "--clips", "1", "--frames", "1",
                                "--size", plate, "--seed", "904"])
    assert made.exit_code == 0, made.output
    args = ["evaluate", "--data", f"clips:{clips}", "--checkpoint", str(tiny_checkpoint), "--methods",
            "hyperseg,graph_cut", "--report", str(out), "--save-masks", "--size", size, "--edges", "graphcut",
            "--device", "cpu"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    width, height = (int(v) for v in size.split("x"))
    assert report["data"] == f"clips:{clips} at {size}"
    assert report["method_info"][next(iter(report["method_info"]))]["edges"] == "graphcut"
    for method in report["methods"].values():
        assert method["sad"] > 0 and method["mse"] > 0 and method["gradient"] >= 0
    row = next(r for r in report["samples"] if r["method"] == "graph_cut")
    mask = read_png(next((out / "masks" / "graph_cut").rglob("*.png")))[..., 0] > 127
    assert mask.shape == (height, width)
    truth = resampled(open_dataset(f"clips:{clips}"), width, height)[0].load().alpha
    band = matting_band(truth, boundary_width(height, width, MATTING_BAND_RATIO))
    expected = matting_errors(mask.astype(np.float32), truth, band)
    assert row["sad"] == pytest.approx(expected["sad"]) and row["mse"] == pytest.approx(expected["mse"])
    assert "| SAD | MSE | Grad |" in result.output.replace("NoC@90 | ", "")


def test_evaluate_size_refuses_to_stretch_a_plate(tmp_path):
    """A 4:3 clip resampled to 16:9 would stretch the scene: exit 2 naming the file and both sizes."""
    from click.testing import CliRunner

    from hyperseg_vfx.cli import main

    runner = CliRunner()
    clips = tmp_path / "clips"
    assert runner.invoke(main, ["synth", str(clips), "--clips", "1", "--frames", "1", "--size", "64x48"]).exit_code == 0
    result = runner.invoke(main, ["evaluate", "--data", f"clips:{clips}", "--methods", "graph_cut", "--report",
                                  str(tmp_path / "r"), "--size", "256x144"])
    assert result.exit_code == 2, result.output
    assert "64x48 plate cannot be resampled to 256x144" in result.output and ".png" in result.output


def test_evaluate_scores_each_object_of_a_clip_and_the_pixels_two_objects_claim(tiny_checkpoint, tmp_path):
    from click.testing import CliRunner
    from image_files import read_image

    from hyperseg_vfx.cli import main

    runner = CliRunner()
    clips, out = tmp_path / "clips", tmp_path / "report"
    synth = runner.invoke(main, ["synth", str(clips), "--clips", "1", "--frames", "2", "--size", "48x48", "--seed", "7",
                                 "--objects", "2"])
    assert synth.exit_code == 0, synth.output
    result = runner.invoke(main, ["evaluate", "--data", f"clips:{clips}", "--checkpoint", str(tiny_checkpoint),
                                  "--methods", "hyperseg,graph_cut", "--report", str(out), "--save-masks",
                                  "--device", "cpu"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert sorted({(s["frame"], s["object_id"]) for s in report["samples"]}) == [
        (1001, "object1"), (1001, "object2"), (1002, "object1"), (1002, "object2")]
    clip = report["samples"][0]["clip"]
    for method in ("tiny-test", "graph_cut"):
        row = report["objects"][method]
        masks = {(f, o): read_image(out / "masks" / method / clip / f"{f}_{o}.png")[1][..., 0] > 0
                 for f in (1001, 1002) for o in ("object1", "object2")}
        expected = np.mean([np.mean(masks[f, "object1"] & masks[f, "object2"]) for f in (1001, 1002)])
        assert row["frames"] == 2 and row["double_claimed"] == pytest.approx(expected)
        assert row["truth_double_claimed"] == 0.0  # the generators' visible mattes never overlap above 0.5
    assert "## Pixels claimed by two objects" in (out / "report.md").read_text()
