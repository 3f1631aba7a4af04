"""gizmos/HyperSeg.gizmo, read by the tests' gizmo parser: its structure, every knob the plugin
reads (with the right type), every button's script calling a function that exists, and the fake
Nuke building the node from it as Nuke would."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from fake_nuke.gizmo_parser import GizmoSyntaxError, parse_gizmo, split_commands
from fake_nuke.nuke import KNOB_TYPES

GIZMO = Path(__file__).resolve().parents[1] / "gizmos" / "HyperSeg.gizmo"


@pytest.fixture(scope="module")
def gizmo():
    return parse_gizmo(GIZMO.read_text())


@pytest.fixture
def plugin(nuke):
    """hyperseg_nuke's modules (importable once the fake Nuke is installed)."""
    from hyperseg_nuke import knobs, matte, source

    return knobs, matte, source


def test_parser_reads_words_strings_and_the_stack():
    words = split_commands('a "b \\"c\\" \\[d]" {e {f} "g"} [stack 0]\n# comment\nh;i')
    assert [[(w.text, w.kind) for w in command] for command in words] == [
        [("a", "bare"), ('b "c" [d]', "quoted"), ('e {f} "g"', "braced"), ("stack 0", "bracket")],
        [("h", "bare")], [("i", "bare")]]
    text = "Gizmo {\n inputs 1\n addUserKnob {12 p l \"point 1\" -STARTLINE}\n p {3 4}\n}\n" \
           "Input {\n inputs 0\n name In\n}\nset N [stack 0]\nRead {\n inputs 0\n name R\n}\npush $N\n" \
           "Merge2 {\n inputs 2\n name M\n}\nOutput {\n name Out\n}\nend_group\n"
    parsed = parse_gizmo(text)
    assert parsed.top.user_knob("p").label == "point 1" and parsed.top.knobs["p"] == "3 4"
    assert parsed.node("M").inputs == ["In", "R"] and parsed.node("Out").inputs == ["M"]
    with pytest.raises(GizmoSyntaxError, match="unbalanced"):
        split_commands("Gizmo { inputs 1")


def test_structure(gizmo, plugin):
    _, matte, source = plugin
    assert gizmo.top.knobs["inputs"] == "1"
    classes = {spec.name: spec.cls for spec in gizmo.nodes}
    copies = {f"{matte.COPY}{m}": "Copy" for m in range(1, 7)}
    assert classes == {"Source": "Input", "MatteRead": "Read", "CandidateSwitch": "Switch", "Output1": "Output",
                       source.WRITE: "Write", matte.LAYERS: "Copy", **copies}
    # Output = the candidate chosen by the menu's index: Source (B) with candidate m's channel of
    # the matte (A) copied into the alpha; every inner knob that holds state reads a top-level knob
    assert gizmo.node("Output1").inputs == ["CandidateSwitch"]
    switch = gizmo.node("CandidateSwitch")
    assert switch.inputs == list(copies) and switch.knobs["which"] == "{parent.candidate}"
    for m in range(1, 7):
        copy = gizmo.node(f"{matte.COPY}{m}")
        assert copy.inputs == [matte.LAYERS, "MatteRead"]
        assert (copy.knobs["from0"], copy.knobs["to0"]) == (matte.candidate_channel(m), "rgba.alpha")
        assert copy.knobs["disable"] == "{!parent.has_matte}"
    # several objects: every layer of the matte (<name>.alpha) copied onto the Source first
    layers = gizmo.node(matte.LAYERS)
    assert layers.inputs == ["Source", "MatteRead"] and layers.knobs["channels"] == "all"
    assert layers.knobs["disable"] == "{!parent.object_layers}"
    read = gizmo.node("MatteRead")
    assert read.inputs == [] and read.knobs["raw"] == "true" and read.knobs["on_error"] == "black"
    assert read.knobs["file"] == "[value parent.matte_file]"
    assert {k: read.knobs[k] for k in ("first", "last", "origfirst", "origlast")} == {
        "first": "{parent.matte_first}", "last": "{parent.matte_last}", "origfirst": "{parent.matte_first}",
        "origlast": "{parent.matte_last}"}
    # the Source renderer: half-float EXR in the working space, no metadata, off outside a render
    write = gizmo.node(source.WRITE)
    assert write.inputs == ["Source"]
    assert {k: write.knobs[k] for k in ("file_type", "datatype", "raw", "metadata", "channels", "disable")} == {
        "file_type": "exr", "datatype": "16 bit half", "raw": "true", "metadata": "no metadata",
        "channels": "rgb", "disable": "true"}


