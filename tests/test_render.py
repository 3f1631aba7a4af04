"""render: the previous-frame rule across chunks, the EXR written, atomicity under SIGKILL,
--skip-existing, failures and exit codes, progress output, stopping on a signal."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import OpenImageIO as oiio
import pytest
from click.testing import CliRunner
from image_files import read_image, write_image

from hyperseg_vfx import __version__, render
from hyperseg_vfx.cli import main
from hyperseg_vfx.clicks import clicks_hash
from hyperseg_vfx.door import temporary_name
from hyperseg_vfx.demo import write_synthetic_plate
from hyperseg_vfx.io.images import read_frame, read_matte
from hyperseg_vfx.shot import ShotOptions, load_shot

SIZE = (96, 64)


read_exr = read_image


def mattes(shot):
    """{frame: full pixels} of the shot's outputs that exist."""
    return {f: read_exr(shot.output_path(f))[1] for f in shot.frames if os.path.isfile(shot.output_path(f))}


def with_output(shot, folder):
    return dataclasses.replace(shot, output=str(folder / "m.####.exr"))


@pytest.fixture
def cli(make_segmenter, tiny_checkpoint, monkeypatch):
    """cli(args, before_render=None): run `hyperseg-vfx ARGS` in-process with the tiny model as
    the default model, shared instead of loaded. before_render runs after the shot's validation."""

    def run(args, before_render=None):
        def segmenter(checkpoint, device="auto"):
            assert checkpoint == tiny_checkpoint
            if before_render:
                before_render()
            return make_segmenter()

        monkeypatch.setattr(render, "DEFAULT_CHECKPOINT", tiny_checkpoint)
        monkeypatch.setattr(render, "render_segmenter", segmenter)
        return CliRunner().invoke(main, [str(a) for a in args])

    return run


@pytest.fixture(scope="module")
def reference(tmp_path_factory, make_shot, make_segmenter):
    """The 1001-1006 synthetic shot rendered in one run: (shot, {frame: pixels})."""
    folder = tmp_path_factory.mktemp("reference")
    shot = load_shot(make_shot(folder, "1001-1006", SIZE))
    report = render.render_shot(shot, make_segmenter())
    assert report.ok and [r.frame for r in report.written] == shot.frames
    return shot, mattes(shot)


# -- the previous-frame rule ----------------------------------------------------------------------


def test_chunks_give_the_mattes_of_one_run(tmp_path, reference, make_shot, make_segmenter):
    make_shot(tmp_path, "1001-1006", SIZE)
    chunks = [with_output(load_shot(tmp_path / "demo.yaml", frames=spec), tmp_path / "chunks")
              for spec in ("1001-1003", "1004-1006")]
    for chunk in chunks:  # separate calls, separate segmenters: nothing carries over
        assert render.render_shot(chunk, make_segmenter()).ok
    shot, one_run = reference
    chunked = {**mattes(chunks[0]), **mattes(chunks[1])}
    assert sorted(chunked) == shot.frames
    for frame in shot.frames:
        assert np.array_equal(chunked[frame], one_run[frame]), frame
    # the second chunk's first frame used plate 1003, outside its range
    spec, _ = read_exr(chunks[1].output_path(1004))
    assert spec.get_string_attribute("hyperseg/previous") == chunks[1].input_path(1003)


def test_first_frame_uses_itself_unless_the_frame_before_exists(tmp_path, make_shot, make_segmenter):
    shot = load_shot(make_shot(tmp_path, "1001-1002", SIZE, origin=1000), frames="1001")
    segmenter = make_segmenter()
    plate = read_frame(shot.input_path(1001)).rgb
    clicks = shot.clicks_at(1001)

    assert render.previous_input(shot, 1001) is None
    assert render.render_shot(shot, segmenter).ok
    alone = read_matte(shot.output_path(1001))
    expected = segmenter.segment(plate, None, clicks).alpha
    assert np.array_equal(alone, expected.astype(np.float16).astype(np.float32))
    assert read_exr(shot.output_path(1001))[0].get_string_attribute("hyperseg/previous") == ""

    write_synthetic_plate(tmp_path / "plates/demo.1000.exr", *SIZE, seed=7, index=0)  # not in the range
    assert render.previous_input(shot, 1001) == shot.input_path(1000)
    assert render.render_shot(shot, segmenter).ok
    with_1000 = read_matte(shot.output_path(1001))
    previous = read_frame(shot.input_path(1000)).rgb
    expected = segmenter.segment(plate, previous, clicks).alpha
    assert np.array_equal(with_1000, expected.astype(np.float16).astype(np.float32))
    assert not np.array_equal(with_1000, alone)  # X_{t-1} matters
    assert read_exr(shot.output_path(1001))[0].get_string_attribute("hyperseg/previous") == shot.input_path(1000)


