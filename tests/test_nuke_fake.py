"""The fake `nuke` is as strict as real Nuke where the plugin depends on it (sources in
tests/fake_nuke/nuke.py): saving keeps only a gizmo's top-level knobs and loading rebuilds its
inner nodes from the .gizmo; TCL and expressions in inner knobs are evaluated; single
backslashes are stripped; a Read of a layer of more than four channels fails; no render inside
knobChanged; no event loop without the GUI."""

from __future__ import annotations

import numpy as np
import OpenImageIO as oiio
import pytest
from fake_nuke.comp import load_plugin


def write_exr(path, channels: dict[str, float], size=(8, 4)):
    spec = oiio.ImageSpec(size[0], size[1], len(channels), oiio.FLOAT)
    spec.channelnames = tuple(channels)
    data = np.stack([np.full((size[1], size[0]), v, np.float32) for v in channels.values()], axis=-1)
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec) and out.write_image(np.ascontiguousarray(data))
    out.close()


def test_save_keeps_only_top_level_knobs_of_a_gizmo(nuke, tmp_path):
    load_plugin(nuke)
    node = nuke.createNode("HyperSeg")
    node["proxy_scale"].setValue(0.5)
    node.node("MatteRead")["file"].setValue("/lost/on/save.####.exr")  # an inner node's knob
    node["pos1"].setAnimated()
    node["pos1"].setValueAt(10.0, 1001, 0)
    node["pos1"].setValueAt(20.0, 1005, 0)
    node_value = node["pos1"].getValueAt(1003, 0)
    nuke.scriptSaveAs(str(tmp_path / "s.nk"))
    text = (tmp_path / "s.nk").read_text()
    assert "MatteRead" not in text and "/lost/on/save" not in text and "proxy_scale 0.5" in text

    nuke.reset()
    load_plugin(nuke)
    nuke.scriptOpen(str(tmp_path / "s.nk"))
    (again,) = nuke.allNodes("HyperSeg")
    assert again.name() == "HyperSeg1" and again["proxy_scale"].value() == 0.5
    assert again["pos1"].getKeyList() == [1.0, 1001.0, 1005.0]  # setAnimated keyed the current frame, 1
    assert again["pos1"].getValueAt(1003, 0) == node_value
    assert again.node("MatteRead")["file"].value() != "/lost/on/save.####.exr"  # rebuilt from the .gizmo


def test_paste_rebuilds_a_gizmo_and_names_the_copy(nuke):
    load_plugin(nuke)
    node = nuke.createNode("HyperSeg")
    node["checkpoint"].setValue("/models/m.pt")
    node.node("MatteRead")["file"].setValue("/inner/state.exr")
    node["selected"].setValue(True)
    nuke.nodeCopy("%clipboard%")
    pasted = nuke.nodePaste("%clipboard%")
    assert pasted.name() == "HyperSeg2" and pasted["checkpoint"].value() == "/models/m.pt"
    assert pasted.node("MatteRead")["file"].value() != "/inner/state.exr"


def test_tcl_and_expressions_are_evaluated(nuke, tmp_path):
    load_plugin(nuke)
    nuke.root()["name"].setValue(str(tmp_path / "comp.nk"))
    read = nuke.nodes.Read()
    read["file"].setValue("[python nuke.script_directory()]/plates/p.####.exr")
    assert read["file"].value().startswith("[python")  # value() is the raw text
    nuke.frame(7)
    assert read["file"].evaluate() == f"{tmp_path}/plates/p.0007.exr"
    assert nuke.tcl("subst", "[value root.name]") == str(tmp_path / "comp.nk")
    read["first"].setExpression("frame + 2")
    assert read["first"].value() == 9
    read["disable"].fromScript("{!first}")
    assert read["disable"].value() is False


def test_single_backslashes_are_stripped(nuke):
    read = nuke.nodes.Read()
    read["file"].setValue("Q:\\Project\\plate.exr")
    assert read["file"].value() == "Q:\\Project\\plate.exr"
    assert read["file"].evaluate() == "Q:Projectplate.exr"
    read["file"].setValue("Q:/Project/plate.exr")
    assert read["file"].evaluate() == "Q:/Project/plate.exr"


