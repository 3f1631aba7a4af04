"""Path mapping inside shot files: the rules map like openjd-sessions maps PATH parameters, `render
--path-mapping-rules` maps every path of a shot (input, previous plate, checkpoint, output), and a
real `openjd run --path-mapping-rules` of a bundle whose shot folder was moved writes the mattes
into the moved folder, equal to a local render."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_farm_openjd import OPENJD, pixels

from hyperseg_vfx.cli import main
from hyperseg_vfx.farm import submit_shot
from hyperseg_vfx.farm.job import prepare_job
from hyperseg_vfx.farm.openjd import parameter_values, template_values
from hyperseg_vfx.pathmapping import PathMappingError, load_path_mapping, path_mapping_from_document
from hyperseg_vfx.render import render_shot
from hyperseg_vfx.shot import load_shot

HYPERSEG = str(Path(sys.executable).with_name("hyperseg-vfx"))


def rules(*triples) -> dict:
    return {"version": "pathmapping-1.0", "path_mapping_rules": [
        {"source_path_format": f, "source_path": s, "destination_path": d} for f, s, d in triples]}


RULES = rules(("POSIX", "/mnt/show", "/data/show"), ("POSIX", "/mnt/show/sh010/cache", "/fast/cache"),
              ("WINDOWS", "Z:\\Show", "/data/show"), ("POSIX", "/mnt/shows", "/elsewhere"))
PATHS = ["/mnt/show/sh010/plates/a.####.exr", "/mnt/show/sh010/cache/x.pt", "/mnt/showtime/a.exr",
         "/mnt/shows/b.exr", "z:\\show\\sh010\\plates\\a.%04d.exr", "Z:/SHOW/sh010/m.exr", "plates/a.exr",
         "/mnt/show", "C:\\Show\\a.exr", "/mnt/show/sh010/cache"]


def test_rules_map_like_openjd_sessions():
    """Every path maps exactly as openjd-sessions' PathMappingRule (its rules sorted most specific first)."""
    from openjd.sessions import PathMappingRule

    theirs = sorted((PathMappingRule.from_dict(r) for r in RULES["path_mapping_rules"]),
                    key=lambda r: -r._source_path_component_count())
    ours = path_mapping_from_document(RULES)
    for path in PATHS:
        expected = next((m for ok, m in (r.apply(path=path) for r in theirs) if ok), path)
        assert ours.map(path) == expected, path
    assert ours.map("/mnt/show/sh010/cache/x.pt") == "/fast/cache/x.pt"
    assert ours.map("Z:/SHOW/sh010/m.exr") == "/data/show/sh010/m.exr"
    assert ours.map("/mnt/showtime/a.exr") == "/mnt/showtime/a.exr"
    assert path_mapping_from_document({}).map("/mnt/show/a") == "/mnt/show/a"  # openjd's file without rules


@pytest.mark.parametrize("document, message", [
    ([], "must be a JSON object"),
    ({"version": "pathmapping-2.0", "path_mapping_rules": []}, "version must be 'pathmapping-1.0'"),
    (rules(("MAC", "/a", "/b")), r"path_mapping_rules\[0\].source_path_format: must be POSIX or WINDOWS"),
    (rules(("POSIX", "relative", "/b")), r"path_mapping_rules\[0\].source_path: must be an absolute"),
    (rules(("POSIX", "/a\n/b", "/b")), "control character"),
    ({"version": "pathmapping-1.0", "path_mapping_rules": [{"source_path": "/a"}]}, "must have exactly the keys"),
])
def test_bad_rules_are_refused_naming_the_rule(document, message):
    with pytest.raises(PathMappingError, match=message):
        path_mapping_from_document(document)


def moved_shot(tmp_path: Path, make_shot, tiny_checkpoint, frames: str = "1001-1005") -> tuple[Path, Path]:
    """A shot whose input, output and checkpoint are absolute paths into its folder `studio/show`,
    then that folder moved to `worker/show` (the farm's view of the same files). Returns
    (the submitter's shot file path, the moved one)."""
    source = tmp_path / "studio" / "show"
    shot_file = make_shot(source, frames=frames, name="sh010")
    (source / "models").mkdir()
    shutil.copy(tiny_checkpoint, source / "models" / "tiny.pt")
    data = yaml_load(shot_file)
    data.update(input=str(source / data["input"]), output=str(source / data["output"]),
                checkpoint=str(source / "models" / "tiny.pt"))
    shot_file.write_text(json.dumps(data))
    moved = tmp_path / "worker" / "show"
    moved.parent.mkdir()
    return shot_file, moved


def yaml_load(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text())