# -- the EXR --------------------------------------------------------------------------------------


def test_written_matte_is_segment_shot_frame_with_metadata(tmp_path, make_shot, make_segmenter):
    shot = load_shot(make_shot(tmp_path, "1001", SIZE))
    source = shot.input_path(1001)
    write_image(tmp_path / "plates/demo.1001.exr", read_exr(source)[1], attrs={"PixelAspectRatio": 2.0})
    shot = dataclasses.replace(shot, options=ShotOptions(candidates=True))
    segmenter = make_segmenter()

    report = render.render_shot(shot, segmenter)
    assert report.ok and report.written[0].path == shot.output_path(1001)
    assert report.written[0].seconds > 0 and {"read", "segment", "write"} <= set(report.written[0].timings)
    matte = render.segment_shot_frame(shot, segmenter, 1001)
    spec, pixels = read_exr(shot.output_path(1001))
    assert spec.format == oiio.HALF
    assert spec.channelnames == ("A",) + tuple(f"hyperseg.c{i}" for i in range(1, 5)) + ("hyperseg2.c5", "hyperseg2.c6")
    half = matte.candidates.astype(np.float16).astype(np.float32)
    assert np.array_equal(pixels[..., 0], half[0])
    assert np.array_equal(np.moveaxis(pixels[..., 1:], -1, 0), half)
    assert spec.get_float_attribute("PixelAspectRatio") == 2.0
    meta = {k: spec.get_string_attribute(f"hyperseg/{k}") for k in
            ("source", "frame", "model", "model_version", "package_version", "clicks_hash", "matte")}
    assert meta["source"] == source and meta["frame"] == "1001" and meta["model"] == "tiny-test"
    assert meta["package_version"] == __version__ and meta["model_version"] not in ("", "unknown")
    assert meta["clicks_hash"] == clicks_hash(shot.clicks_at(1001)) and meta["matte"] == "soft"

    binary = dataclasses.replace(with_output(shot, tmp_path / "binary"), options=ShotOptions(matte="binary"))
    path = render.write_shot_matte(binary, 1001, matte, segmenter)
    spec, pixels = read_exr(path)
    assert spec.channelnames == ("A",)
    assert np.array_equal(pixels[..., 0], (matte.alpha > 0.5).astype(np.float32))
    assert spec.get_float_attribute("PixelAspectRatio") == 2.0  # read from the plate's header


# -- atomicity and --skip-existing ----------------------------------------------------------------