def test_every_knob_the_plugin_uses_exists_with_its_type(gizmo, plugin):
    knobs, _, _ = plugin
    defined = {k.name: KNOB_TYPES[k.type_id] for k in gizmo.top.user_knobs if k.name}
    for name, kind in knobs.NODE_KNOBS.items():
        assert defined.get(name) == kind, f"{name}: {defined.get(name)} in the gizmo, {kind} in knobs.py"
    tabs = [k.name for k in gizmo.top.user_knobs if k.type_id == 20]
    assert tabs == ["HyperSeg", "Clicks"]
    names = [k.name for k in gizmo.top.user_knobs]
    clicks_tab = names.index("Clicks")
    assert all(names.index(f"{p}{i}") > clicks_tab for p in ("pos", "neg") for i in range(1, 9))
    assert all(names.index(n) < clicks_tab for n in ("bridge_url", "checkpoint", "matte_output", "status",
                                                     "output_per_object", "exclusive", "edges"))
    assert gizmo.top.user_knob("edges").items == ["model", "none", "graphcut", "grabcut", "learned"]  # model (the default) first
    assert not {"exclusive", "edges", "output_per_object"} & set(gizmo.top.knobs)  # defaults: off, model, empty
    assert gizmo.top.user_knob("matte").items == ["soft", "binary"]
    assert gizmo.top.user_knob("candidate").items == list(knobs.CANDIDATES)  # words: saved unambiguously
    hidden = {k.name for k in gizmo.top.user_knobs if "+HIDDEN" in k.flags}
    assert hidden == {"matte_file", "matte_first", "matte_last", "has_matte", "node_id", "objects",
                      "object_layers"} | {
        f"{p}{i}" for p in ("pos", "neg") for i in range(1, 9)}  # handles show once their click is on
    assert gizmo.top.user_knob("farm").items == ["default", "openjd", "deadline-cloud", "opencue", "deadline10"]
    assert (gizmo.top.knobs["proxy_scale"], gizmo.top.knobs["autostart"]) == ("1", "true")


def test_every_button_calls_a_function_that_exists(gizmo, nuke):
    buttons = [k for k in gizmo.top.user_knobs if k.type_id == 22]
    assert {k.label for k in buttons} >= {"Segment frame", "Segment range", "Submit to farm", "Open preview",
                                           "add positive click", "add negative click"}
    for knob in buttons:
        tree = ast.parse(knob.value, feature_version=(3, 7))
        (imported,), call = tree.body[0].names, tree.body[1].value
        module = importlib.import_module(imported.name)
        assert call.func.value.id == imported.asname and ast.unparse(call.args[0]) == "nuke.thisNode()"
        assert callable(getattr(module, call.func.attr)), f"{knob.name}: {imported.name}.{call.func.attr}"


def test_the_fake_builds_the_node_from_the_gizmo(nuke, plugin):
    from fake_nuke.comp import load_plugin

    knobs, _, _ = plugin
    load_plugin(nuke)
    node = nuke.createNode("HyperSeg")
    assert node.Class() == "HyperSeg" and node.name() == "HyperSeg1"
    assert all(node[name].Class() == kind for name, kind in knobs.NODE_KNOBS.items())
    assert node["status"].value() == "idle" and node["chunk_size"].value() == 10
    assert node["farm"].value() == "default" and node["proxy_scale"].value() == 1.0
    with node:
        assert nuke.toNode("MatteRead") == node.node("MatteRead")
        assert nuke.toNode("MatteCopy1").input(1) == node.node("MatteRead")
    assert nuke.toNode("MatteRead") is None  # outside the group again
