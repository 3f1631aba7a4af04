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
