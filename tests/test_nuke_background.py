"""The Source rendered by a background Nuke (hyperseg_nuke.background) against the strict fake
(tests/fake_nuke): it renders the comp itself, at the Source's own node (branches, a chain, a
node inside a group), with the comp's Root (project directory, OCIO config, LUT defaults,
views) and script folder, an interactive licence and NukeX when this Nuke has them; pressed
on the gizmo's button too, whose Python runs inside the gizmo."""

from __future__ import annotations

import numpy as np
import OpenImageIO as oiio
from fake_nuke.comp import SIZE, load_plugin, make_comp
from fake_nuke.gizmo_parser import parse_script

FRAMES = "1001-1003"


def pixels(path) -> np.ndarray:
    inp = oiio.ImageInput.open(str(path))
    assert inp is not None, oiio.geterror()
    data = np.asarray(inp.read_image(0, 0, 0, 3, oiio.FLOAT))
    inp.close()
    return data


def render(nuke, node, folder, first=1001, last=1003):
    """The node's Source rendered by the background Nuke into folder/work; the frame files."""
    from hyperseg_nuke import background

    pattern = str(folder / "work" / "source.####.exr")
    job = background.prepare(node, pattern, first, last)
    background.run(job, nuke.ProgressTask("test"))
    return [folder / "work" / f"source.{f}.exr" for f in range(first, last + 1)]


def test_the_sources_own_node_renders_when_branches_share_a_node(nuke, make_shot, tmp_path):
    """plate feeds two Switches (so Nuke's text names it with `set`); the Source shows `other`."""
    plate, node = make_comp(nuke, tmp_path, make_shot, FRAMES)
    make_shot(tmp_path, FRAMES, SIZE, name="other", seed=3, negative_click=False)
    other = nuke.nodes.Read(file=str(tmp_path / "plates" / "other.####.exr"), first=1001, last=1003)
    inner = nuke.nodes.Switch(which=1)
    inner.setInput(0, plate)
    inner.setInput(1, other)
    outer = nuke.nodes.Switch(which=1)
    outer.setInput(0, plate)
    outer.setInput(1, inner)
    node.setInput(0, outer)
    for frame, path in zip(range(1001, 1004), render(nuke, node, tmp_path)):
        np.testing.assert_allclose(pixels(path), pixels(tmp_path / "plates" / f"other.{frame}.exr"), atol=1e-3)


def test_the_background_script_is_the_comp(nuke, make_shot, tmp_path):
    """Root knobs kept, the script's folder the same: a Read relative to the project directory
    `[python {nuke.script_directory()}]` renders, views, OCIO config and LUT defaults travel."""
    from hyperseg_nuke import background

    read, node = make_comp(nuke, tmp_path, make_shot, FRAMES, through_switch=True)
    root = nuke.root()
    settings = {"project_directory": "[python {nuke.script_directory()}]", "customOCIOConfigPath":
                "/studio/ocio/config.ocio", "int8Lut": "Gamma2.2", "int16Lut": "Gamma2.2", "logLut": "AlexaV3LogC",
                "floatLut": "ACES - ACEScg", "views": "left #ff0000 right #00ff00"}
    for name, value in settings.items():
        root[name].setValue(value)
    read["file"].setValue("plates/plate.####.exr")
    job = background.prepare(node, str(tmp_path / "work" / "source.####.exr"), 1001, 1003)
    copy = job.command[job.command.index("-t") + 2]
    assert copy.rpartition("/")[0] == str(tmp_path)  # beside the comp
    saved_root, _ = parse_script(open(copy).read())
    for name, value in settings.items():
        assert saved_root.knobs[name] == value, name
    background.run(job, nuke.ProgressTask("test"))
    np.testing.assert_allclose(pixels(tmp_path / "work" / "source.1002.exr"),
                               pixels(tmp_path / "plates" / "plate.1002.exr"), atol=1e-3)
    assert "-i" in job.command and "--nukex" not in job.command


def test_nukex_nodes_render_in_a_nukex_session(nuke, make_shot, tmp_path):
    nuke.env["nukex"] = True
    read, node = make_comp(nuke, tmp_path, make_shot, FRAMES)
    kronos = nuke.nodes.Kronos()
    kronos.setInput(0, read)
    node.setInput(0, kronos)
    (first, *_), = [render(nuke, node, tmp_path)]
    np.testing.assert_allclose(pixels(first), pixels(tmp_path / "plates" / "plate.1001.exr"), atol=1e-3)


def test_a_plain_chain_renders_its_last_node(nuke, make_shot, tmp_path):
    """Read -> Switch -> HyperSeg: Nuke writes no stack name for a chain; the Switch renders."""
    read, node = make_comp(nuke, tmp_path, make_shot, FRAMES, through_switch=True)
    paths = render(nuke, node, tmp_path)
    np.testing.assert_allclose(pixels(paths[-1]), pixels(tmp_path / "plates" / "plate.1003.exr"), atol=1e-3)
    assert nuke.executed == []  # rendered by the background Nuke, not this session


def test_segment_range_from_the_gizmos_button(nuke, bridge, make_shot):
    """The button's Python runs with the gizmo as the current group: the render still sees the comp."""
    folder = bridge.root / "comp_button"
    _, node = make_comp(nuke, folder, make_shot, FRAMES, through_switch=True)
    load_plugin(nuke)
    nuke.artist_sets(node, "pos1_on", True)
    node["pos1"].setValue([40.0, 30.0])
    node["bridge_url"].setValue(bridge.url)
    node["segment_range"].execute()
    nuke.pump(lambda: not node["status"].value().endswith("working..."), timeout=120)
    assert node["status"].value().startswith("frames 1001-1003 done"), (node["status"].value(), nuke.messages)
    assert len(list((folder / "mattes").glob("*.exr"))) == 3


def test_a_source_inside_a_group_is_found_by_its_full_name(nuke, make_shot, tmp_path):
    """HyperSeg inside Group1 on Group1.Switch1 (the plate); a root Switch1 shows other plates."""
    read, node = make_comp(nuke, tmp_path, make_shot, FRAMES)
    make_shot(tmp_path, FRAMES, SIZE, name="other", seed=3, negative_click=False)
    other = nuke.nodes.Read(file=str(tmp_path / "plates" / "other.####.exr"), first=1001, last=1003)
    nuke.nodes.Switch().setInput(0, other)  # root's Switch1
    group = nuke.nodes.Group()
    group.setInput(0, read)
    with group:
        inner = nuke.nodes.Input()
        switch = nuke.nodes.Switch()
        switch.setInput(0, inner)
        hyperseg = nuke.createNode("HyperSeg")
        hyperseg.setInput(0, switch)
        nuke.nodes.Output().setInput(0, hyperseg)
    assert switch.fullName() == "Group1.Switch1"
    paths = render(nuke, hyperseg, tmp_path)
    np.testing.assert_allclose(pixels(paths[0]), pixels(tmp_path / "plates" / "plate.1001.exr"), atol=1e-3)
