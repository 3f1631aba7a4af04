"""Several objects in one shot (`objects:`): the schema, the layered EXR, exclusive mattes, chunks
and the farm. Plates are the synthetic star over a textured background (make_shot); the objects
are the star (positive at its centre) and the backdrop (positive in a background corner)."""

from __future__ import annotations

import dataclasses
import os
import re

import numpy as np
import OpenImageIO as oiio
import pytest
import yaml

from hyperseg_vfx.objects import check_layer_name
from hyperseg_vfx.render import render_shot
from hyperseg_vfx.render_objects import exclusive_alphas
from hyperseg_vfx.shot import ShotError, load_shot


def channels(path) -> dict[str, np.ndarray]:
    """channel name -> (H, W) float32 plane of an EXR, as written (half floats widened)."""
    image = oiio.ImageInput.open(str(path))
    assert image is not None, oiio.geterror()
    try:
        names = image.spec().channelnames
        data = image.read_image(0, 0, 0, len(names), oiio.FLOAT)
    finally:
        image.close()
    return {name: data[..., i] for i, name in enumerate(names)}


class _NoAliases(yaml.SafeDumper):
    """Shot files take no YAML aliases: write shared click data out each time."""

    def ignore_aliases(self, data):
        return True


def dump(data) -> str:
    return yaml.dump(data, Dumper=_NoAliases, sort_keys=False)


def assert_farm_equals_one_local_run(shot_file, folder, segmenter) -> None:
    """Every file a farm wrote for the shot (layered and per object) equals, channel for channel
    and bit for bit, what one local render of the same shot into `folder` with `segmenter` writes."""
    shot = load_shot(shot_file)
    local = dataclasses.replace(shot, output=str(folder / "m.####.exr"),
                                output_per_object=str(folder / "{object}.####.exr"))
    assert render_shot(local, segmenter).ok
    for frame in shot.frames:
        for farm, one in zip(shot.output_paths(frame), local.output_paths(frame)):
            a, b = channels(farm), channels(one)
            assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a), f"{farm} differs"


def two_object_shot(make_shot, folder, *, frames="1001-1004", options=None, objects_options=None,
                    overlapping=False, **extra) -> tuple:
    """(two-object shot file, one-object shot data per object): objects `star` and `backdrop`
    built from make_shot's clicks (the star's centre track, a background corner). overlapping:
    the backdrop's positive is the star's centre too (the two mattes then overlap)."""
    one = make_shot(folder, frames=frames, name="sh", checkpoint=extra.pop("checkpoint", None))
    data = yaml.safe_load(one.read_text())
    star_click, corner = data["clicks"]
    backdrop = [dict(corner, label="positive"), dict(star_click, label="negative")]
    if overlapping:
        backdrop = [star_click, dict(corner, label="positive")]
    objects = {"star": {"clicks": [star_click, corner]}, "backdrop": {"clicks": backdrop}}
    for name, opts in (objects_options or {}).items():
        objects[name]["options"] = opts
    multi = {k: v for k, v in data.items() if k != "clicks"}
    multi.update(objects=objects, output="mattes/sh_layers.####.exr", **extra)
    if options:
        multi["options"] = options
    path = folder / "multi.yaml"
    path.write_text(dump(multi))
    singles = {}
    for name, obj in objects.items():
        single = {k: v for k, v in data.items() if k != "clicks"}
        single.update(clicks=obj["clicks"], output=f"mattes/one_{name}.####.exr")
        single["options"] = {**(options or {}), **obj.get("options", {})}
        single["options"].pop("exclusive", None)
        singles[name] = single
    return path, singles


def render_single(folder, name, data, segmenter):
    path = folder / f"one_{name}.yaml"
    path.write_text(dump(data))
    shot = load_shot(path)
    assert render_shot(shot, segmenter).ok
    return shot