def test_sigkill_leaves_complete_files_and_skip_existing_finishes(
    tmp_path, reference, make_shot, tiny_checkpoint, cli
):
    shot = load_shot(make_shot(tmp_path, "1001-1006", SIZE))
    command = [sys.executable, "-m", "hyperseg_vfx.cli", "render", str(tmp_path / "demo.yaml"),
               "--checkpoint", str(tiny_checkpoint), "--device", "cpu"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(shot.output_path(1001)):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no output within 60 s"
            time.sleep(0.01)
        process.kill()  # SIGKILL: no clean-up runs
    finally:
        process.communicate()
    assert process.returncode == -signal.SIGKILL

    folder = tmp_path / "mattes"
    finals = [p for p in folder.iterdir() if ".partial" not in p.name]
    assert finals and len(finals) < len(shot.frames)
    for path in finals:  # every file under a final name is complete
        assert read_matte(path).shape == (SIZE[1], SIZE[0])
    # leftovers of a killed write, and a damaged matte under a final name (its header, with the
    # hyperseg/* metadata, reads; its pixels are cut short): neither counts as done
    stale = folder / temporary_name("demo_matte.1005.exr")
    stale.write_bytes(b"\x76\x2f\x31\x01 cut short")
    other = folder / temporary_name("notes.exr")  # not a temporary of one of this render's outputs
    other.write_bytes(b"keep me")
    whole = finals[0].read_bytes()
    (folder / "demo_matte.1006.exr").write_bytes(whole[: len(whole) // 2])

    result = cli(["render", tmp_path / "demo.yaml", "--skip-existing"])
    assert result.exit_code == 0, result.output
    assert not stale.exists() and other.read_bytes() == b"keep me"
    for path in finals:
        frame = int(path.name.split(".")[1])
        assert re.search(rf"^frame {frame}  skipped  {re.escape(str(path))}$", result.stdout, re.M)
    assert re.search(r"^frame 1006  \d+\.\d\d s  ", result.stdout, re.M)
    _shot, one_run = reference
    done = mattes(shot)
    assert sorted(done) == shot.frames
    for frame in shot.frames:
        assert np.array_equal(done[frame], one_run[frame]), frame


def test_skip_existing_keeps_readable_outputs(tmp_path, make_shot, make_segmenter):
    shot = load_shot(make_shot(tmp_path, "1001-1002", SIZE))
    assert render.render_shot(shot, make_segmenter()).ok
    before = os.stat(shot.output_path(1001)).st_mtime_ns
    report = render.render_shot(shot, make_segmenter(), skip_existing=True)
    assert [r.frame for r in report.skipped] == [1001, 1002] and not report.written
    assert os.stat(shot.output_path(1001)).st_mtime_ns == before
    assert render.output_is_complete(shot.output_path(1001))
    assert not render.output_is_complete(tmp_path / "nothing.exr")


# -- bad input and failures -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda d: d.update(options={"matte": "fuzzy"}), "options.matte"),
        (lambda d: d["clicks"][0]["keys"].update({1001: [500.0, 10.0]}), "clicks[0].keys.1001"),
        (lambda d: d.update(input="plates/nothing.####.exr"), "input"),
        (lambda d: d.update(checkpoint="models/missing.pt"), "checkpoint"),
    ],
    ids=["option", "click-outside", "missing-plates", "missing-checkpoint-in-shot"],
)
def test_invalid_shot_exits_2_naming_the_field(tmp_path, make_shot, cli, change, field):
    import yaml

    path = make_shot(tmp_path, "1001-1002", SIZE)
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))
    result = cli(["render", path])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: {field}")
    assert not (tmp_path / "mattes").exists()


def test_no_checkpoint_exits_2(tmp_path, make_shot, monkeypatch):
    path = make_shot(tmp_path, "1001", SIZE)
    monkeypatch.setattr(render, "DEFAULT_CHECKPOINT", tmp_path / "no-default.pt")
    result = CliRunner().invoke(main, ["render", str(path)])
    assert result.exit_code == 2
    assert "--checkpoint" in result.stderr and "checkpoint init" in result.stderr
    result = CliRunner().invoke(main, ["render", str(path), "--checkpoint", str(tmp_path / "gone.pt")])
    assert result.exit_code == 2 and result.stderr.startswith("Error: checkpoint: file not found")
    assert "gone.pt" in result.stderr
    assert not (tmp_path / "mattes").exists()


def test_resolve_checkpoint_order(tmp_path, make_shot, monkeypatch):
    override, named, default = (tmp_path / n for n in ("override.pt", "named.pt", "default.pt"))
    for p in (override, named, default):
        p.write_bytes(b"")
    shot = load_shot(make_shot(tmp_path, "1001", SIZE))
    monkeypatch.setattr(render, "DEFAULT_CHECKPOINT", default)
    assert render.resolve_checkpoint(shot) == default
    assert render.resolve_checkpoint(dataclasses.replace(shot, checkpoint=str(named))) == named
    assert render.resolve_checkpoint(dataclasses.replace(shot, checkpoint=str(named)), override) == override


