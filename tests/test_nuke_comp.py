"""The HyperSeg node in a real comp, in the strict fake Nuke with a real bridge: the matte
survives save and reopen in a fresh session (and so a `nuke -x` render of the comp), copy/paste
and rename; a pasted copy gets its own files once it segments; every knob path has forward
slashes; no matte layer holds more than four channels and the candidate menu reaches every
candidate; only enabled clicks show a Viewer handle; live clicks re-segment without rendering
inside knobChanged."""

from __future__ import annotations

import numpy as np
import OpenImageIO as oiio
from fake_nuke.comp import load_plugin
from test_nuke_e2e import alpha, click_comp, finish, reference_alpha


def comp_alpha(nuke, node, folder, frame: int) -> np.ndarray:
    """The node's alpha at `frame`, rendered by a Write after it (as `nuke -x comp.nk` would)."""
    write = nuke.nodes.Write(file=str(folder / "comp_out" / "out.####.exr"), channels="rgba",
                             datatype="32 bit float")
    write.setInput(0, node)
    (folder / "comp_out").mkdir(exist_ok=True)
    nuke.execute(write, frame, frame)
    inp = oiio.ImageInput.open(str(folder / "comp_out" / f"out.{frame}.exr"))
    pixels = np.asarray(inp.read_image(0, 0, 0, 4, oiio.FLOAT))[..., 3]
    inp.close()
    return pixels


def reopen(nuke, folder):
    """Save the script, then open it in a fresh session with the plugin loaded as at start-up."""
    nuke.scriptSave()
    nuke.reset()
    load_plugin(nuke)
    nuke.scriptOpen(str(folder / "comp.nk"))
    nuke.frame(1003)
    return nuke.allNodes("HyperSeg")[0]


def segment(nuke, node, frame=1003):
    nuke.frame(frame)
    finish(nuke, __import__("hyperseg_nuke.callbacks").callbacks.segment_frame(node))
    assert node["status"].value().startswith(f"frame {frame}: "), (node["status"].value(), nuke.messages)


def test_the_matte_survives_save_and_reopen(nuke, bridge, make_shot, make_segmenter):
    folder = bridge.root / "comp_reopen"
    _, node = click_comp(nuke, folder, make_shot)
    node["bridge_url"].setValue(bridge.url)
    segment(nuke, node)
    reference = reference_alpha(folder, make_segmenter, 1003)
    np.testing.assert_allclose(comp_alpha(nuke, node, folder, 1003), reference, atol=1e-3)

    node = reopen(nuke, folder)
    np.testing.assert_allclose(comp_alpha(nuke, node, folder, 1003), reference, atol=1e-3)


def test_copy_paste_and_rename_keep_the_matte(nuke, bridge, make_shot, make_segmenter):
    folder = bridge.root / "comp_paste"
    read, node = click_comp(nuke, folder, make_shot)
    node["bridge_url"].setValue(bridge.url)
    segment(nuke, node)
    reference = reference_alpha(folder, make_segmenter, 1003)

    node.setName("Roto_hero")
    np.testing.assert_allclose(comp_alpha(nuke, node, folder, 1003), reference, atol=1e-3)
    shown = node["matte_file"].value()
    segment(nuke, node)  # renamed, it segments again: into its own files, found among fresh wrappers
    assert node["matte_file"].value() == shown and node["node_id"].value() == "HyperSeg1"

    node["selected"].setValue(True)
    nuke.nodeCopy("%clipboard%")
    copy = nuke.nodePaste("%clipboard%")
    copy.setInput(0, read)
    np.testing.assert_allclose(comp_alpha(nuke, copy, folder, 1003), reference, atol=1e-3)

    # the copy segments with other clicks: its own files, the original's left alone
    original_files = sorted(p.name for p in (folder / "mattes").glob("*.exr"))
    copy["pos1"].setValue([70.0, 20.0])
    copy["pos1"].setAnimated()  # keyed here only: a different click than the original's
    segment(nuke, copy)
    assert copy["matte_file"].value() != node["matte_file"].value()
    assert sorted(p.name for p in (folder / "mattes").glob("*.exr"))[:len(original_files)] == original_files
    np.testing.assert_allclose(comp_alpha(nuke, node, folder, 1003), reference, atol=1e-3)
    assert np.abs(comp_alpha(nuke, copy, folder, 1003) - reference).max() > 0.01