@pytest.mark.parametrize("options, objects_options", [
    (None, None),
    ({"candidates": True}, {"backdrop": {"matte": "binary", "candidates": False}}),
    ({"temporal_smoothing": True}, None),
    ({"edges": "graphcut"}, None),  # the shot's edge stage reaches every object
])
def test_two_objects_render_one_exr_whose_layers_equal_the_one_object_renders(
        tmp_path, make_shot, make_segmenter, options, objects_options):
    shot_file, singles = two_object_shot(make_shot, tmp_path, options=options, objects_options=objects_options,
                                         output_per_object="mattes/{object}/sh.####.exr")
    shot = load_shot(shot_file)
    report = render_shot(shot, make_segmenter())
    assert report.ok and len(report.written) == 4
    worst = 0.0
    for name, data in singles.items():
        single = render_single(tmp_path, name, data, make_segmenter())
        for frame in shot.frames:
            layers, alone = channels(shot.output_path(frame)), channels(single.output_path(frame))
            own = channels(tmp_path / "mattes" / name / f"sh.{frame:04d}.exr")
            assert np.array_equal(own["A"], alone["A"]), "an object's own file is its one-object render"
            assert set(own) == set(alone)
            worst = max(worst, float(np.abs(layers[f"{name}.A"] - alone["A"]).max()))
            for channel, plane in alone.items():
                if channel != "A":  # hyperseg.c1 -> star_candidates.c1
                    assert np.array_equal(layers[channel.replace("hyperseg", f"{name}_candidates")], plane)
    # the batched network gives the one-object numbers exactly on this CPU
    assert worst == 0.0
    layers = channels(shot.output_path(1001))
    assert np.array_equal(layers["A"], np.maximum(layers["star.A"], layers["backdrop.A"]))
    assert (layers["star.A"] > 0.5).mean() != pytest.approx((layers["backdrop.A"] > 0.5).mean())


def test_layers_hold_at_most_four_channels_with_names_nuke_keeps(tmp_path, make_shot, make_segmenter):
    shot_file, _ = two_object_shot(make_shot, tmp_path, frames="1001", options={"candidates": True})
    shot = load_shot(shot_file)
    assert render_shot(shot, make_segmenter()).ok
    names = list(channels(shot.output_path(1001)))
    per_layer: dict[str, int] = {}
    for name in names:
        layer = name.rpartition(".")[0] or "rgba"
        per_layer[layer] = per_layer.get(layer, 0) + 1
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", layer), name  # kept as written by Nuke's EXR reader
    assert per_layer == {"rgba": 1, "star": 1, "star_candidates": 4, "star_candidates2": 2,
                         "backdrop": 1, "backdrop_candidates": 4, "backdrop_candidates2": 2}


def test_exclusive_mattes_never_sum_above_one(tmp_path, make_shot, make_segmenter):
    shot_file, _ = two_object_shot(make_shot, tmp_path, frames="1001-1002", overlapping=True,
                                   options={"exclusive": True})
    shot = load_shot(shot_file)
    assert render_shot(shot, make_segmenter()).ok
    plain = dataclasses.replace(shot, options=dataclasses.replace(shot.options, exclusive=False),
                                output=str(tmp_path / "plain.####.exr"))
    assert render_shot(plain, make_segmenter()).ok
    for frame in shot.frames:
        shared = channels(shot.output_path(frame))
        raw = channels(plain.output_path(frame))
        assert (raw["star.A"].astype(np.float64) + raw["backdrop.A"] > 1).any(), "the test needs overlap"
        total = shared["star.A"].astype(np.float64) + shared["backdrop.A"]
        assert total.max() <= 1.0
        within = raw["star.A"].astype(np.float64) + raw["backdrop.A"] <= 0.999
        assert np.abs(shared["star.A"] - raw["star.A"])[within].max() <= 2**-10  # unchanged but rounding


def test_exclusive_alphas_rule():
    rng = np.random.default_rng(0)
    alphas = rng.random((3, 64, 64)).astype(np.float32)
    alphas[:, 0, 0] = [1.0, 1.0, 1.0]
    alphas[:, 0, 1] = [1 / 3, 1 / 3, 1 / 3]
    alphas[:, 0, 2] = [0.2, 0.3, 0.0]
    shared = exclusive_alphas(alphas)
    assert np.array_equal(shared.astype(np.float16).astype(np.float32), shared)  # what the EXR stores
    assert (shared.astype(np.float64).sum(axis=0) <= 1.0).all()
    assert shared[:, 0, 0] == pytest.approx([1 / 3] * 3, abs=1e-3)
    assert shared[:, 0, 2] == pytest.approx([0.2, 0.3, 0.0], abs=2**-11)  # sum <= 1: kept
    over = (alphas.sum(axis=0) > 1) & (alphas.min(axis=0) > 0.1)
    ratio = shared[0][over] / shared[1][over]
    assert over.sum() > 100 and ratio == pytest.approx((alphas[0] / alphas[1])[over], rel=1e-2)  # proportional