def test_checkpoint_option_replaces_a_missing_one_named_by_the_shot(tmp_path, make_shot, tiny_checkpoint, cli):
    import yaml

    path = make_shot(tmp_path, "1001", SIZE, checkpoint=tmp_path / "moved-away.pt")
    assert yaml.safe_load(path.read_text())["checkpoint"].endswith("moved-away.pt")
    result = cli(["render", path, "--checkpoint", tiny_checkpoint])
    assert result.exit_code == 0, result.output


def corrupt(path):
    def damage():
        path.write_bytes(b"this plate was damaged after validation")

    return damage


def test_continue_on_error_renders_the_others_and_exits_1(tmp_path, make_shot, cli):
    path = make_shot(tmp_path, "1001-1004", SIZE)
    shot = load_shot(path)
    result = cli(["render", path, "--continue-on-error", "--openjd-progress", "--preview"],
                 before_render=corrupt(tmp_path / "plates/demo.1002.exr"))
    assert result.exit_code == 1, result.output
    # 1002 is unreadable; 1003 needs it as X_{t-1}, so it fails too (a fixed plate re-renders both)
    assert os.path.isfile(shot.output_path(1001)) and os.path.isfile(shot.output_path(1004))
    assert not os.path.exists(shot.output_path(1002)) and not os.path.exists(shot.output_path(1003))
    assert re.search(r"^frame 1002  FAILED  cannot open image .*demo\.1002\.exr", result.stderr, re.M)
    assert re.search(r"^frame 1003  FAILED  previous frame 1002: cannot open image", result.stderr, re.M)
    assert re.search(rf"^frame 1001  \d+\.\d\d s  {re.escape(shot.output_path(1001))}$", result.stdout, re.M)
    progress = re.findall(r"^openjd_progress: ([\d.]+)$", result.stdout, re.M)
    assert [float(p) for p in progress] == [25.0, 50.0, 75.0, 100.0]
    assert "2 written, 0 skipped, 2 failed of 4 frames" in result.stderr
    assert os.path.isfile(tmp_path / "mattes/demo_preview.png")  # failed frames shown as missing


def test_first_failure_stops_the_render(tmp_path, make_shot, cli):
    path = make_shot(tmp_path, "1001-1004", SIZE)
    shot = load_shot(path)
    result = cli(["render", path], before_render=corrupt(tmp_path / "plates/demo.1002.exr"))
    assert result.exit_code == 1, result.output
    assert [f for f in shot.frames if os.path.exists(shot.output_path(f))] == [1001]
    assert "frame 1002  FAILED" in result.stderr and "stopped at the first failure" in result.stderr


def test_a_failing_write_counts_as_a_failed_frame(tmp_path, make_shot, make_segmenter, monkeypatch):
    shot = load_shot(make_shot(tmp_path, "1001-1002", SIZE))
    real = render.write_shot_matte

    def write(shot, frame, *args, **kwargs):
        if frame == 1001:
            raise render.HypersegError("disk full (simulated)")
        return real(shot, frame, *args, **kwargs)

    monkeypatch.setattr(render, "write_shot_matte", write)
    report = render.render_shot(shot, make_segmenter(), continue_on_error=True)
    assert [(r.frame, r.status, r.error) for r in report.results] == [
        (1001, "failed", "disk full (simulated)"), (1002, "written", None)]
    assert not report.ok and not os.path.exists(shot.output_path(1001))


# -- stopping -------------------------------------------------------------------------------------


def test_cancel_stops_after_the_frame_in_flight(tmp_path, make_shot, make_segmenter):
    shot = load_shot(make_shot(tmp_path, "1001-1004", SIZE))
    cancel = threading.Event()
    segmenter = make_segmenter()
    real = segmenter.segment

    def segment(*args, **kwargs):
        cancel.set()  # e.g. a SIGTERM while the first frame is in the network
        return real(*args, **kwargs)

    segmenter.segment = segment
    report = render.render_shot(shot, segmenter, cancel=cancel)
    assert report.cancelled and not report.ok
    assert [r.frame for r in report.written] == [1001] and report.not_done == [1002, 1003, 1004]
    assert [f for f in shot.frames if os.path.exists(shot.output_path(f))] == [1001]


