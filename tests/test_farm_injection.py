"""Part of issue 14: no field can inject lines into a farm job file. A line break in the shot's
output path once put `PostJobScript=...` and `InitialStatus=...` lines into job_info.job; every
field that reaches a Deadline job file, OpenCue XML or an OpenJD bundle is now refused when it
holds a control character (the error names the field), before anything is written."""

from __future__ import annotations

import re
import json

import pytest

from hyperseg_vfx.shot import ShotError
from click.testing import CliRunner

from hyperseg_vfx.cli import main
from hyperseg_vfx.farm import FARMS, FarmInputError, submit_shot

INJECTION = "\nPostJobScript=/tmp/evil.py\nInitialStatus=Active\nX="


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("CUEBOT_HOSTS", "DEADLINE_PATH", "HYPERSEG_DEADLINE_POOL", "HYPERSEG_DEADLINE_GROUP",
                 "HYPERSEG_VFX_COMMAND"):
        monkeypatch.delenv(name, raising=False)


def poisoned(shot_file, field: str):
    """The shot file with the injection inside its `field` path (written as JSON, which YAML reads)."""
    import yaml

    data = yaml.safe_load(shot_file.read_text())
    data[field] = data[field].replace("/", "/x" + INJECTION + "/", 1) if field != "checkpoint" else \
        data[field] + INJECTION
    shot_file.write_text(json.dumps(data))
    return shot_file


@pytest.mark.parametrize("farm", list(FARMS))
def test_cli_submit_refuses_a_line_break_in_the_output_path(farm_shot, farm):
    shot = poisoned(farm_shot(), "output")
    result = CliRunner().invoke(main, ["submit", str(shot), "--farm", farm, "--dry-run"])
    assert result.exit_code == 2, result.output
    # The shot's own validator (issue 14) refuses it before the farm writers' check: either names the field.
    assert re.match(r"Error: (shot\.)?output: .*control character", result.output), result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (shot.parent / "farm").exists()


@pytest.mark.parametrize("field", ["input", "checkpoint"])
def test_every_shot_path_is_checked(farm_shot, tmp_path, field):
    shot = poisoned(farm_shot(), field)
    # Loading the shot (issue 14's validator) refuses it first; the farm writers' own check is the second line.
    with pytest.raises((FarmInputError, ShotError), match=rf"^(shot\.)?{field}: .*control character"):
        submit_shot(shot, "deadline10", dry_run=True, out_dir=tmp_path / "job")
    assert not (tmp_path / "job").exists()


def test_a_line_break_in_the_shot_folder_or_the_settings_is_refused(tmp_path, make_shot, tiny_checkpoint,
                                                                    monkeypatch):
    shot = make_shot(tmp_path / ("sh" + INJECTION), frames="1001-1002", name="sh010", checkpoint=tiny_checkpoint)
    with pytest.raises(FarmInputError, match=r"^shot: holds a control character"):
        submit_shot(shot, "deadline10", dry_run=True, out_dir=tmp_path / "job")
    clean = make_shot(tmp_path / "clean", frames="1001-1002", name="sh010", checkpoint=tiny_checkpoint)
    monkeypatch.setenv("HYPERSEG_DEADLINE_POOL", "gpu" + INJECTION)
    with pytest.raises(FarmInputError, match=r"^HYPERSEG_DEADLINE_POOL: holds a control character"):
        submit_shot(clean, "deadline10", dry_run=True, out_dir=tmp_path / "job")
    monkeypatch.delenv("HYPERSEG_DEADLINE_POOL")
    monkeypatch.setenv("HYPERSEG_VFX_COMMAND", "/opt/hyperseg-vfx" + INJECTION)
    with pytest.raises(FarmInputError, match=r"^HYPERSEG_VFX_COMMAND: holds a control character"):
        submit_shot(clean, "openjd", dry_run=True, out_dir=tmp_path / "job")
    assert not (tmp_path / "job").exists()