def test_binary_exclusive_mattes_claim_each_pixel_once(tmp_path, make_shot, make_segmenter):
    shot_file, _ = two_object_shot(make_shot, tmp_path, frames="1001", overlapping=True,
                                   options={"exclusive": True, "matte": "binary"})
    shot = load_shot(shot_file)
    assert render_shot(shot, make_segmenter()).ok
    layers = channels(shot.output_path(1001))
    assert ((layers["star.A"] + layers["backdrop.A"]) <= 1).all()
    assert set(np.unique(layers["star.A"])) <= {0.0, 1.0}


def test_a_binary_object_and_a_soft_one_never_sum_above_one_when_exclusive(tmp_path, make_shot, make_segmenter):
    """One object binary, the other soft (each object's own `matte`): a pixel the binary object
    claims (its shared alpha > 0.5, so 1 once thresholded) is its alone; elsewhere the shares
    stay. The objects' own files are their layers."""
    shot_file, _ = two_object_shot(make_shot, tmp_path, frames="1001", overlapping=True, options={"exclusive": True},
                                   objects_options={"backdrop": {"matte": "binary"}},
                                   output_per_object="mattes/{object}/sh.####.exr")
    shot = load_shot(shot_file)
    assert render_shot(shot, make_segmenter()).ok
    layers = channels(shot.output_path(1001))
    star, backdrop = layers["star.A"].astype(np.float64), layers["backdrop.A"].astype(np.float64)
    assert set(np.unique(backdrop)) == {0.0, 1.0} and 0 < star[backdrop == 0].max() < 1
    assert (star + backdrop).max() <= 1.0
    assert (star[backdrop == 1] == 0).all()
    for name in ("star", "backdrop"):
        assert np.array_equal(channels(tmp_path / "mattes" / name / "sh.1001.exr")["A"], layers[f"{name}.A"])


def test_chunks_and_skip_existing_give_the_mattes_of_one_run(tmp_path, make_shot, make_segmenter):
    shot_file, _ = two_object_shot(make_shot, tmp_path, frames="1001-1005", options={"temporal_smoothing": True},
                                   output_per_object="mattes/{object}.####.exr")
    shot = load_shot(shot_file)
    whole = dataclasses.replace(shot, output=str(tmp_path / "whole" / "m.####.exr"),
                                output_per_object=str(tmp_path / "whole" / "{object}.####.exr"))
    assert render_shot(whole, make_segmenter()).ok
    for frames in ("1001-1002", "1003", "1004-1005"):
        assert render_shot(load_shot(shot_file, frames=frames), make_segmenter()).ok
    for frame in shot.frames:
        for chunked, one in zip(shot.output_paths(frame), whole.output_paths(frame)):
            a, b = channels(chunked), channels(one)
            assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a), f"{chunked} differs"
    (tmp_path / "mattes" / "star.1003.exr").unlink()  # one object's file missing: the frame is rendered again
    report = render_shot(shot, make_segmenter(), skip_existing=True)
    assert [r.frame for r in report.written] == [1003]


def test_openjd_run_in_chunks_equals_one_local_render(tmp_path, make_shot, make_segmenter, tiny_checkpoint, capfd):
    from hyperseg_vfx.farm import submit_shot

    folder = tmp_path / "shot dir"
    folder.mkdir()
    shot_file, _ = two_object_shot(make_shot, folder, frames="1001-1003", checkpoint=tiny_checkpoint,
                                   output_per_object="mattes/{object}.####.exr")
    result = submit_shot(shot_file, "openjd", chunk_size=2, run_local=True)
    assert result.submitted
    assert re.findall(r"Frame\(CHUNK\[INT\]\) = (\S+)", capfd.readouterr().out) == ["1001-1002", "1003-1003"]
    assert_farm_equals_one_local_run(shot_file, tmp_path / "local", make_segmenter())


