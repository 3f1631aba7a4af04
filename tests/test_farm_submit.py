"""submit_shot: bad input fails before anything is written or submitted, the job folder rule, the
OpenJD/Deadline Cloud bundle (golden files), Deadline Cloud through its CLI, the `submit` command."""

from __future__ import annotations

import os
import stat
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from hyperseg_vfx.cli import main
from hyperseg_vfx.farm import FarmInputError, FarmSubmitError, submit_shot
from hyperseg_vfx.farm.outdir import MARKER, default_out_dir
from hyperseg_vfx.shot import ShotError

BUNDLE = ("template.yaml", "parameter_values.yaml", "asset_references.yaml")


def fake_tool(folder: Path, name: str, script: str) -> Path:
    """An executable `folder/name` running the bash `script` (a stand-in for a farm CLI)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/bash\n" + textwrap.dedent(script))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def deadline_cli(tmp_path, monkeypatch):
    """deadline_cli(configured=True) -> log file: a `deadline` CLI on PATH that answers like the
    real one (`config get`, `bundle submit --yes DIR` printing the job id) and logs its calls."""

    def install(configured: bool = True) -> Path:
        log = tmp_path / "deadline.log"
        farm, queue = ("farm-0123456789abcdef0123456789abcdef", "queue-0123456789abcdef0123456789abcdef") \
            if configured else ("", "")
        fake_tool(tmp_path / "bin", "deadline", f"""\
            echo "$*" >> '{log}'
            case "$1 $2" in
              "config get")
                case "$3" in defaults.farm_id) echo "{farm}";; defaults.queue_id) echo "{queue}";; esac;;
              "bundle submit")
                [ "$3" = --yes ] && [ -f "$4/template.yaml" ] || {{ echo "bad bundle" >&2; exit 1; }}
                echo "Submitting to Queue: render"
                echo "Waiting for Job to be created..."
                echo "Submitted job bundle:"
                echo "   $4"
                echo "Job creation completed successfully"
                echo "job-00112233445566778899aabbccddeeff";;
            esac
            """)
        monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
        return log

    return install


# -- bad input: nothing written, nothing submitted ------------------------------------------------


def _nothing_written(shot: Path) -> None:
    assert not (shot.parent / "farm").exists()


def test_unknown_farm_fails_first(farm_shot):
    shot = farm_shot()
    with pytest.raises(FarmInputError) as info:
        submit_shot(shot, "tractor")
    assert info.value.field == "farm" and "openjd, deadline-cloud, opencue, deadline10" in str(info.value)
    _nothing_written(shot)


def test_invalid_shot_fails_before_writing(farm_shot, deadline_cli):
    log = deadline_cli()
    shot = farm_shot()
    data = yaml.safe_load(shot.read_text())
    data["clicks"] = [c for c in data["clicks"] if c["label"] == "negative"]
    shot.write_text(yaml.safe_dump(data))
    with pytest.raises(ShotError) as info:
        submit_shot(shot, "deadline-cloud")
    assert info.value.field == "clicks"
    _nothing_written(shot)
    assert not log.exists()


def test_frames_outside_the_plates_fail_before_writing(farm_shot, deadline_cli):
    log = deadline_cli()
    shot = farm_shot("1001-1005")
    data = yaml.safe_load(shot.read_text())
    data["frames"] = "1001-1008"
    shot.write_text(yaml.safe_dump(data))
    with pytest.raises(ShotError) as info:
        submit_shot(shot, "deadline-cloud")
    assert info.value.field == "input" and info.value.frame == 1006
    assert "3 of 8 frames missing" in str(info.value)
    _nothing_written(shot)
    assert not log.exists()


@pytest.mark.parametrize("farm, kwargs, field", [
    ("openjd", {"chunk_size": 0}, "chunk_size"),
    ("openjd", {"gpus": -1}, "gpus"),
    ("opencue", {"priority": 101}, "priority"),
    ("deadline10", {"name": "a\nPlugin=CommandLine"}, "name"),
    ("opencue", {"run_local": True}, "run_local"),
    ("openjd", {"run_local": True, "dry_run": True}, "run_local"),
])
def test_bad_arguments_name_their_field(farm_shot, farm, kwargs, field):
    shot = farm_shot()
    with pytest.raises(FarmInputError) as info:
        submit_shot(shot, farm, **kwargs)
    assert info.value.field == field
    _nothing_written(shot)


def test_missing_shot_file(tmp_path):
    with pytest.raises(FarmInputError) as info:
        submit_shot(tmp_path / "nope.yaml", "openjd")
    assert info.value.field == "shot"


# -- the job folder -------------------------------------------------------------------------------


def test_default_folder_and_regeneration(farm_shot):
    shot = farm_shot()
    first = submit_shot(shot, "openjd", chunk_size=2)
    assert first.out_dir == default_out_dir(shot, "openjd") == shot.parent / "farm" / "sh010_openjd"
    assert first.files == [str(first.out_dir / name) for name in BUNDLE]
    assert (first.out_dir / MARKER).is_file()
    again = submit_shot(shot, "openjd", chunk_size=3)  # ours, same shot and farm: regenerated
    values = yaml.safe_load((again.out_dir / "parameter_values.yaml").read_text())["parameterValues"]
    assert {"name": "ChunkSize", "value": 3} in values


def test_refuses_a_folder_that_is_not_its_own(farm_shot, tmp_path):
    shot = farm_shot()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "template.yaml").write_text("someone else's\n")
    with pytest.raises(FarmInputError) as info:
        submit_shot(shot, "openjd", out_dir=foreign)
    assert info.value.field == "out_dir"
    assert (foreign / "template.yaml").read_text() == "someone else's\n"

    submit_shot(shot, "openjd", out_dir=tmp_path / "ours")
    with pytest.raises(FarmInputError, match="holds the openjd job"):
        submit_shot(shot, "deadline10", out_dir=tmp_path / "ours")
    (tmp_path / "file").write_text("")
    with pytest.raises(FarmInputError, match="not a folder"):
        submit_shot(shot, "openjd", out_dir=tmp_path / "file")


def test_an_edited_job_file_is_not_replaced_unless_asked(farm_shot, tmp_path):
    """Part of issue 14: a wrangler's edit of a written job file survives a regeneration; so does a
    file of theirs with a job file's name that hyperseg-vfx never wrote."""
    shot = farm_shot()
    out = tmp_path / "job"
    submit_shot(shot, "deadline10", dry_run=True, out_dir=out)
    edited = (out / "job_info.job").read_text() + "Pool=gpu\n"
    (out / "job_info.job").write_text(edited)
    with pytest.raises(FarmInputError, match="job_info.job was changed since hyperseg-vfx wrote it"):
        submit_shot(shot, "deadline10", dry_run=True, out_dir=out, chunk_size=3)
    assert (out / "job_info.job").read_text() == edited
    result = CliRunner().invoke(main, ["submit", str(shot), "--farm", "deadline10", "--dry-run", "--out", str(out)])
    assert result.exit_code == 2 and "--overwrite replaces it" in result.output
    result = CliRunner().invoke(main, ["submit", str(shot), "--farm", "deadline10", "--dry-run", "--out", str(out),
                                       "--overwrite", "--chunk-size", "3"])
    assert result.exit_code == 0, result.output
    assert "ChunkSize=3" in (out / "job_info.job").read_text()
    submit_shot(shot, "deadline10", dry_run=True, out_dir=out, chunk_size=4)  # unchanged since: regenerated


