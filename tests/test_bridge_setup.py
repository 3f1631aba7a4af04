"""Issue 25 on the bridge's side: the project's OCIO config travels with the colour space (a
segment, a shot file, a farm job) and obeys the allowed folders like a plate; a bridge started
with an allowed-folders file (as the Nuke plugin starts one) works from any folder, takes folders
added to the file without a restart, and stops by itself when idle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from bridge_server import BridgeClient, BridgeError, free_port, run_serve, serve_command
from click.testing import CliRunner
from image_files import read_image, write_image, write_ocio_config

from hyperseg_vfx.cli import main
from hyperseg_vfx.shot import ShotError, load_shot

SIZE = (96, 64)


def doubled_copy(shot, folder: Path) -> str:
    """The shot's plates with every value doubled, in `folder`; returns their pattern."""
    folder.mkdir(parents=True)
    for frame in shot.frames:
        _, pixels = read_image(shot.input_path(frame))
        write_image(folder / f"double.{frame:04d}.exr", pixels * 2, fmt="float")
    return str(folder / "double.####.exr")


def alpha(path) -> np.ndarray:
    return read_image(path)[1][..., 0]


def segment(client, shot, output, **kwargs):
    return client.segment(input=kwargs.pop("input", shot.input), frame=1002, clicks=shot.to_dict()["clicks"],
                          output=str(output), **kwargs)


@pytest.fixture(scope="module")
def show(bridge, make_shot):
    """A shot in the bridge's folders with a show OCIO config (`show_plate` reads as twice its
    values) and the same plates doubled."""
    folder = bridge.root / "ocio_show"
    shot = load_shot(make_shot(folder, "1001-1003", SIZE))
    config = write_ocio_config(folder / "ocio" / "config.ocio", gain=2.0)
    return shot, str(config), doubled_copy(shot, folder / "double")


def test_segment_converts_with_the_sent_ocio_config(bridge, show, tmp_path):
    shot, config, doubled = show
    client, out = bridge.client, bridge.root / "ocio_out"
    with_config = segment(client, shot, out / "a.####.exr", colorspace="show_plate", ocio_config=config)
    reference = segment(client, shot, out / "b.####.exr", input=doubled, colorspace="linear")
    plain = segment(client, shot, out / "c.####.exr", colorspace="linear")
    assert not plain["timings"]["features_cached"]  # the same file, converted another way: new features
    np.testing.assert_allclose(alpha(with_config["output"]), alpha(reference["output"]), atol=2e-3)
    assert np.abs(alpha(with_config["output"]) - alpha(plain["output"])).max() > 1e-2  # the config mattered

    outside = write_ocio_config(tmp_path / "config.ocio")  # not in the bridge's folders
    refusals = [
        (dict(colorspace="show_plate", ocio_config=str(outside)), (403, "forbidden_path", "ocio_config")),
        (dict(colorspace="show_plate", ocio_config=str(bridge.root / "none.ocio")),
         (422, "invalid_shot", "ocio_config")),
        (dict(colorspace="ACEScg", ocio_config=config), (422, "invalid_shot", "colorspace")),
        (dict(colorspace="show_plate", ocio_config="relative/config.ocio"), (422, "relative_path", "ocio_config")),
    ]
    for fields, expected in refusals:
        with pytest.raises(BridgeError) as error:
            segment(client, shot, out / "d.####.exr", **fields)
        assert (error.value.status, error.value.code, error.value.field) == expected, error.value
    assert not (out / "d.1002.exr").exists()


def test_the_bridges_plate_cache_sees_an_edited_config(tmp_path):
    from hyperseg_vfx.render import CachedPlateReader

    pixels = np.random.default_rng(5).uniform(0, 0.3, (8, 12, 3))
    plate = write_image(tmp_path / "p.exr", pixels, fmt="float")
    config = str(write_ocio_config(tmp_path / "ocio" / "config.ocio", gain=2.0))
    read = CachedPlateReader(2**20)
    doubled = read(plate, "show_plate", config).rgb
    assert read(plate, "show_plate", config).rgb is doubled  # cached
    write_ocio_config(tmp_path / "ocio" / "config.ocio", gain=3.0)  # the show edits its config
    tripled = read(plate, "show_plate", config).rgb
    np.testing.assert_allclose(tripled, read(write_image(tmp_path / "t.exr", pixels * 3, fmt="float"), "linear").rgb,
                               atol=2e-4)