def test_a_layer_of_more_than_four_channels_fails_to_read(nuke, tmp_path):
    write_exr(tmp_path / "ok.exr", {"A": 1.0, "hyperseg.c1": 0.25, "hyperseg.c2": 0.5, "hyperseg.c3": 0.5,
                                    "hyperseg.c4": 0.5, "hyperseg2.c5": 0.75})
    write_exr(tmp_path / "bad.exr", {"A": 1.0, **{f"hyperseg.c{i}": 0.5 for i in range(1, 6)}})
    read = nuke.nodes.Read(file=str(tmp_path / "ok.exr"))
    image = read.channels_at(1)
    assert image["rgba.alpha"][0, 0] == 1.0 and image["hyperseg2.c5"][0, 0] == 0.75
    read["file"].setValue(str(tmp_path / "bad.exr"))
    with pytest.raises(RuntimeError, match="layer 'hyperseg' has 5 channels"):
        read.channels_at(1)


def test_no_render_inside_knob_changed_and_no_event_loop_without_gui(nuke, tmp_path):
    write_exr(tmp_path / "p.0001.exr", {"R": 1.0, "G": 0.5, "B": 0.0})
    read = nuke.nodes.Read(file=str(tmp_path / "p.####.exr"))
    write = nuke.nodes.Write(file=str(tmp_path / "o.####.exr"))
    write.setInput(0, read)
    nuke.addKnobChanged(lambda: nuke.execute(write, 1, 1), nodeClass="Read")
    with pytest.raises(RuntimeError, match="knobChanged"):
        nuke.artist_sets(read, "label", "x")
    nuke.execute(write, 1, 1)  # outside knobChanged it renders
    assert (tmp_path / "o.0001.exr").is_file()
    nuke.GUI = False
    import threading

    errors = []
    thread = threading.Thread(target=lambda: errors.append(pytest.raises(RuntimeError, nuke.executeInMainThread,
                                                                         print)))
    thread.start()
    thread.join()
    assert errors


# -- stricter for issue 25: each behaviour with its source in tests/fake_nuke/nuke.py -----------------


def test_node_copy_writes_nukes_text(nuke, tmp_path):
    """deadline-cloud-for-nuke's scenes: a chain has no stack command between its nodes; `set`
    only after a node feeding several; copied text starts `set cut_paste_input [stack 0]` and
    `version`; an input from outside the copy is `push $cut_paste_input`."""
    read = nuke.nodes.Read(file=str(tmp_path / "p.####.exr"))
    dot = nuke.nodes.Dot()
    dot.setInput(0, read)
    blur = nuke.nodes.Switch()
    blur.setInput(0, dot)
    for node in (read, dot, blur):
        node["selected"].setValue(True)
    nuke.nodeCopy(str(tmp_path / "chain.nk"))
    text = (tmp_path / "chain.nk").read_text()
    assert text.splitlines()[:2] == ["set cut_paste_input [stack 0]", "version 14.0 v1"]
    assert "set N" not in text and "push" not in text  # a plain chain: the stack wires it

    other = nuke.nodes.Switch()  # the Dot now feeds two nodes
    other.setInput(0, dot)
    other["selected"].setValue(True)
    nuke.nodeCopy(str(tmp_path / "branch.nk"))
    text = (tmp_path / "branch.nk").read_text()
    assert len([line for line in text.splitlines() if line.startswith("set N")]) == 1
    assert text.count("push $N") == 1

    for node in (read, dot, other):
        node["selected"].setValue(False)
    nuke.nodeCopy("%clipboard%")  # the Switch alone: its input is outside the copy
    assert "push $cut_paste_input\nSwitch {" in nuke._state["clipboard"]
    dot["selected"].setValue(True)
    blur["selected"].setValue(False)
    pasted = nuke.nodePaste("%clipboard%")
    assert pasted.input(0) == dot and pasted.name() == "Switch3"