# -- the bundle -----------------------------------------------------------------------------------


def test_bundle_golden_files(farm_shot, tiny_checkpoint, golden, tmp_path, monkeypatch):
    monkeypatch.delenv("HYPERSEG_VFX_COMMAND", raising=False)
    shot = farm_shot()
    result = submit_shot(shot, "openjd", chunk_size=2, gpus=1, priority=70, out_dir=tmp_path / "bundle")
    for name in BUNDLE:
        golden(f"farm/openjd/{name}", (result.out_dir / name).read_text(),
               shot_dir=shot.parent, checkpoint=tiny_checkpoint)
    assert "3 tasks of up to 2 frames" in result.message and not result.submitted
    assert result.command[1:3] == ["run", str(result.out_dir / "template.yaml")]


def test_bundle_paths_are_absolute_and_the_command_configurable(farm_shot, tmp_path, monkeypatch):
    monkeypatch.setenv("HYPERSEG_VFX_COMMAND", "/opt/hyperseg-vfx/bin/hyperseg-vfx")
    monkeypatch.chdir(farm_shot().parent)
    result = submit_shot(Path("sh010.yaml"), "openjd", out_dir=Path("relative bundle"))
    assert result.out_dir == tmp_path / "shot dir" / "relative bundle"
    values = {v["name"]: v["value"] for v in
              yaml.safe_load((result.out_dir / "parameter_values.yaml").read_text())["parameterValues"]}
    assert values["ShotFile"] == str(tmp_path / "shot dir" / "sh010.yaml")
    assert values["HypersegCommand"] == "/opt/hyperseg-vfx/bin/hyperseg-vfx"