def test_sigterm_stops_the_command_after_the_frame_in_flight(
    tmp_path, make_shot, make_segmenter, tiny_checkpoint, monkeypatch
):
    path = make_shot(tmp_path, "1001-1003", SIZE)
    shot = load_shot(path)
    guard_calls = []

    def guard(*args):  # if the command did not take SIGTERM over, this catches it, not pytest dying
        guard_calls.append(args)

    previous = signal.signal(signal.SIGTERM, guard)
    segmenter = make_segmenter()
    real = segmenter.segment

    def segment(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)

    segmenter.segment = segment
    monkeypatch.setattr(render, "render_segmenter", lambda *a, **k: segmenter)
    try:
        result = CliRunner().invoke(main, ["render", str(path), "--checkpoint", str(tiny_checkpoint)])
        assert signal.getsignal(signal.SIGTERM) is guard  # the command restored the handler
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert not guard_calls
    assert result.exit_code == 128 + signal.SIGTERM, result.output
    assert "SIGTERM: stopping after the frame in flight" in result.stderr
    assert [f for f in shot.frames if os.path.exists(shot.output_path(f))] == [1001]
    assert read_matte(shot.output_path(1001)).shape == (SIZE[1], SIZE[0])


def test_cached_plate_reader_rereads_only_rewritten_plates(tmp_path, make_shot):
    shot_path = make_shot(tmp_path, frames="1001-1002")
    shot = load_shot(shot_path)
    plate_path = shot.input_path(1001)
    reader = render.CachedPlateReader(max_bytes=64 * 1024**2)
    first = reader(plate_path)
    assert reader(plate_path) is first  # a second click on the frame decodes nothing
    np.testing.assert_array_equal(first.rgb, render.read_plate(plate_path).rgb)
    other = render.read_plate(shot.input_path(1002))
    write_image(plate_path, other.rgb)  # the artist re-renders the plate: new mtime and content
    os.utime(plate_path, ns=(time.time_ns(), time.time_ns() + 10**9))
    again = reader(plate_path)
    assert again is not first and not np.array_equal(again.rgb, first.rgb)


def test_nan_and_inf_pixels_are_replaced_and_logged(tmp_path, make_shot, caplog):
    shot = load_shot(make_shot(tmp_path, frames="1001"))
    path = shot.input_path(1001)
    _spec, pixels = read_image(path)
    pixels[3, 5, 0], pixels[7, 9, 2] = np.nan, np.inf
    write_image(path, pixels, fmt="float")
    with caplog.at_level("WARNING", logger="hyperseg_vfx.render"):
        plate = render.read_plate(path)
    assert np.isfinite(plate.rgb).all()
    assert f"{path}: 2 pixels held NaN or Inf" in caplog.text


@pytest.mark.parametrize("method", ["graphcut", "grabcut"])
def test_options_edges_decides_the_edges_per_shot(tmp_path, make_shot, make_segmenter, method):
    """options.edges graphcut or grabcut renders the band stage's matte (Segmenter.segment(edges=...))
    and records it in the matte's metadata; the default (`model`) keeps the tiny native model's own."""
    shot = load_shot(make_shot(tmp_path, "1001", SIZE))
    segmenter = make_segmenter()
    plate = render.read_plate(shot.input_path(1001))
    own = segmenter.segment(plate.rgb, None, shot.clicks_at(1001), all_candidates=False).alpha
    cut = segmenter.segment(plate.rgb, None, shot.clicks_at(1001), all_candidates=False, edges=method).alpha
    assert not np.array_equal(own, cut)
    np.testing.assert_array_equal(render.segment_shot_frame(shot, segmenter, 1001).alpha, own)
    decided = dataclasses.replace(with_output(shot, tmp_path / "cut"), options=ShotOptions(edges=method))
    np.testing.assert_array_equal(render.segment_shot_frame(decided, segmenter, 1001).alpha, cut)
    render.render_shot(decided, segmenter)
    spec, pixels = read_exr(decided.output_path(1001))
    assert spec.get_string_attribute("hyperseg/edges") == method
    np.testing.assert_array_equal(pixels[..., 0], cut.astype(np.float16).astype(np.float32))