def test_a_saved_chain_reads_back_wired(nuke, tmp_path):
    """The layout of frame.nk (version, Root, a generator, a Write and a Viewer, no stack
    commands) reads back with each node on the one before."""
    from fake_nuke.gizmo_parser import parse_script

    root, nodes = parse_script("version 15.0 v4\nRoot {\n inputs 0\n name /s/frame.nk\n}\n"
                               "Read {\n inputs 0\n name Read1\n}\nWrite {\n file out.png\n name Write1\n}\n"
                               "Viewer {\n name Viewer1\n}\n")
    assert root.knobs["name"] == "/s/frame.nk"
    assert [(n.name, n.inputs) for n in nodes] == [("Read1", []), ("Write1", ["Read1"]), ("Viewer1", ["Write1"])]


def test_every_call_returns_a_new_wrapper(nuke):
    """ayon-nuke PR #235: compare nodes with == or fullName(), never `is` or id()."""
    load_plugin(nuke)
    node = nuke.createNode("HyperSeg")
    first, second = nuke.toNode(node.name()), nuke.allNodes("HyperSeg")[0]
    assert first is not second and first == second == node and id(first) != id(second)
    assert first != nuke.nodes.Dot()
    with pytest.raises(TypeError):
        {first}
    seen = []
    nuke.addKnobChanged(lambda: seen.append(nuke.thisNode()), nodeClass="HyperSeg")
    nuke.artist_sets(node, "live", True)
    nuke.artist_sets(node, "live", False)
    assert seen[0] == seen[1] and seen[0] is not seen[1]


def test_a_gizmo_button_runs_inside_the_gizmo(nuke):
    """Cryptomatte's decryptomatte_button reaches the comp with `with nuke.root():`."""
    load_plugin(nuke)
    nuke.nodes.Dot()
    node = nuke.createNode("HyperSeg")
    seen = {}
    nuke.record = seen.update  # what the button saw
    button = nuke.PyScript_Knob("probe", "nuke.record(inside=[n.name() for n in nuke.allNodes()])\n"
                                "with nuke.root():\n    nuke.record(comp=[n.name() for n in nuke.allNodes()])")
    node._add(button)
    button.execute()
    del nuke.record
    assert "MatteRead" in seen["inside"] and "Dot1" not in seen["inside"]
    assert seen["comp"] == ["Dot1", "HyperSeg1"]


def test_handles_show_on_their_tab_unless_handles_anyway(nuke):
    """Knob.h: HANDLES_ANYWAY (0x400000) shows the handles whatever the node's current tab."""
    load_plugin(nuke)
    node = nuke.createNode("HyperSeg")  # its panel opens at the first tab, HyperSeg
    node["pos1"].clearFlag(0x400000)  # as the gizmo file makes it (the plugin's onCreate sets the flag)
    node["pos1"].setVisible(True)
    assert node.shown() and not node["pos1"].handle_shown()
    nuke.select_tab(node, "Clicks")
    assert node["pos1"].handle_shown()
    nuke.select_tab(node, "HyperSeg")
    node["pos1"].setFlag(0x400000)
    assert node["pos1"].handle_shown()
    node.hideControlPanel()
    assert not node["pos1"].handle_shown()


def test_python_changes_fire_knob_changed_with_the_panel_open_and_are_undo_steps(nuke):
    """Each setValueAt from Python is an undo step and a knobChanged while the panel is open;
    nuke.Undo begin/end make one step of many."""
    load_plugin(nuke)
    node = nuke.createNode("HyperSeg")
    changed = []
    nuke.addKnobChanged(lambda: changed.append(nuke.thisKnob().name()), nodeClass="HyperSeg")
    knob = node["pos1"]
    before = nuke.Undo.undoSize()
    knob.setAnimated()
    for frame in range(1001, 1011):
        knob.setValueAt(float(frame), frame, 0)
    assert changed == ["pos1"] * 11 and nuke.Undo.undoSize() == before + 11
    assert knob.getKeyList()[0] == 1.0  # setAnimated keyed the current frame

    undo = nuke.Undo()
    undo.begin("many keys")
    knob.animation(1).addKey([nuke.AnimationKey(f, 2.0 * f) for f in range(1001, 1011)])
    knob.setValueAt(5.0, 1020, 0)
    undo.end()
    assert nuke.Undo.undoSize() == before + 12 and knob.getValueAt(1005, 1) == 2010.0

    node.hideControlPanel()
    knob.setValueAt(6.0, 1021, 0)
    assert len(changed) == 13  # panel closed: no knobChanged