def test_the_command_may_be_the_plugins_json_list_of_one_path(farm_shot, tmp_path, monkeypatch):
    import json

    executable = "C:\\Program Files\\hyperseg\\Scripts\\hyperseg-vfx.exe"  # as the Nuke plugin takes it
    monkeypatch.setenv("HYPERSEG_VFX_COMMAND", json.dumps([executable]))
    result = submit_shot(farm_shot(), "openjd", out_dir=tmp_path / "bundle", dry_run=True)
    values = {v["name"]: v["value"] for v in
              yaml.safe_load((result.out_dir / "parameter_values.yaml").read_text())["parameterValues"]}
    assert values["HypersegCommand"] == executable
    monkeypatch.setenv("HYPERSEG_VFX_COMMAND", json.dumps(["/venv/bin/python", "-m", "hyperseg_vfx.cli"]))
    with pytest.raises(FarmInputError) as error:  # a farm task runs one executable
        submit_shot(farm_shot(), "openjd", out_dir=tmp_path / "other", dry_run=True)
    assert error.value.field == "HYPERSEG_VFX_COMMAND" and not (tmp_path / "other").exists()


def test_non_contiguous_frames_become_an_openjd_range(farm_shot, tmp_path):
    result = submit_shot(farm_shot("1001-1009x2,1020-1022"), "openjd", out_dir=tmp_path / "b")
    values = yaml.safe_load((result.out_dir / "parameter_values.yaml").read_text())["parameterValues"]
    assert {"name": "Frames", "value": "1001-1009:2,1020-1022"} in values
    refs = yaml.safe_load((result.out_dir / "asset_references.yaml").read_text())["assetReferences"]
    plates = [Path(p).name for p in refs["inputs"]["filenames"] if p.endswith(".exr")]
    assert plates == [f"sh010.{f}.exr" for f in (1001, 1003, 1005, 1007, 1009, 1020, 1021, 1022)]


def test_asset_references_include_the_plate_before_the_first_frame(farm_shot, tmp_path):
    shot = farm_shot("1000-1005")
    data = yaml.safe_load(shot.read_text())
    data["frames"] = "1001-1005"
    shot.write_text(yaml.safe_dump(data))
    result = submit_shot(shot, "openjd", out_dir=tmp_path / "b")
    refs = yaml.safe_load((result.out_dir / "asset_references.yaml").read_text())["assetReferences"]
    assert str(shot.parent / "plates" / "sh010.1000.exr") in refs["inputs"]["filenames"]


# -- Deadline Cloud -------------------------------------------------------------------------------