def test_a_shot_file_carries_its_ocio_config_to_render_and_the_farm(bridge, show, tmp_path):
    from hyperseg_vfx.farm import openjd
    from hyperseg_vfx.farm.job import prepare_job

    shot, config, _ = show
    folder = Path(shot.path).parent
    data = dict(yaml.safe_load(Path(shot.path).read_text()), colorspace="show_plate",
                ocio_config="ocio/config.ocio", output=str(tmp_path / "rendered.####.exr"))
    shot_file = folder / "with_config.yaml"
    shot_file.write_text(yaml.safe_dump(data))
    loaded = load_shot(shot_file)
    assert loaded.ocio_config == config and loaded.to_dict(relative_to=folder)["ocio_config"] == "ocio/config.ocio"
    run = CliRunner().invoke(main, ["render", str(shot_file), "--frames", "1002", "--device", "cpu",
                                    "--checkpoint", str(bridge_checkpoint(bridge))])
    assert run.exit_code == 0, run.output
    bridged = segment(bridge.client, shot, bridge.root / "ocio_out" / "e.####.exr", colorspace="show_plate",
                      ocio_config=config)
    np.testing.assert_array_equal(alpha(tmp_path / "rendered.1002.exr"), alpha(bridged["output"]))

    job = prepare_job(shot_file, chunk_size=2, gpus=0, priority=50, name=None)
    assert config in job.input_files
    assert os.path.dirname(config) in openjd.asset_references(job)["assetReferences"]["inputs"]["directories"]
    with pytest.raises(ShotError) as error:
        load_shot(dict(data, ocio_config="ocio/missing.ocio"), folder)
    assert error.value.field == "ocio_config"


def bridge_checkpoint(bridge) -> str:
    return bridge.command[bridge.command.index("--checkpoint") + 1]


def private_file(path: Path, lines) -> None:
    """Replace `path` by a file of `lines` that only its owner may write (as the plugin does)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(f"{line}\n" for line in lines))
    tmp.chmod(0o600)
    os.replace(tmp, path)


def test_a_bridge_with_a_roots_file_starts_anywhere_widens_and_stops_when_idle(tmp_path, make_shot,
                                                                                tiny_checkpoint):
    first = load_shot(make_shot(tmp_path / "show_a", "1001-1003", SIZE))
    second = load_shot(make_shot(tmp_path / "show_b", "1001-1003", SIZE))
    roots = tmp_path / "config" / "bridge_roots"
    roots.parent.mkdir()
    private_file(roots, [tmp_path / "show_a"])
    port = free_port()
    command = serve_command(tiny_checkpoint, port, []) + ["--allow-roots-file", str(roots), "--idle-exit", "4"]
    log = tmp_path / "bridge.log"
    with open(log, "wb") as out:  # from `/`, as Nuke started from a desktop icon may be
        process = subprocess.Popen(command, cwd="/", stdout=out, stderr=subprocess.STDOUT,
                                   env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    try:
        client = BridgeClient(f"http://127.0.0.1:{port}", timeout=120)
        client.wait_for_health(timeout=120)
        segment(client, first, first.output)  # show_a is listed
        with pytest.raises(BridgeError) as error:
            segment(client, second, second.output)
        assert (error.value.status, error.value.field) == (403, "input")
        private_file(roots, [tmp_path / "show_a", tmp_path / "show_b"])  # the plugin adds a folder
        assert segment(client, second, second.output)["output"] == second.output_path(1002)
        assert process.poll() is None
        started = time.monotonic()
        assert process.wait(60) == 0, log.read_text()  # idle: it stops by itself
        assert time.monotonic() - started >= 3, log.read_text()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
    assert "--idle-exit" in log.read_text() and "Traceback" not in log.read_text()


def test_a_roots_file_others_may_write_is_refused(tmp_path, tiny_checkpoint):
    roots = tmp_path / "bridge_roots"
    roots.write_text(f"{tmp_path}\n")
    roots.chmod(0o664)
    run = run_serve(tiny_checkpoint, [], "--allow-roots-file", str(roots))
    assert run.returncode == 2 and "other users can write it" in run.stderr, run.stderr
    roots.write_text("relative/folder\n")
    roots.chmod(0o600)
    run = run_serve(tiny_checkpoint, [], "--allow-roots-file", str(roots))
    assert run.returncode == 2 and "'relative/folder' is not an absolute folder" in run.stderr, run.stderr


def test_the_idle_watch_waits_for_jobs():
    from types import SimpleNamespace

    from hyperseg_vfx.bridge.idle import Activity, stop_when_idle

    counts = {"running": 1, "queued": 0}
    bridge = SimpleNamespace(activity=Activity(), jobs=SimpleNamespace(counts=lambda: counts))
    server = SimpleNamespace(should_exit=False)
    watch = stop_when_idle(server, bridge, 0.2)
    time.sleep(0.6)
    assert not server.should_exit  # a job is running: not idle
    counts["running"] = 0
    watch.join(5)
    assert server.should_exit