def test_render_cli_writes_the_layers(tmp_path, make_shot, tiny_checkpoint):
    from click.testing import CliRunner

    from hyperseg_vfx.cli import main

    shot_file, _ = two_object_shot(make_shot, tmp_path, frames="1001-1002")
    result = CliRunner().invoke(main, ["render", str(shot_file), "--checkpoint", str(tiny_checkpoint)])
    assert result.exit_code == 0, result.output
    assert set(channels(tmp_path / "mattes" / "sh_layers.1002.exr")) == {"A", "star.A", "backdrop.A"}


# -- the schema -----------------------------------------------------------------------------------

CLICK = {"label": "positive", "keys": {1: [5, 5]}}
BASE = {"input": "p.####.exr", "frames": "1-3", "output": "m.####.exr"}


@pytest.mark.parametrize("name", ["actor", "Hair_01", "_tmp", "a" * 64])
def test_nuke_layer_names_are_accepted(name):
    assert check_layer_name(name) is None
    shot = load_shot({**BASE, "objects": {name: {"clicks": [CLICK]}}}, "/tmp", check_files=False)
    assert [o.name for o in shot.objects] == [name]


@pytest.mark.parametrize("name, reason", [
    ("1st", "not a Nuke layer name"), ("my actor", "not a Nuke layer name"), ("a.b", "not a Nuke layer name"),
    ("caf\u00e9", "not a Nuke layer name"), ("rgba", "reserves"), ("depth", "reserves"), ("mask", "reserves"),
    ("hyperseg2", "candidate layers"), ("hair_candidates", "candidate layers"), ("a" * 65, "longer than"),
    (3, "non-empty name"),
])
def test_bad_layer_names_are_refused_in_one_line_naming_them(name, reason):
    with pytest.raises(ShotError, match=reason) as caught:
        load_shot({**BASE, "objects": {"ok": {"clicks": [CLICK]}, name: {"clicks": [CLICK]}}}, "/tmp",
                  check_files=False)
    assert caught.value.field.startswith("objects.") and "\n" not in str(caught.value)
    assert str(caught.value).startswith(f"objects.{name if isinstance(name, int) else ascii(name)[1:-1]}")


@pytest.mark.parametrize("change, field, message", [
    ({"clicks": [CLICK]}, "clicks", "not both"),
    ({"objects": {"a": {"clicks": [CLICK]}, "A": {"clicks": [CLICK]}}}, "objects.A", "only in case"),
    ({"objects": {"a": {"clicks": [dict(CLICK, label="negative")]}}}, "objects.a.clicks", "no positive click"),
    ({"objects": {"a": {"clicks": [CLICK], "options": {"scale": 0.5}}}}, "objects.a.options.scale", "unknown key"),
    ({"objects": {"a": {"clicks": [CLICK]}}, "output_per_object": "o.####.exr"}, "output_per_object", "{object}"),
    ({"objects": {"a": {"clicks": [CLICK]}}, "output_per_object": "o{object}.exr"}, "output_per_object", "frame token"),
    ({"objects": {"m": {"clicks": [CLICK]}}, "output_per_object": "{object}.####.exr"}, "output_per_object",
     "overwrite the layered output"),
    ({"objects": {}}, "objects", "non-empty"),
])
def test_bad_objects_name_the_field(change, field, message):
    data = {**BASE, **change}
    if "objects" not in change:
        data["objects"] = {"a": {"clicks": [CLICK]}}
    with pytest.raises(ShotError, match=re.escape(message)) as caught:
        load_shot(data, "/tmp", check_files=False)
    assert caught.value.field == field


def test_objects_round_trip_through_a_shot_file(tmp_path):
    from hyperseg_vfx.shot import save_shot

    data = {**BASE, "objects": {"b": {"clicks": [CLICK], "options": {"matte": "binary"}}, "a": {"clicks": [CLICK]}},
            "output_per_object": "o/{object}.####.exr", "options": {"exclusive": True}}
    shot = load_shot(data, tmp_path, check_files=False)
    assert [o.name for o in shot.objects] == ["b", "a"] and shot.objects[0].options.matte == "binary"
    assert shot.objects[1].options.matte == "soft" and shot.options.exclusive
    for suffix in (".yaml", ".json"):
        save_shot(shot, tmp_path / f"s{suffix}")
        assert load_shot(tmp_path / f"s{suffix}", check_files=False) == dataclasses.replace(
            shot, path=str(tmp_path / f"s{suffix}"))