def test_render_maps_every_path_of_the_shot(tmp_path, make_shot, tiny_checkpoint, make_segmenter):
    shot_file, moved = moved_shot(tmp_path, make_shot, tiny_checkpoint)
    shutil.move(shot_file.parent, moved)
    runner = CliRunner()
    unmapped = runner.invoke(main, ["render", str(moved / "sh010.yaml")])
    assert unmapped.exit_code == 2 and "checkpoint: file not found" in unmapped.output

    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps(rules(("POSIX", str(shot_file.parent), str(moved)))))
    result = runner.invoke(main, ["render", str(moved / "sh010.yaml"), "--frames", "1003-1004",
                                  "--path-mapping-rules", str(rules_file)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (moved / "mattes").iterdir()) == ["sh010_matte.1003.exr", "sh010_matte.1004.exr"]
    assert not (tmp_path / "studio" / "show").exists()

    # Frame 1003 was segmented with the mapped plate 1002 as its previous frame: equal to a whole render.
    shot = load_shot(moved / "sh010.yaml", path_mapping=load_path_mapping(rules_file))
    assert shot.checkpoint == str(moved / "models" / "tiny.pt")
    local = dataclasses.replace(shot, output=str(tmp_path / "local" / "m.####.exr"))
    assert render_shot(local, make_segmenter()).ok
    for frame in (1003, 1004):
        assert np.array_equal(pixels(shot.output_path(frame)), pixels(local.output_path(frame)))


def test_render_refuses_a_bad_rules_file(tmp_path, farm_shot):
    rules_file = tmp_path / "rules.json"
    rules_file.write_text('{"version": "pathmapping-1.0", "path_mapping_rules": [{"source_path": 1}]}')
    result = CliRunner().invoke(main, ["render", str(farm_shot()), "--path-mapping-rules", str(rules_file)])
    assert result.exit_code == 2 and f"path mapping rules {rules_file}" in result.output
    assert "Traceback" not in result.output


def test_windows_rules_map_to_this_hosts_separators():
    mapping = path_mapping_from_document(rules(("WINDOWS", "\\\\fileserver\\show", "/data/show")))
    assert mapping.map("\\\\FileServer\\show\\sh010\\plates\\a.####.exr") == "/data/show/sh010/plates/a.####.exr"


def test_openjd_run_with_path_mapping_rules_on_a_moved_folder(tmp_path, make_shot, tiny_checkpoint,
                                                              make_segmenter):
    """The bundle is written on the 'studio' side; the folder then moves; `openjd run` with a rule
    studio -> worker maps the PATH parameters itself and hands the rules to each task as
    {{Session.PathMappingRulesFile}}, which maps the paths inside the shot file."""
    shot_file, moved = moved_shot(tmp_path, make_shot, tiny_checkpoint)
    job = prepare_job(shot_file, chunk_size=2, gpus=0, priority=50, name=None)
    submit_shot(shot_file, "openjd", chunk_size=2, dry_run=True, out_dir=shot_file.parent / "bundle")
    values = template_values(parameter_values(job)) | {"HypersegCommand": HYPERSEG}
    shutil.move(shot_file.parent, moved)
    command = [OPENJD, "run", str(moved / "bundle" / "template.yaml"), "--job-param", json.dumps(values),
               "--path-mapping-rules", json.dumps(rules(("POSIX", str(shot_file.parent), str(moved))))]
    run = subprocess.run(command, capture_output=True, text=True)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-4000:]
    assert re.findall(r"Frame\(CHUNK\[INT\]\) = (\S+)", log) == ["1001-1002", "1003-1004", "1005-1005"]

    shot = load_shot(moved / "sh010.yaml", path_mapping=path_mapping_from_document(
        rules(("POSIX", str(shot_file.parent), str(moved)))))
    local = dataclasses.replace(shot, output=str(tmp_path / "local" / "m.####.exr"))
    assert render_shot(local, make_segmenter()).ok
    for frame in shot.frames:
        farm = pixels(moved / "mattes" / f"sh010_matte.{frame}.exr")
        assert np.array_equal(farm, pixels(local.output_path(frame))), f"frame {frame} differs"
    assert not (tmp_path / "studio" / "show").exists()


def test_the_readmes_local_path_mapping_command_runs(tmp_path, make_shot, tiny_checkpoint):
    """The README's own `openjd run ... --path-mapping-rules file://RULES` line, its placeholders
    filled in, on a bundle whose shot folder moved: it maps the shot and writes every matte."""
    import os
    import shlex

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    (line,) = re.findall(r"^ *(openjd run .*--path-mapping-rules file://RULES)$", readme, re.MULTILINE)
    shot_file, moved = moved_shot(tmp_path, make_shot, tiny_checkpoint)
    submit_shot(shot_file, "openjd", dry_run=True, out_dir=shot_file.parent / "bundle")
    shutil.move(shot_file.parent, moved)
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps(rules(("POSIX", str(shot_file.parent), str(moved)))))
    words = [word.replace("BUNDLE", str(moved / "bundle")).replace("SHOT", str(shot_file))  # the studio's paths
             .replace("MATTES", str(shot_file.parent / "mattes")).replace("RULES", str(rules_file))
             for word in shlex.split(line)]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    run = subprocess.run([OPENJD, *words[1:]], capture_output=True, text=True, env=env)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    assert sorted(p.name for p in (moved / "mattes").glob("*.exr")) == [f"sh010_matte.{f}.exr" for f in range(1001, 1006)]