def test_every_knob_path_has_forward_slashes(nuke, bridge, make_shot):
    folder = bridge.root / "comp_slashes"
    _, node = click_comp(nuke, folder, make_shot)
    node["bridge_url"].setValue(bridge.url)
    segment(nuke, node)
    with node:
        inner = {n.name(): n for n in nuke.allNodes()}
    for owner in [node, *inner.values()]:
        for name, knob in owner.knobs().items():
            value = knob.value() if hasattr(knob, "evaluate") else ""
            assert "\\" not in str(value), f"{owner.name()}.{name} = {value!r}"
            if hasattr(knob, "evaluate") and value:
                assert knob.evaluate().replace("1003", "####") == value or "[" in value or "#" not in value


def test_no_matte_layer_holds_more_than_four_channels(nuke, bridge, make_shot):
    folder = bridge.root / "comp_layers"
    _, node = click_comp(nuke, folder, make_shot)
    node["bridge_url"].setValue(bridge.url)
    node["candidate"].setValue(5)  # index 5: the sixth candidate; the matte then has every candidate
    segment(nuke, node)
    spec = oiio.ImageInput.open(str(folder / "mattes" / next((folder / "mattes").glob("*.1003.exr")).name)).spec()
    layers = {}
    for name in spec.channelnames:
        layers.setdefault(name.rpartition(".")[0], []).append(name)
    assert all(len(names) <= 4 for names in layers.values()), spec.channelnames
    assert len(spec.channelnames) == 7  # A + six candidates
    sixth = comp_alpha(nuke, node, folder, 1003)
    node["candidate"].setValue(0)
    first = comp_alpha(nuke, node, folder, 1003)
    matte = next((folder / "mattes").glob("*.1003.exr"))
    np.testing.assert_allclose(first, alpha(matte), atol=1e-3)
    assert sixth.shape == first.shape


def test_only_enabled_clicks_show_a_handle(nuke, make_shot, tmp_path):
    from hyperseg_nuke import callbacks

    _, node = click_comp(nuke, tmp_path, make_shot)
    shown = {name for name in (f"{p}{i}" for p in ("pos", "neg") for i in range(1, 9)) if node[name].visible()}
    assert shown == {"pos1", "neg1"}
    callbacks.add_positive(node)
    assert node["pos2"].visible() and tuple(node["pos2"].value()) == (48.0, 32.0)
    nuke.artist_sets(node, "pos2_on", False)
    assert not node["pos2"].visible()
    nuke.scriptSave()
    nuke.reset()
    load_plugin(nuke)
    nuke.scriptOpen(str(tmp_path / "comp.nk"))
    again = nuke.allNodes("HyperSeg")[0]
    assert {n for n in (f"{p}{i}" for p in ("pos", "neg") for i in range(1, 9)) if again[n].visible()} == \
        {"pos1", "neg1"}


def test_live_clicks_segment_after_a_drag_without_rendering_in_knob_changed(nuke, bridge, make_shot):
    from hyperseg_nuke import callbacks

    folder = bridge.root / "comp_live"
    _, node = click_comp(nuke, folder, make_shot, through_switch=True)  # the Source must be rendered
    node["bridge_url"].setValue(bridge.url)
    nuke.frame(1003)
    node["pos1"].setValue([30.0, 30.0])
    nuke.artist_sets(node, "live", True)
    for x in (35.0, 38.0, 40.0):  # a drag: three moves, one segment of the last position
        nuke.artist_sets(node, "pos1", [x, 30.0])
    assert nuke.executed == [] and not nuke.progress_tasks  # knobChanged only scheduled
    nuke.pump(lambda: node["status"].value().startswith("frame 1003: "), timeout=120)
    assert [task.title for task in nuke.progress_tasks] == ["HyperSeg: Segment frame"]
    assert nuke.executed == [("SourceWrite", 1003, 1003), ("SourceWrite", 1002, 1002)]
    (matte,) = (folder / "mattes").glob("*.1003.exr")
    live = alpha(matte)

    node["live"].setValue(False)
    finish(nuke, callbacks.segment_frame(node))  # the same clicks by the button
    np.testing.assert_array_equal(alpha(matte), live)
    assert len(nuke.executed) == 2  # the Source frames had not changed: reused, not rendered again