def test_a_read_keeps_black_frames_until_reload(nuke, tmp_path):
    read = nuke.nodes.Read(file=str(tmp_path / "m.####.exr"), on_error="black")
    assert read.channels_at(1)["rgba.red"].max() == 0.0  # missing: black
    write_exr(tmp_path / "m.0001.exr", {"R": 1.0, "G": 0.5, "B": 0.0})
    assert read.channels_at(1)["rgba.red"].max() == 0.0  # still the cached black frame
    read["reload"].execute()
    assert read.channels_at(1)["rgba.red"].max() == 1.0


def test_relative_paths_come_from_the_project_directory(nuke, tmp_path):
    write_exr(tmp_path / "p.0001.exr", {"R": 0.25, "G": 0.5, "B": 0.0})
    nuke.root()["name"].setValue(str(tmp_path / "comp.nk"))
    read = nuke.nodes.Read(file="p.####.exr")
    with pytest.raises(RuntimeError, match="No such file"):
        read.channels_at(1)
    nuke.root()["project_directory"].setValue("[python {nuke.script_directory()}]")
    read["reload"].execute()
    assert read.channels_at(1)["rgba.red"][0, 0] == 0.25


def test_the_command_line_needs_an_interactive_licence_and_nukex_for_nukex_nodes(nuke, tmp_path):
    import subprocess

    script = tmp_path / "t.py"
    script.write_text("import nuke, sys\nnuke.createNode('Kronos')\nprint('ran', sys.argv[1:])\n")
    run = lambda *flags: subprocess.run([nuke.EXE_PATH, *flags, "-t", str(script), "a"], capture_output=True,  # noqa
                                        text=True, timeout=60)
    assert "No licenses available" in run().stdout and run().returncode == 1
    assert "needs a NukeX licence" in run("-i").stdout
    done = run("-i", "--nukex")
    assert done.returncode == 0 and "ran ['a']" in done.stdout
    with pytest.raises(RuntimeError, match="NukeX"):
        nuke.createNode("Kronos")  # this session is plain Nuke


def test_a_group_saves_its_nodes_and_reads_back(nuke, tmp_path):
    """A Group's nodes follow its block, up to `end_group`; they have full names `Group1.X`."""
    write_exr(tmp_path / "p.0001.exr", {"R": 0.25, "G": 0.5, "B": 0.0})
    nuke.root()["name"].setValue(str(tmp_path / "comp.nk"))
    read = nuke.nodes.Read(file=str(tmp_path / "p.####.exr"))
    group = nuke.nodes.Group()
    group.setInput(0, read)
    with group:
        inner = nuke.nodes.Input()
        switch = nuke.nodes.Switch()
        switch.setInput(0, inner)
        nuke.nodes.Output().setInput(0, switch)
    after = nuke.nodes.Dot()
    after.setInput(0, group)
    nuke.scriptSave()
    assert "end_group" in (tmp_path / "comp.nk").read_text()
    nuke.reset()
    nuke.scriptOpen(str(tmp_path / "comp.nk"))
    switch = nuke.toNode("Group1.Switch1")
    assert switch.fullName() == "Group1.Switch1" and nuke.toNode("Switch1") is None
    assert nuke.toNode("Dot1").input(0) == nuke.toNode("Group1")
    assert nuke.toNode("Dot1").channels_at(1)["rgba.red"][0, 0] == 0.25