def test_deadline_cloud_without_the_cli_says_what_to_run(farm_shot, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    shot = farm_shot()
    result = submit_shot(shot, "deadline-cloud")
    assert not result.submitted and result.job_id is None
    assert str(result.out_dir) in result.message and "pip install deadline" in result.message
    assert result.command == ["deadline", "bundle", "submit", "--yes", str(result.out_dir)]
    openjd_bundle = submit_shot(shot, "openjd").out_dir
    for name in BUNDLE:  # the same bundle as openjd's
        assert (result.out_dir / name).read_text() == (openjd_bundle / name).read_text()


def test_deadline_cloud_submits_with_the_cli(farm_shot, deadline_cli):
    log = deadline_cli()
    result = submit_shot(farm_shot(), "deadline-cloud")
    assert result.submitted and result.job_id == "job-00112233445566778899aabbccddeeff"
    assert log.read_text().splitlines()[-1] == f"bundle submit --yes {result.out_dir}"


def test_deadline_cloud_unconfigured_or_dry_run_does_not_submit(farm_shot, deadline_cli):
    log = deadline_cli(configured=False)
    shot = farm_shot()
    result = submit_shot(shot, "deadline-cloud")
    assert not result.submitted and "defaults.farm_id or defaults.queue_id" in result.message
    assert "bundle submit" not in log.read_text()
    dry = submit_shot(shot, "deadline-cloud", dry_run=True)
    assert not dry.submitted and dry.command[:3] == ["deadline", "bundle", "submit"]


def test_deadline_cloud_refusal_is_an_error(farm_shot, tmp_path, monkeypatch):
    fake_tool(tmp_path / "bin", "deadline", """\
        [ "$1" = config ] && { echo value; exit 0; }
        echo "AccessDeniedException: not authorised" >&2; exit 1
        """)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(FarmSubmitError, match="AccessDeniedException"):
        submit_shot(farm_shot(), "deadline-cloud")


# -- the command ----------------------------------------------------------------------------------


def test_submit_command(farm_shot, tmp_path):
    shot = farm_shot()
    runner = CliRunner()
    result = runner.invoke(main, ["submit", str(shot), "--farm", "deadline10", "--out", str(tmp_path / "d"),
                                  "--chunk-size", "3", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'd' / 'job_info.job'}" in result.output and "(dry run)" in result.output
    assert "  deadlinecommand " in result.output
    bad = runner.invoke(main, ["submit", str(shot), "--farm", "tractor"])
    assert bad.exit_code == 2 and "Error: farm: unknown farm 'tractor'" in bad.output


def test_a_frame_token_in_the_output_folder_uploads_the_folder_above_it(farm_shot, tmp_path):
    """`mattes/####/sh010.exr` writes mattes/1001/..., so the output root is `mattes`, not a folder
    literally named `####` that job attachments would never find anything in."""
    shot = farm_shot("1001-1002")
    data = yaml.safe_load(shot.read_text())
    data["output"] = "mattes/####/sh010_matte.exr"
    shot.write_text(yaml.safe_dump(data))
    result = submit_shot(shot, "deadline-cloud", dry_run=True, out_dir=tmp_path / "bundle")
    refs = yaml.safe_load((tmp_path / "bundle" / "asset_references.yaml").read_text())["assetReferences"]
    assert refs["outputs"]["directories"] == [str(shot.parent / "mattes")]
    assert "warning" not in result.message


def test_deadline_cloud_warns_about_paths_outside_the_bundle_roots():
    from hyperseg_vfx.farm.deadline_cloud import outside_roots

    refs = {"assetReferences": {"inputs": {"filenames": ["/show/sh010.yaml", "/show/plates/p.1001.exr"],
                                           "directories": []},
                                "outputs": {"directories": ["/show/mattes"]}}}
    assert outside_roots(["/show/plates/p.1001.exr", "/show/mattes/m.1001.exr", "/show/mattes2/m.exr",
                          "/other/model.pt"], refs) == ["/show/mattes2/m.exr", "/other/model.pt"]


@pytest.mark.parametrize("farm, tool", [("deadline10", "deadlinecommand"), ("deadline-cloud", "deadline")])
def test_submit_without_the_engines_cli_exits_3(farm_shot, tmp_path, monkeypatch, farm, tool):
    """Files written, nothing submitted: a script must be able to tell (exit 3, not 0)."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("DEADLINE_PATH", raising=False)
    result = CliRunner().invoke(main, ["submit", str(farm_shot()), "--farm", farm, "--out", str(tmp_path / "job")])
    assert result.exit_code == 3, result.output
    assert "not installed" in result.output and any((tmp_path / "job").iterdir())
    assert f"  {tool} " in result.output  # the command to run where the tool is


def test_submit_exits_0_when_the_engine_accepts_the_job(farm_shot, deadline_cli):
    deadline_cli()
    result = CliRunner().invoke(main, ["submit", str(farm_shot()), "--farm", "deadline-cloud"])
    assert result.exit_code == 0, result.output
    assert "Submitted the job bundle" in result.output


def test_submit_frames_renders_only_those_and_refuses_others(farm_shot, tmp_path):
    shot = farm_shot("1001-1005")
    runner = CliRunner()
    done = runner.invoke(main, ["submit", str(shot), "--farm", "openjd", "--frames", "1002-1004", "--dry-run",
                                "--out", str(tmp_path / "b")])
    assert done.exit_code == 0, done.output
    values = yaml.safe_load((tmp_path / "b" / "parameter_values.yaml").read_text())["parameterValues"]
    assert {"name": "Frames", "value": "1002-1004"} in values
    outside = runner.invoke(main, ["submit", str(shot), "--farm", "openjd", "--frames", "1004-1007", "--dry-run",
                                   "--out", str(tmp_path / "c")])
    assert outside.exit_code == 2 and not (tmp_path / "c").exists()
    assert "Error: frames (frame 1006): 1004-1007 asks for 2 frame(s) outside the shot's frames 1001-1005" \
        in outside.output