def acescg_twin(folder, frames=range(1001, 1007)):
    """The comp's linear Rec.709 plates converted to ACEScg (OpenImageIO's built-in OCIO config),
    as float EXRs in folder/plates_acescg."""
    (folder / "plates_acescg").mkdir()
    for frame in frames:
        image = oiio.ImageBuf(str(folder / "plates" / f"plate.{frame}.exr"))
        converted = oiio.ImageBufAlgo.colorconvert(image, "lin_rec709", "ACEScg")
        assert converted.write(str(folder / "plates_acescg" / f"plate.{frame}.exr"), "float"), oiio.geterror()
    return str(folder / "plates_acescg" / "plate.####.exr")


def test_an_acescg_plate_gives_the_matte_of_its_rec709_twin(nuke, bridge, make_shot):
    folder = bridge.root / "comp_aces"
    read, node = click_comp(nuke, folder, make_shot)
    node["bridge_url"].setValue(bridge.url)
    segment(nuke, node)
    (matte,) = (folder / "mattes").glob("*.1003.exr")
    rec709 = alpha(matte)
    matte.unlink()

    acescg = acescg_twin(folder)
    assert np.abs(alpha(folder / "plates_acescg" / "plate.1003.exr") - alpha(folder / "plates" / "plate.1003.exr")
                  ).max() > 0.01  # the pixels really differ
    read["file"].setValue(acescg)
    read["colorspace"].setValue("ACES - ACEScg")  # the Read's own files, in their colour space
    segment(nuke, node)
    np.testing.assert_allclose(alpha(matte), rec709, atol=2e-3)
    matte.unlink()

    # an ACES project: the Source rendered raw in the working space by the node's Write
    nuke.root()["colorManagement"].setValue("OCIO")
    nuke.root()["workingSpaceLUT"].setValue("ACEScg")
    read["raw"].setValue(True)
    switch = nuke.createNode("Switch")
    switch.setInput(0, read)
    node.setInput(0, switch)
    segment(nuke, node)
    assert nuke.executed[-2:] == [("SourceWrite", 1003, 1003), ("SourceWrite", 1002, 1002)]
    np.testing.assert_allclose(alpha(matte), rec709, atol=2e-3)


def test_a_background_source_render_cancels_and_reports_failures(nuke, bridge, make_shot):
    from hyperseg_nuke import callbacks

    folder = bridge.root / "comp_background"
    read, node = click_comp(nuke, folder, make_shot, "1001-1024", through_switch=True)
    node["bridge_url"].setValue(bridge.url)
    thread = callbacks.segment_range(node)
    nuke.pump(lambda: bool(nuke.progress_tasks))
    nuke.progress_tasks[-1].cancel()
    finish(nuke, thread)
    assert node["status"].value() == "Segment range: cancelled while rendering the Source"
    assert not nuke.messages and nuke.progress_tasks[-1].closed and nuke.executed == []
    assert len(list((folder / "mattes" / ".hyperseg" / "HyperSeg1").glob("source.*.exr"))) < 24

    (folder / "plates" / "plate.1010.exr").unlink()  # a plate missing: the background Nuke fails there
    finish(nuke, callbacks.segment_range(node))
    assert node["status"].value().startswith("Segment range failed: rendering the Source in the background failed")
    assert "plate.1010.exr" in nuke.messages[-1]


def test_reload_matte_reads_frames_that_were_cached_black(nuke, bridge, make_shot, make_segmenter):
    """A matte frame missing when the node read it stays black (on_error black, cached) until the
    Reload matte button, as after a farm render writes it."""
    folder = bridge.root / "comp_reload"
    _, node = click_comp(nuke, folder, make_shot)
    node["bridge_url"].setValue(bridge.url)
    segment(nuke, node)
    reference = reference_alpha(folder, make_segmenter, 1003)
    (matte,) = (folder / "mattes").glob("*.1003.exr")
    matte.rename(matte.with_suffix(".away"))
    node["reload_matte"].execute()
    assert comp_alpha(nuke, node, folder, 1003).max() == 0.0  # missing: read black
    matte.with_suffix(".away").rename(matte)  # the farm writes it
    assert comp_alpha(nuke, node, folder, 1003).max() == 0.0  # still the cached black frame
    node["reload_matte"].execute()
    np.testing.assert_allclose(comp_alpha(nuke, node, folder, 1003), reference, atol=1e-3)