def test_clicks_outside_the_frame_name_the_object(tmp_path, make_shot):
    shot_file, _ = two_object_shot(make_shot, tmp_path, frames="1001")
    data = yaml.safe_load(shot_file.read_text())
    data["objects"]["backdrop"]["clicks"][0]["keys"] = {1001: [500, 5]}
    shot_file.write_text(dump(data))
    with pytest.raises(ShotError, match=r"objects\.backdrop\.clicks\[0\]\.keys\.1001 \(frame 1001\): click \(500, 5\)"):
        load_shot(shot_file)


def test_bench_objects_computes_the_features_once_per_frame_for_all_objects(tiny_checkpoint):
    import json

    from click.testing import CliRunner

    from hyperseg_vfx.cli import main

    args = ["bench", "--width", "64", "--height", "48", "--checkpoint", str(tiny_checkpoint), "--objects"]
    result = CliRunner().invoke(main, args + ["1,3", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["rows"]
    assert [r["objects"] for r in rows] == [1, 3]
    # one pass for the full frame; the click update and the one-object edit hit the cache
    assert all(r["feature_computations"] == 1 and r["feature_cache_hits"] == 2 for r in rows)
    assert [r["edit_one_reused"] for r in rows] == [0, 2]  # the edit computes one object, the matte cache serves 2
    assert rows[0]["full_frame_ratio"] == 1.0 and rows[1]["render_s_per_frame"] > 0
    bad = CliRunner().invoke(main, args + ["2,x"])
    assert bad.exit_code == 2 and "--objects" in bad.output


def test_opencue_tasks_render_the_layers_of_one_local_run(tmp_path, make_shot, make_segmenter, tiny_checkpoint,
                                                          monkeypatch):
    """OpenCue (the fake Cuebot's pre-1.0 frame tokens, RQD's environment): each task renders its
    chunk of a two-object shot, layers and objects' files equal to one local render."""
    import torch

    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # as test_farm_opencue's opencue_env
    monkeypatch.setenv("SHOW", "hyperseg")
    for name in ("CUEBOT_HOSTS", "SHOT", "HYPERSEG_VFX_COMMAND", "RENDER_TO", "FACILITY"):
        monkeypatch.delenv(name, raising=False)
    from fake_cuebot import dispatch, rqd_run
    from test_farm_opencue import layers, submit_xml

    folder = tmp_path / "shot dir"
    folder.mkdir()
    shot_file, _ = two_object_shot(make_shot, folder, frames="1001-1003", checkpoint=tiny_checkpoint,
                                   output_per_object="mattes/{object}.####.exr")
    (layer,) = layers(submit_xml(shot_file, tmp_path / "cue", chunk_size=2))
    for task in dispatch(layer, "pre-1.0"):
        # the installed hyperseg-vfx imports this checkout's code (RQD's fixed environment drops PYTHONPATH)
        code = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}
        run = rqd_run(task.command, extra_env={"OMP_NUM_THREADS": str(torch.get_num_threads()), **code})
        assert run.returncode == 0, run.stdout + run.stderr
    assert_farm_equals_one_local_run(shot_file, tmp_path / "local", make_segmenter())


def test_deadline_cloud_bundles_collect_the_objects_files(tmp_path, make_shot, tiny_checkpoint):
    from hyperseg_vfx.farm import submit_shot

    shot_file, _ = two_object_shot(make_shot, tmp_path, frames="1001-1002", checkpoint=tiny_checkpoint,
                                   output_per_object="objects/{object}/####.exr")
    result = submit_shot(shot_file, "deadline-cloud", dry_run=True, out_dir=tmp_path / "bundle")
    refs = yaml.safe_load((tmp_path / "bundle" / "asset_references.yaml").read_text())["assetReferences"]
    assert refs["outputs"]["directories"] == [str(tmp_path / "mattes"), str(tmp_path / "objects")]
    assert "warning" not in result.message
