"""A behavioural fake of Nuke's `nuke` module, enough of it to run the HyperSeg plugin for real.

It behaves, it does not record: knobs hold values and animation curves (getValueAt between keys
follows a smooth, linear or constant curve), gizmos are built from their .gizmo file found on the
plugin path (their inner nodes wired as the file says, found with node.node(NAME) or toNode
inside begin()/end()), and execute() really renders: a Write's frames are the pixels of the Read
upstream of it (through Input, Dot and disabled nodes), written as float EXRs with OpenImageIO.

Nuke's threading rule is enforced: any node, knob, execute or message call from a thread other
than the main thread raises RuntimeError. Worker threads get ProgressTask and
executeInMainThread, whose calls wait in a queue until the test runs them (run_pending / pump),
as Nuke's event loop would.

Stricter where real Nuke is stricter (each behaviour with its source):

- Saving keeps only a gizmo's top-level knob values; loading rebuilds its inner nodes from the
  .gizmo file (Foundry, Nuke User Guide, "Creating and sourcing gizmos": a gizmo is a Group
  whose contents come from the .gizmo on the plugin path). So state set with setValue on an inner
  node is gone after scriptOpen, nodePaste (which pastes the same text) and a `nuke -x` render.
  scriptSave / scriptOpen / nodeCopy / nodePaste write and read real .nk text (tests/fake_nuke/
  gizmo_parser reads it); onCreate callbacks (nuke.addOnCreate) run on create, load and paste
  (Foundry Python Developers Guide, "Callbacks": onCreate "runs when a node is created, including
  when loading a script or pasting").
- Knob strings are TCL: `[value parent.x]`, `[value node.x]`, `[python expr]` / `[python {expr}]`
  are expanded, and single backslashes are stripped, when Nuke evaluates them: a Read's file,
  knob.evaluate(), nuke.tcl("subst", s) (Foundry, "Expressions" / EvalString_Knob "evaluates its
  value as a TCL expression"; shotgunsoftware/tk-nuke PR #131: "Q:\\Project" round-trips as
  "Q:Project"). value() returns the raw text.
- Numeric and boolean knobs take expressions `{{parent.x}}`, `{{!parent.x}}`, `{{parent.x-1}}`;
  an Enumeration knob's number in an expression is its index (Psyop/Cryptomatte,
  nuke/Cryptomatte.gizmo: `disable {{!parent.unpremultiply}}`; Foundry, nuke.expr docs).
- A Read of an EXR with a layer of more than four channels fails, and add_layer refuses more
  than four (Foundry, Nuke User Guide, "Channels": "Never use more than four channels per layer.
  Nuke only has a four channel interface.").
- nuke.execute is refused inside a knobChanged callback and outside the main thread (Foundry,
  Python Developers Guide, "Threading": execute must run in the main thread; knobChanged must
  not render). executeInMainThread has no event loop when GUI is False (`nuke -t` / `-x`).
- Gizmo nodes render: Input, Read (EXR channels by layer: R,G,B,A -> rgba.*, and in any other
  layer `name.A` -> `name.alpha`, R/G/B likewise: Foundry NDK ExrChannelNameToNuke.cpp), Copy
  (`channels all` first copies every channel of input 1, Foundry Copy node "layer copy"; then
  from0 -> to0 from input 1, a missing channel is black), Switch (`which`, clamped), Dot, Output and
  disabled nodes (their input 0), so a Write after the HyperSeg node renders its alpha.
- Script text is Nuke's (deadline-cloud-for-nuke's test scenes, job_bundle_output_tests/frame/
  scene/frame.nk and others): a chain has no stack command between its nodes, `set Nxxx [stack
  0]` follows only a node that feeds several; nodeCopy text starts `set cut_paste_input [stack
  0]` and `version`, an input from outside the copy is `push $cut_paste_input` (see the section
  "scripts" below).
  A Group's nodes follow its block up to `end_group` (group-read.nk); they have full names
  `Group1.X` (toNode takes them), and its Input nodes are its inputs.
- Every call that returns a node (thisNode, allNodes, toNode, node(), nodes(), input(),
  createNode, root...) returns a new Python object: `==` compares nodes, `is` and id() do not
  (ayon-nuke PR #235: compare nodes with `==` or fullName()), and nodes are unhashable.
- A gizmo's Python button runs with the gizmo as the current group: allNodes(), toNode() and
  nodeCopy see its insides (Psyop/Cryptomatte's decryptomatte_button reaches the comp with
  `with nuke.root():`).
- Enumeration_Knob.setValues(items) replaces the menu (Foundry, Enumeration_Knob); a knob with
  the DO_NOT_WRITE flag (0x200, DDImage Knob.h "Don't write this knob to the script") is not
  written to scripts or nodeCopy text. nuke.Undo.disable()/enable() stop and restart the
  recording of undo steps (Foundry, nuke.Undo). nuke.getInput(prompt, default) answers the
  next of `inputs` (None: the artist cancelled). knob.fromScript(knob.toScript()) round-trips a
  knob, curves included (Nuke's copy idiom, e.g. gist dbr/5400853 "Duplicate a Nuke node").
- An XY knob's Viewer handle shows only while its node's panel is open and its tab is the
  current one, unless the knob has the HANDLES_ANYWAY flag, 0x400000 (DDImage Knob.h:
  "Force viewer widgets to be visible regardless of current node tab"). createNode opens the
  node's panel (inpanel=True), nuke.nodes.X(...) does not.
- A knob set from Python (setValue, setValueAt, setAnimated, fromScript, AnimationCurve.addKey)
  is one undo step, and fires the knobChanged callbacks while the node's panel is open (Foundry,
  Python Developers Guide, "Callbacks" / nuke.Undo: begin() ... end() make one undo step);
  setAnimated keys the current frame.
- A Read keeps the frames it read (black ones too, with `on_error black`) until its reload
  button (Foundry, Read node: "reload" re-reads the files); relative file paths are taken from
  the Root's project_directory.
- The command line (nuke_x.py): `-x` / `-t` need `-i` on a workstation with interactive
  licences only; NukeX-only nodes (Kronos) load only with `--nukex` (env["nukex"]).

Test helpers (not in Nuke): reset(), run_pending(), pump(until, timeout), messages,
progress_tasks (TaskRecord: what each ProgressTask showed, cancel()), executed (Write renders),
XY_Knob.animations() curves' `interpolation`, Read nodes' `reloads`, artist_sets(node, knob,
value) (an edit in the panel or Viewer: the value, then the knobChanged callbacks),
Knob.visible(), XY_Knob.handle_shown(), select_tab(node, tab), Undo.undoSize().
"""

from __future__ import annotations

import bisect
import os
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from fake_nuke.gizmo_parser import (CUT_PASTE_INPUT, NodeSpec, UserKnob, layers, parse_gizmo, parse_script,
                                    split_commands)

MAIN_THREAD = threading.main_thread()

#: addUserKnob type id -> knob class name.
KNOB_TYPES = {1: "String_Knob", 2: "File_Knob", 3: "Int_Knob", 4: "Enumeration_Knob", 6: "Boolean_Knob",
              7: "Double_Knob", 12: "XY_Knob", 20: "Tab_Knob", 22: "PyScript_Knob", 26: "Text_Knob"}


def _main_thread_only(what: str) -> None:
    if threading.current_thread() is not MAIN_THREAD:
        raise RuntimeError(f"nuke: {what} called from thread {threading.current_thread().name!r}; "
                           "Nuke allows it in the main thread only (use executeInMainThread)")


# -- knobs ----------------------------------------------------------------------------------------


class Knob:
    """A knob holding one value; convert() types what Python or a script sets. A numeric knob
    may hold an expression instead (`{{parent.x}}` in a script, setExpression), evaluated by
    value()."""

    default: Any = ""

    def __init__(self, name: str):
        self._name = name
        self._value = self.default
        self._expression: str | None = None
        self._visible = True
        self._flags = 0
        self.tab = ""  # the Tab_Knob it sits under (test helper)
        self.node: "Node | None" = None

    def _changed(self) -> None:
        """A change made from Python: one undo step, and the knobChanged callbacks when the
        node's panel is open (see the module docstring)."""
        _knob_changed_from_python(self)

    def Class(self) -> str:
        return type(self).__name__

    def name(self) -> str:
        return self._name

    def value(self):
        _main_thread_only(f"{self._name}.value()")
        if self._expression is not None:
            return self.convert(_expression(self._expression, self.node))
        return self._value

    def getValue(self):
        return self.value()

    def setValue(self, value) -> bool:
        _main_thread_only(f"{self._name}.setValue()")
        self._value = self.convert(value)
        self._expression = None
        self._changed()
        return True

    def setExpression(self, expression: str) -> bool:
        _main_thread_only(f"{self._name}.setExpression()")
        self._expression = expression
        self._changed()
        return True

    def hasExpression(self) -> bool:
        return self._expression is not None

    def fromScript(self, text: str) -> None:
        """Set the value from script text, as from Python (one change)."""
        _main_thread_only(f"{self._name}.fromScript()")
        self._load(text)
        self._changed()

    def _load(self, text: str) -> None:
        """Set the value as written in a .nk / .gizmo file (`{expr}`: an expression, the
        parser having removed the outer braces of `{{expr}}`)."""
        if text.startswith("{") and text.endswith("}") and not isinstance(self, String_Knob):
            self._expression = text[1:-1]
        else:
            self._value = self.convert(text)

    def toScript(self) -> str:
        """The value as a .nk file writes it."""
        if self._expression is not None:
            return "{{" + self._expression + "}}"
        value = self._value
        if isinstance(value, bool):
            return "true" if value else "false"
        return _quote(str(value))

    def is_default(self, default) -> bool:
        return self._expression is None and self._value == default

    def setVisible(self, visible: bool) -> None:
        self._visible = bool(visible)

    def visible(self) -> bool:
        """Test helper: whether the knob (an XY knob: its Viewer handle) shows."""
        return self._visible

    def setFlag(self, flag: int) -> None:
        self._flags |= flag
        if flag == INVISIBLE:
            self._visible = False

    def clearFlag(self, flag: int) -> None:
        self._flags &= ~flag
        if flag == INVISIBLE:
            self._visible = True

    def getFlag(self, flag: int) -> bool:
        return bool(self._flags & flag)

    def convert(self, value):
        return str(value)


class String_Knob(Knob):
    """Text; value() is the raw text, evaluate() the text with TCL expanded (backslashes
    stripped)."""

    def evaluate(self) -> str:
        _main_thread_only(f"{self._name}.evaluate()")
        return _tcl(self._value, self.node)


class File_Knob(String_Knob):
    """A file name; evaluate() also puts the current frame into `####` / `%04d` (as Nuke's
    File_Knob.evaluate does)."""

    def evaluate(self) -> str:
        return _frame_file(super().evaluate(), frame())


class Text_Knob(String_Knob):
    pass


class Tab_Knob(Knob):
    pass


class Int_Knob(Knob):
    default = 0

    def convert(self, value):
        return int(value)


class Double_Knob(Knob):
    default = 0.0

    def convert(self, value):
        return float(value)


class Boolean_Knob(Knob):
    default = False

    def convert(self, value):
        if isinstance(value, str):
            if value not in ("true", "false", "1", "0"):
                raise ValueError(f"{self._name}: not a boolean {value!r}")
            return value in ("true", "1")
        return bool(value)


class Enumeration_Knob(Knob):
    """value(): the chosen item; getValue(): its index (a float, as in Nuke); setValue takes an
    item or its index. A saved value that is a number is read as an index (Foundry,
    Enumeration_Knob): items that are numbers save ambiguously."""

    def getValue(self) -> float:
        return float(self._items.index(self.value()))

    def number(self) -> float:
        return self.getValue()

    def _load(self, text: str) -> None:
        """A number in a script is the item's index (so a menu of number labels saves ambiguously)."""
        self._value = self.convert(int(text) if text.isdigit() else text)

    def __init__(self, name: str, items: list[str]):
        super().__init__(name)
        self._items = list(items)
        self._value = self._items[0] if self._items else ""

    def values(self) -> list[str]:
        return list(self._items)

    def setValues(self, items) -> None:
        """Replace the menu's items; the value stays when it is still an item, else the first."""
        _main_thread_only(f"{self._name}.setValues()")
        self._items = [str(item) for item in items]
        if self._value not in self._items:
            self._value = self._items[0] if self._items else ""

    def convert(self, value):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return self._items[int(value)]
        if value not in self._items:
            raise ValueError(f"{self._name}: {value!r} is not one of {self._items}")
        return value


class PyScript_Knob(Knob):
    """A button: execute() runs its Python with nuke.thisNode() its node (or calls `action`)."""

    def __init__(self, name: str, script: str = "", action: Callable[[], None] | None = None):
        super().__init__(name)
        self._value, self._action, self.node = script, action, None

    def execute(self) -> None:
        """Run the button. On a gizmo (or group) its Python runs with that node as the current
        group, so nuke.allNodes() / toNode() / nodeCopy see the gizmo's insides (Psyop's
        Cryptomatte, decryptomatte_button: `with nuke.root():` to reach the comp)."""
        _main_thread_only(f"{self._name}.execute()")
        if self._action is not None:
            self._action()
            return
        _this_nodes.append(self.node)
        group = isinstance(self.node, Group)
        if group:
            _context.append(self.node)
        try:
            exec(compile(self._value, f"<knob {self._name}>", "exec"), {"nuke": _module()})
        finally:
            if group:
                _context.pop()
            _this_nodes.pop()


class Curve:
    """One animated channel: keys {frame: value} and how it goes between them (Nuke's default
    `smooth`: a Catmull-Rom spline, flat on the end keys; `linear`; `constant`); held outside."""

    def __init__(self, interpolation: str = "smooth"):
        self.keys: dict[float, float] = {}
        self.interpolation = interpolation

    def value_at(self, frame: float) -> float:
        times = sorted(self.keys)
        after = bisect.bisect_right(times, frame)
        if after == 0:
            return self.keys[times[0]]
        if after == len(times) or self.interpolation == "constant":
            return self.keys[times[after - 1]]
        t0, t1 = times[after - 1], times[after]
        v0, v1 = self.keys[t0], self.keys[t1]
        t = (frame - t0) / (t1 - t0)
        if self.interpolation == "linear":
            return v0 + t * (v1 - v0)

        def slope(i: int) -> float:
            if i == 0 or i == len(times) - 1:
                return 0.0
            return (self.keys[times[i + 1]] - self.keys[times[i - 1]]) / (times[i + 1] - times[i - 1])

        m0, m1 = slope(after - 1) * (t1 - t0), slope(after) * (t1 - t0)
        return ((2 * t**3 - 3 * t**2 + 1) * v0 + (t**3 - 2 * t**2 + t) * m0
                + (-2 * t**3 + 3 * t**2) * v1 + (t**3 - t**2) * m1)


class XY_Knob(Knob):
    """A point (x, y) in pixels, origin bottom-left; each channel a constant or a Curve."""

    def __init__(self, name: str):
        super().__init__(name)
        self._value = [0.0, 0.0]
        self._curves: list[Curve | None] = [None, None]

    def convert(self, value):
        if isinstance(value, str):
            value = value.split()
        x, y = value
        return [float(x), float(y)]

    CURVE_FLAGS = {"linear": "L", "constant": "K"}

    def toScript(self) -> str:
        """`{x y}`, or `{{curve L x1001 40 x1005 48} {curve ...}}` for animated channels."""
        parts = []
        for i in (0, 1):
            curve = self._curves[i]
            if curve is None:
                parts.append(repr(self._value[i]))
                continue
            flag = self.CURVE_FLAGS.get(curve.interpolation, "")
            keys = " ".join(f"x{t:g} {v!r}" for t, v in sorted(curve.keys.items()))
            parts.append("{curve " + (flag + " " if flag else "") + keys + "}")
        return "{" + " ".join(parts) + "}"

    def _load(self, text: str) -> None:
        """Script text of both channels, as in a .nk file or as toScript() gives it (in braces:
        Nuke's fromScript(toScript()) round-trips a knob)."""
        words = split_commands(text)[0]
        if len(words) == 1 and words[0].kind == "braced":
            words = split_commands(words[0].text)[0]
        for i, word in enumerate(words):
            if word.kind != "braced":  # a constant: the channel is no longer animated
                self._value[i] = float(word.text)
                self._curves[i] = None
                continue
            tokens = word.text.split()[1:]
            flags = {v: k for k, v in self.CURVE_FLAGS.items()}
            curve = Curve(flags[tokens.pop(0)] if tokens and tokens[0] in flags else "smooth")
            for t, v in zip(tokens[::2], tokens[1::2]):
                curve.keys[float(t[1:])] = float(v)
            self._curves[i] = curve

    def is_default(self, default) -> bool:
        return self._curves == [None, None] and self._value == [0.0, 0.0]

    def value(self, index: int | None = None):
        return self.getValueAt(frame(), index)

    def getValueAt(self, time: float, index: int | None = None):
        _main_thread_only(f"{self._name}.getValueAt()")
        if index is None:
            return [self.getValueAt(time, 0), self.getValueAt(time, 1)]
        curve = self._curves[index]
        return curve.value_at(time) if curve is not None and curve.keys else self._value[index]

    def setValue(self, value, index: int | None = None) -> bool:
        """On an animated knob: a key at the current frame (as Nuke does)."""
        _main_thread_only(f"{self._name}.setValue()")
        values = self.convert(value) if index is None else None
        for i in (0, 1) if index is None else (index,):
            v = values[i] if values is not None else float(value)
            if self._curves[i] is not None:
                self._curves[i].keys[float(frame())] = v
            else:
                self._value[i] = v
        self._changed()
        return True

    def isAnimated(self, index: int = -1) -> bool:
        return any(self._curves[i] is not None for i in ((0, 1) if index == -1 else (index,)))

    def setAnimated(self, index: int = -1) -> bool:
        """Animate the channel(s), keyed at the current frame on their value (so a key lands on
        the current frame even when it is not one the caller keys)."""
        _main_thread_only(f"{self._name}.setAnimated()")
        for i in (0, 1) if index == -1 else (index,):
            if self._curves[i] is None:
                self._curves[i] = Curve()
                self._curves[i].keys[float(frame())] = self._value[i]
        self._changed()
        return True

    def setValueAt(self, value: float, time: float, index: int = 0) -> bool:
        """One key: one change (an undo step, a knobChanged while the panel is open)."""
        _main_thread_only(f"{self._name}.setValueAt()")
        if self._curves[index] is None:
            raise RuntimeError(f"{self._name}: setValueAt on a channel that is not animated")
        self._curves[index].keys[float(time)] = float(value)
        self._changed()
        return True

    def animation(self, index: int) -> "AnimationCurve | None":
        """The channel's AnimationCurve, None when it is not animated (Foundry,
        XY_Knob.animation / Array_Knob.animation)."""
        _main_thread_only(f"{self._name}.animation()")
        return AnimationCurve(self, index) if self._curves[index] is not None else None

    def handle_shown(self) -> bool:
        """Test helper: whether the Viewer draws this knob's handle now: the knob is not hidden,
        its node's panel is open, and its tab is the panel's current tab or the knob has
        HANDLES_ANYWAY (Knob.h: "Force viewer widgets to be visible regardless of current node
        tab"; HANDLES_ANYWAY "makes the handles appear in the viewer when the panel is open even
        if a different tab is selected")."""
        node = self.node
        if not self._visible or node is None or not node._panel_open:
            return False
        return bool(self._flags & _HANDLES_ANYWAY) or node._current_tab == self.tab

    def getKeyList(self) -> list[float]:
        _main_thread_only(f"{self._name}.getKeyList()")
        return sorted({t for c in self._curves if c is not None for t in c.keys})

    def animations(self) -> list[Curve]:
        """The channels' curves (test helper: set `.interpolation` on them)."""
        return [c for c in self._curves if c is not None]


class AnimationKey:
    """nuke.AnimationKey(x, y): a key at frame x of value y."""

    def __init__(self, x: float, y: float):
        self.x, self.y = float(x), float(y)


class AnimationCurve:
    """One animated channel of a knob (nuke.AnimationCurve): addKey(keys) inserts a sequence of
    AnimationKeys at once (Foundry: "addKey(keys): Insert a sequence of keys"), removeKey
    removes a sequence; each call is one change."""

    def __init__(self, knob: "XY_Knob", index: int):
        self._knob, self._index = knob, index

    def _curve(self) -> Curve:
        curve = self._knob._curves[self._index]
        if curve is None:
            raise RuntimeError(f"{self._knob.name()}: the channel is no longer animated")
        return curve

    def keys(self) -> list[AnimationKey]:
        _main_thread_only("AnimationCurve.keys()")
        return [AnimationKey(t, v) for t, v in sorted(self._curve().keys.items())]

    def addKey(self, keys) -> None:
        _main_thread_only("AnimationCurve.addKey()")
        curve = self._curve()
        for key in keys:
            curve.keys[float(key.x)] = float(key.y)
        self._knob._changed()

    def removeKey(self, keys) -> None:
        _main_thread_only("AnimationCurve.removeKey()")
        curve = self._curve()
        for key in keys:
            curve.keys.pop(float(key.x), None)
        self._knob._changed()


# -- nodes ----------------------------------------------------------------------------------------


class Format:
    def __init__(self, width: int, height: int):
        self._width, self._height = width, height

    def width(self) -> int:
        return self._width

    def height(self) -> int:
        return self._height


COMMON_KNOBS = {"name": (String_Knob, ""), "disable": (Boolean_Knob, False), "xpos": (Int_Knob, 0),
                "ypos": (Int_Knob, 0), "inputs": (Int_Knob, 0), "label": (String_Knob, ""),
                "selected": (Boolean_Knob, False)}
#: Each node class's own knobs: name -> (knob class, default).
CLASS_KNOBS: dict[str, dict[str, tuple]] = {
    "Read": {"file": (File_Knob, ""), "first": (Int_Knob, 1), "last": (Int_Knob, 1), "origfirst": (Int_Knob, 1),
             "origlast": (Int_Knob, 1), "raw": (Boolean_Knob, False), "colorspace": (String_Knob, "default (linear)"),
             "frame": (String_Knob, ""), "on_error": (String_Knob, "error")},
    "Write": {"file": (File_Knob, ""), "file_type": (String_Knob, ""), "datatype": (String_Knob, "16 bit half"),
              "metadata": (String_Knob, "default metadata"), "channels": (String_Knob, "rgb"),
              "raw": (Boolean_Knob, False), "colorspace": (String_Knob, "default (linear)")},
    "Copy": {"from0": (String_Knob, "rgba.alpha"), "to0": (String_Knob, "rgba.alpha"), "channels": (String_Knob, "none")},
    "Switch": {"which": (Double_Knob, 0.0)},
    "Input": {"number": (Int_Knob, 0)},
    "Output": {},
    "Dot": {},
    "Gizmo": {"help": (String_Knob, ""), "tile_color": (String_Knob, "")},
    "Root": {"first_frame": (Int_Knob, 1), "last_frame": (Int_Knob, 100), "proxy": (Boolean_Knob, False),
             "colorManagement": (String_Knob, "Nuke"), "OCIO_config": (String_Knob, "nuke-default"),
             "customOCIOConfigPath": (File_Knob, ""), "workingSpaceLUT": (String_Knob, "linear"),
             "int8Lut": (String_Knob, "sRGB"), "int16Lut": (String_Knob, "sRGB"), "logLut": (String_Knob, "Cineon"),
             "floatLut": (String_Knob, "linear"), "project_directory": (String_Knob, ""),
             "views": (String_Knob, "main #ffffff")},
    "Kronos": {"timing2": (String_Knob, "Output Speed"), "outputSpeed": (Double_Knob, 1.0)},
    "Group": {},
}
#: Classes that load only in NukeX (Foundry, "Nuke, NukeX and Nuke Studio": Kronos is NukeX-only).
NUKEX_CLASSES = ("Kronos",)
#: EXR channel names -> Nuke channels.
EXR_RGBA = {"R": "rgba.red", "G": "rgba.green", "B": "rgba.blue", "A": "rgba.alpha"}
#: Knob flag: hidden in the panel (and an XY knob's Viewer handle).
INVISIBLE = 0x400
#: Knob flag (DDImage Knob.h, nuke.DO_NOT_WRITE): the knob is not written to the script.
DO_NOT_WRITE = 0x200
#: Knob flag (DDImage Knob.h): the knob's Viewer handles show while the panel is open whatever
#: its current tab. Not a name in the `nuke` module: plugins set it by its value.
_HANDLES_ANYWAY = 0x400000


class Node:
    """A node: knobs, inputs, and (for Read) a format and frame range from its files.

    Every call that returns a node gives a new Python object for it (_wrap): `==` compares the
    node, `is` and id() do not, and a node cannot be a set member or dict key."""

    _serial = 0

    def __init__(self, cls: str, name: str, parent: "Group | None"):
        self._class, self._parent = cls, parent
        Node._serial += 1
        self._uid = Node._serial  # the node itself, shared by its wrappers (the fake's own key)
        self._knobs: dict[str, Knob] = {}
        self._inputs: list[Node | None] = []
        self._defaults: dict[str, Any] = {}
        self._panel_open, self._current_tab = False, ""
        for knob_name, (kind, default) in {**COMMON_KNOBS, **CLASS_KNOBS.get(cls, {})}.items():
            self._add(kind(knob_name))
            self._knobs[knob_name]._value = default
        self._knobs["name"]._value = name
        if cls == "Read":
            self.reloads = 0
            self._cache: dict[str, dict[str, np.ndarray]] = {}
            self._add(PyScript_Knob("reload", action=self._reload))

    def __eq__(self, other) -> bool:
        return isinstance(other, Node) and other._uid == self._uid

    def __ne__(self, other) -> bool:
        return not self == other

    __hash__ = None  # wrappers of one node are different objects: no set or dict of nodes

    def showControlPanel(self, forceFloat: bool = False) -> None:
        """Open the node's panel at its first tab (the first Tab_Knob's)."""
        _main_thread_only("Node.showControlPanel()")
        self._panel_open = True
        self._current_tab = next((k.name() for k in self._knobs.values() if isinstance(k, Tab_Knob)), "")

    def hideControlPanel(self) -> None:
        self._panel_open = False

    def shown(self) -> bool:
        """Whether the node's panel is open."""
        return self._panel_open

    def _add(self, knob: Knob) -> None:
        knob.node = self
        self._knobs[knob.name()] = knob

    def _remember_defaults(self) -> None:
        """The knob values a saved script leaves out (those of a new node)."""
        self._defaults = {name: _copy_value(knob._value) for name, knob in self._knobs.items()}

    def _reload(self) -> None:
        """The Read's reload button: its cached frames are read again."""
        self.reloads += 1
        self._cache.clear()

    def Class(self) -> str:
        return self._class

    def name(self) -> str:
        _main_thread_only("Node.name()")
        return self._knobs["name"]._value

    def setName(self, name: str) -> None:
        _main_thread_only("Node.setName()")
        self._knobs["name"].setValue(name)

    def fullName(self) -> str:
        if self._parent is None or isinstance(self._parent, Root):
            return self.name()
        return self._parent.fullName() + "." + self.name()

    def knob(self, name: str) -> Knob | None:
        _main_thread_only(f"Node.knob({name!r})")
        return self._knobs.get(name)

    def knobs(self) -> dict[str, Knob]:
        _main_thread_only("Node.knobs()")
        return dict(self._knobs)

    def __getitem__(self, name: str) -> Knob:
        knob = self.knob(name)
        if knob is None:
            raise NameError(f"knob {name} does not exist")
        return knob

    def input(self, index: int) -> "Node | None":
        _main_thread_only("Node.input()")
        return _wrap(self._inputs[index]) if index < len(self._inputs) else None

    def inputs(self) -> int:
        return len(self._inputs)

    def setInput(self, index: int, node: "Node | None") -> bool:
        _main_thread_only("Node.setInput()")
        while len(self._inputs) <= index:
            self._inputs.append(None)
        self._inputs[index] = node
        return True

    def upstream(self) -> "Node | None":
        """The node whose pixels this one shows: the group's input for an Input node."""
        if self._class == "Input":
            return self._parent.input(self._knobs["number"]._value)
        return self.input(0)

    def format(self) -> Format:
        _main_thread_only("Node.format()")
        if self._class == "Read":
            return _file_format(_frame_file(self["file"].evaluate_pattern(), self._knobs["first"].value()))
        source = self.upstream()
        return source.format() if source is not None else root().format()

    def firstFrame(self) -> int:
        _main_thread_only("Node.firstFrame()")
        return self._range_end("first", Node.firstFrame)

    def lastFrame(self) -> int:
        _main_thread_only("Node.lastFrame()")
        return self._range_end("last", Node.lastFrame)

    def _range_end(self, end: str, of_upstream) -> int:
        """A Read's own `first`/`last` knob, else the upstream node's, else the root's range."""
        if self._class == "Read":
            return self._knobs[end].value()
        source = self.upstream()
        return of_upstream(source) if source is not None else root()[f"{end}_frame"].value()

    def channels_at(self, frame_number: int) -> dict[str, np.ndarray]:
        """The node's image at a frame: Nuke channel name (`rgba.alpha`, `hyperseg.c2`) ->
        (H, W) float32, top row first."""
        if self._class == "Read":
            return self._read(frame_number)
        if self._class in ("Input", "Dot", "Output", "Kronos") or self["disable"].value():
            source = self.upstream()
            if source is None:
                raise RuntimeError(f"{self.name()}: nothing connected")
            return source.channels_at(frame_number)
        if self._class == "Copy":
            b, a = self.input(0), self.input(1)
            if b is None:
                raise RuntimeError(f"{self.name()}: input B not connected")
            image = dict(b.channels_at(frame_number))
            picked = a.channels_at(frame_number) if a is not None else {}
            shape = next(iter(image.values())).shape
            if self["channels"].value() == "all":
                image.update({name: _fit(plane, shape) for name, plane in picked.items()})
            image[self["to0"].value()] = _fit(picked.get(self["from0"].value()), shape)
            return image
        if self._class == "Switch":
            which = min(max(int(self["which"].value()), 0), len(self._inputs) - 1)
            chosen = self._inputs[which]
            if chosen is None:
                raise RuntimeError(f"{self.name()}: input {which} not connected")
            return chosen.channels_at(frame_number)
        raise NotImplementedError(f"the fake renders Read, Copy, Switch, Input, Dot, Kronos (at speed 1, its "
                                  f"input) and disabled nodes, not {self._class}")

    def _read(self, frame_number: int) -> dict[str, np.ndarray]:
        """A frame of the Read's files, kept in its cache until its reload button is pressed (a
        frame read black because its file was missing, `on_error black`, stays black)."""
        first, last = self["first"].value(), self["last"].value()
        path = _frame_file(self["file"].evaluate_pattern(), min(max(frame_number, first), last))
        if path not in self._cache:
            try:
                self._cache[path] = _read_channels(path, self.name())
            except RuntimeError:
                if self["on_error"].value() != "black":
                    raise
                fmt = root().format()
                self._cache[path] = {name: np.zeros((fmt.height(), fmt.width()), np.float32)
                                     for name in EXR_RGBA.values()}
        return self._cache[path]

    def pixels(self, frame_number: int) -> np.ndarray:
        """The node's rgba image at a frame, (H, W, 4) float32, top row first."""
        image = self.channels_at(frame_number)
        shape = next(iter(image.values())).shape
        return np.stack([image.get(name, np.zeros(shape, np.float32)) for name in EXR_RGBA.values()], axis=-1)


class Group(Node):
    """A node holding nodes (the root, a Gizmo). begin()/end() make it the context of toNode."""

    def __init__(self, cls: str, name: str, parent: "Group | None"):
        super().__init__(cls, name, parent)
        self._children: list[Node] = []
        self.gizmo_file: Path | None = None

    def nodes(self) -> list[Node]:
        return [_wrap(n) for n in self._children]

    def node(self, name: str) -> Node | None:
        """A node of this group by name, or by a dotted path into groups (`Group1.Blur1`)."""
        _main_thread_only("Group.node()")
        head, _, rest = name.partition(".")
        found = next((n for n in self._children if n._knobs["name"]._value == head), None)
        if rest:
            return found.node(rest) if isinstance(found, Group) else None
        return _wrap(found)

    def begin(self) -> "Group":
        _main_thread_only("Group.begin()")
        _context.append(self)
        return self

    def end(self) -> None:
        _main_thread_only("Group.end()")
        if len(_context) < 2 or _context[-1] != self:
            raise RuntimeError(f"{self.name()}.end() without its begin()")
        _context.pop()

    def __enter__(self) -> "Group":
        return self.begin()

    def __exit__(self, *exc) -> None:
        self.end()

    def channels_at(self, frame_number: int) -> dict[str, np.ndarray]:
        """A gizmo shows its Output node's image."""
        if self["disable"].value():
            return super().channels_at(frame_number)
        output = next((n for n in self._children if n.Class() == "Output"), None)
        if output is None:
            raise RuntimeError(f"{self.name()}: no Output node")
        return output.channels_at(frame_number)


class Root(Group):
    def __init__(self):
        super().__init__("Root", "root", None)
        self._add(File_Knob("name"))
        # Project Settings > Color, where a project's OCIO config comes from (the knobs that
        # deadline-cloud-for-nuke src/deadline/nuke_util/ocio.py reads). Real Nuke fills
        # OCIOConfigPath with the stock config's file in its install; the fake has no install.
        self._add(Enumeration_Knob("colorManagement", ["Nuke", "OCIO"]))
        self._add(Enumeration_Knob("OCIO_config", ["nuke-default", "fn-nuke_cg-config-v1.0.0_aces-v1.3_ocio-v2.1",
                                                   "custom"]))
        self._add(File_Knob("customOCIOConfigPath"))
        self._add(File_Knob("OCIOConfigPath"))
        self._format = Format(1920, 1080)
        self._remember_defaults()

    def name(self) -> str:
        return "Root"

    def format(self) -> Format:
        return self._format


# -- TCL and expressions ----------------------------------------------------------------------------


def _fit(plane: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """A channel on a format of `shape`: Nuke images share the bottom-left origin, so the part
    of `plane` over the format is kept and the rest is black (a missing channel: all black)."""
    out = np.zeros(shape, np.float32)
    if plane is not None:
        h, w = min(shape[0], plane.shape[0]), min(shape[1], plane.shape[1])
        out[shape[0] - h:, :w] = plane[plane.shape[0] - h:, :w]
    return out


def _copy_value(value):
    return list(value) if isinstance(value, list) else value


def _quote(text: str) -> str:
    """A string as a .nk file writes it: bare when plain, else quoted with TCL escapes."""
    if text and re.fullmatch(r"[\w.:/#%@+-]+", text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("[", "\\[").replace("$", "\\$") + '"'


def _knob_by_path(path: str, context: Node | None) -> Knob:
    """`parent.x`, `root.x`, `Node.x`, `x` seen from node `context`."""
    *node_names, knob_name = path.split(".")
    node = context if context is not None else root()
    for name in node_names:
        if name == "parent":
            node = node._parent if node._parent is not None else root()
        elif name == "root":
            node = root()
        else:
            group = node._parent if node._parent is not None else root()
            found = group.node(name) if isinstance(group, Group) else None
            if found is None:
                raise RuntimeError(f"{path}: no node {name!r}")
            node = found
    knob = node._knobs.get(knob_name)
    if knob is None:
        raise RuntimeError(f"{path}: no knob {knob_name!r} on {node.name()}")
    return knob


def _number(knob: Knob) -> float:
    if isinstance(knob, Enumeration_Knob):
        return knob.getValue()
    value = knob.value()
    if isinstance(value, list):
        raise RuntimeError(f"{knob.name()}: an XY knob in an expression needs .x or .y")
    return float(value)


def _expression(text: str, context: Node | None) -> float:
    """A Nuke expression (numbers only): knob paths, frame, + - * / ( ), comparisons, ! && ||."""
    def name(match):
        word = match.group(0)
        if word in ("frame", "t", "x"):
            return repr(float(frame()))
        if word in ("and", "or", "not"):
            return word
        return repr(_number(_knob_by_path(word, context)))

    python = re.sub(r"[A-Za-z_][\w.]*", name, text.replace("&&", " and ").replace("||", " or "))
    python = re.sub(r"!(?!=)", " not ", python)
    if re.search(r"[^\d\s.+\-*/()<>=!a-z]", python):
        raise RuntimeError(f"cannot evaluate expression {text!r}")
    return float(eval(python, {"__builtins__": {}}))  # noqa: S307 - digits and operators only


def _tcl(text: str, context: Node | None) -> str:
    """TCL substitution of a knob string: [commands] run, backslash escapes resolved (a single
    backslash before an ordinary character disappears, as in tk-nuke PR #131)."""
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            if i + 1 < len(text):
                out.append({"n": "\n", "t": "\t"}.get(text[i + 1], text[i + 1]))
            i += 2
        elif char == "[":
            depth, j = 0, i
            while j < len(text):
                depth += {"[": 1, "]": -1}.get(text[j], 0)
                if depth == 0:
                    break
                j += 1
            if depth:
                raise RuntimeError(f"unbalanced [ in {text!r}")
            out.append(_tcl_command(text[i + 1:j], context))
            i = j + 1
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _tcl_command(command: str, context: Node | None) -> str:
    """`value KNOB`, `python EXPR` / `python {EXPR}` (Python evaluated with `nuke` imported)."""
    verb, _, rest = command.strip().partition(" ")
    rest = rest.strip()
    if verb == "value":
        knob = _knob_by_path(_tcl(rest, context), context)
        value = knob.value()
        return str(int(value)) if isinstance(value, bool) else str(value)
    if verb == "python":
        source = rest[1:-1] if rest.startswith("{") and rest.endswith("}") else rest
        _this_nodes.append(context)
        try:
            return str(eval(source, {"nuke": _module()}))  # noqa: S307 - the test's own script text
        finally:
            _this_nodes.pop()
    raise RuntimeError(f"TCL: the fake knows [value ...] and [python ...], not [{command}]")


def tcl(command: str, *args: str) -> str:
    """nuke.tcl("subst", text): the text with TCL substituted (thisNode the context)."""
    _main_thread_only("nuke.tcl()")
    if command != "subst" or len(args) != 1:
        raise RuntimeError(f"the fake's nuke.tcl runs `subst TEXT` only, not {command} {args}")
    return _tcl(args[0], thisNode())


def _evaluate_pattern(self) -> str:
    """A file knob's TCL-expanded text with its frame token kept (what a Read or Write uses); a
    relative path is taken from the Root's project_directory (itself TCL, e.g.
    `[python {nuke.script_directory()}]`), as Nuke resolves relative file paths."""
    path = _tcl(self._value, self.node)
    folder = _tcl(root()._knobs["project_directory"]._value, root())
    if path and folder and not (path.startswith("/") or re.match(r"[A-Za-z]:/", path)):
        path = folder.rstrip("/") + "/" + path
    return path


File_Knob.evaluate_pattern = _evaluate_pattern


# -- files ------------------------------------------------------------------------------------------


def _frame_file(pattern: str, frame_number: int) -> str:
    """`####` / `%04d` patterns at a frame."""
    match = re.search(r"#+|%0(\d+)d", pattern)
    if match is None:
        return pattern
    width = int(match.group(1)) if match.group(1) else len(match.group(0))
    return pattern[:match.start()] + f"{frame_number:0{width}d}" + pattern[match.end():]


def _file_format(path: str) -> Format:
    import OpenImageIO as oiio

    inp = oiio.ImageInput.open(path)
    if inp is None:
        raise RuntimeError(f"cannot open {path}: {oiio.geterror()}")
    spec = inp.spec()
    inp.close()
    return Format(spec.full_width, spec.full_height)


def _nuke_channel(exr_name: str) -> str:
    if exr_name in EXR_RGBA:
        return EXR_RGBA[exr_name]
    if "." not in exr_name:
        return "other." + exr_name
    layer, channel = exr_name.rsplit(".", 1)
    return layer + "." + EXR_RGBA[channel].split(".")[1] if channel in EXR_RGBA else exr_name


def _read_channels(path: str, node_name: str) -> dict[str, np.ndarray]:
    """An EXR's channels as Nuke names them; RuntimeError for a layer of more than 4 channels."""
    import OpenImageIO as oiio

    if not os.path.isfile(path):
        raise RuntimeError(f"{node_name}: Read error: {path}: No such file or directory")
    inp = oiio.ImageInput.open(path)
    if inp is None:
        raise RuntimeError(f"{node_name}: Read error: {path}: {oiio.geterror()}")
    spec = inp.spec()
    pixels = np.asarray(inp.read_image(0, 0, 0, spec.nchannels, oiio.FLOAT), dtype=np.float32)
    inp.close()
    names = [_nuke_channel(n) for n in spec.channelnames]
    by_layer: dict[str, int] = {}
    for name in names:
        by_layer[name.split(".")[0]] = by_layer.get(name.split(".")[0], 0) + 1
    for layer, count in by_layer.items():
        if count > 4:
            raise RuntimeError(f"{node_name}: {path}: layer {layer!r} has {count} channels; Nuke layers hold "
                               "at most 4")
    return {name: pixels[..., i] for i, name in enumerate(names)}


def _write_exr(path: str, image: dict[str, np.ndarray], write: Node) -> None:
    """A Write's EXR: float (or half) as its datatype knob says, its channels, no conversion;
    with `no metadata`, no time stamp either (the same pixels give the same bytes)."""
    import OpenImageIO as oiio

    if not os.path.isdir(os.path.dirname(path)):
        raise RuntimeError(f"{write.name()}: cannot open {path} for writing: No such file or directory")
    count = {"rgb": 3, "rgba": 4}[write["channels"].value()]
    shape = next(iter(image.values())).shape
    planes = [image.get(name, np.zeros(shape, np.float32)) for name in list(EXR_RGBA.values())[:count]]
    data = np.ascontiguousarray(np.stack(planes, axis=-1))
    kind = oiio.FLOAT if write["datatype"].value() == "32 bit float" else oiio.HALF
    spec = oiio.ImageSpec(data.shape[1], data.shape[0], count, kind)
    spec.channelnames = tuple(EXR_RGBA)[:count]
    if write["metadata"].value() == "no metadata":
        spec.attribute("DateTime", "")
    out = oiio.ImageOutput.create("openexr")
    ok = out.open(path, spec) and out.write_image(data)
    out.close()
    if not ok:
        raise RuntimeError(f"{write.name()}: cannot write {path}: {out.geterror()}")


# -- the module's functions -------------------------------------------------------------------------

_state: dict[str, Any] = {}
_context: list[Group] = []
_this_nodes: list[Node] = []
_pending: list[tuple[Callable, tuple, dict]] = []
_pending_lock = threading.Lock()
#: Test helpers: what happened in this session.
messages: list[str] = []
progress_tasks: list["TaskRecord"] = []
executed: list[tuple[str, int, int]] = []


def _module():
    import sys

    return sys.modules[__name__]


def _wrap(node: "Node | None") -> "Node | None":
    """A new Python object for `node` (sharing its state), as Nuke returns from every call that
    gives a node (see the module docstring)."""
    if node is None:
        return None
    twin = object.__new__(type(node))
    twin.__dict__ = node.__dict__
    return twin


def reset() -> None:
    """A fresh session: an empty untitled script at frame 1, no plugin paths, menus, callbacks or
    messages, the GUI up, plain Nuke (env["nukex"] False), an empty undo history."""
    global GUI
    GUI = True
    env.clear()
    env.update(gui=True, nukex=False, studio=False, ExecutablePath=EXE_PATH)
    _state.clear()
    _state.update(root=Root(), frame=1, plugin_path=[], menus={}, on_create=[], knob_changed=[],
                  clipboard="", in_knob_changed=0, undo=[], undo_group=None)
    _context[:] = [_state["root"]]
    _this_nodes.clear()
    _this_knobs.clear()
    with _pending_lock:
        _pending.clear()
    messages.clear()
    inputs.clear()
    progress_tasks.clear()
    executed.clear()


#: False in `nuke -t` / `nuke -x` sessions (no event loop, no panels).
GUI = True
#: What this Nuke is (Foundry, nuke.env): gui, nukex (NukeX or Nuke Studio licence), ExecutablePath.
env: dict[str, Any] = {}


def _executable() -> str:
    """A `nuke` executable for background renders: tests/fake_nuke/nuke_x.py under this Python,
    on a machine where the HyperSeg plugin is installed (nuke_plugin/ on NUKE_PATH, as the
    README sets it up), so that the background Nuke loads it as the artist's does."""
    import stat
    import sys
    import tempfile

    from fake_nuke import PLUGIN_DIR

    path = Path(tempfile.gettempdir()) / f"fake_nuke_{os.getpid()}" / "nuke"
    if not path.is_file():
        path.parent.mkdir(exist_ok=True)
        script = Path(__file__).with_name("nuke_x.py")
        path.write_text(f"#!/bin/sh\nNUKE_PATH='{PLUGIN_DIR}'${{NUKE_PATH:+:$NUKE_PATH}} "
                        f"exec '{sys.executable}' '{script}' \"$@\"\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


#: This Nuke's executable (what `nuke -x` background renders run).
EXE_PATH = _executable()
_this_knobs: list[Knob] = []


def root() -> Root:
    return _wrap(_state["root"])


def frame(number: int | None = None) -> int:
    """The current frame; frame(n) sets it."""
    _main_thread_only("nuke.frame()")
    if number is not None:
        _state["frame"] = int(number)
    return _state["frame"]


def thisNode() -> Node:
    _main_thread_only("nuke.thisNode()")
    return _wrap(_this_nodes[-1]) if _this_nodes else root()


def thisKnob() -> Knob | None:
    _main_thread_only("nuke.thisKnob()")
    return _this_knobs[-1] if _this_knobs else None


def thisGroup() -> Group:
    _main_thread_only("nuke.thisGroup()")
    return _wrap(_context[-1])


def toNode(name: str) -> Node | None:
    """A node of the current group (`begin()`), by name or dotted full name (`Group1.Blur1`)."""
    return thisGroup().node(name)


def allNodes(cls: str | None = None, group: Group | None = None, recurseGroups: bool = False) -> list[Node]:
    _main_thread_only("nuke.allNodes()")
    found = []
    for node in (group or thisGroup()).nodes():
        if cls is None or node.Class() == cls:
            found.append(node)
        if recurseGroups and isinstance(node, Group) and node.gizmo_file is None:
            found.extend(allNodes(cls, node, True))
    return found


def script_directory() -> str:
    """The saved script's folder ("" when unsaved)."""
    name = root()["name"].value()
    return os.path.dirname(name).replace("\\", "/") if name else ""


def _unique_name(prefix: str, group: Group) -> str:
    """`prefix` + the first number not taken in `group` (as Nuke names new and pasted nodes)."""
    prefix = prefix.rstrip("0123456789") or prefix
    taken = {n._knobs["name"]._value for n in group._children}
    number = 1
    while f"{prefix}{number}" in taken:
        number += 1
    return f"{prefix}{number}"


def createNode(cls: str, knobs: str = "", inpanel: bool = True) -> Node:
    """A node of class `cls` in the current group: a built-in one, or the gizmo `cls`.gizmo
    found on the plugin path; the onCreate callbacks run; with the GUI and `inpanel`, its panel
    opens (Foundry, nuke.createNode: "inpanel: Optional boolean to open the control panel")."""
    _main_thread_only("nuke.createNode()")
    node = _make_node(cls, None, _context[-1])
    _run_on_create(node)
    if GUI and inpanel:
        node.showControlPanel()
    return _wrap(node)


def _make_node(cls: str, name: str | None, group: Group) -> Node:
    gizmo = _find_gizmo(cls)
    name = name if name and group.node(name) is None else _unique_name(name or cls, group)
    node = _build_gizmo(cls, gizmo, group, name) if gizmo else _builtin(cls, name, group)
    if cls == "Input" and not isinstance(group, Root):  # a group's inputs are its Input nodes, in order
        node._knobs["number"]._value = sum(1 for n in group._children if n.Class() == "Input")
        group._inputs.append(None)
    group._children.append(node)
    return node


def _builtin(cls: str, name: str, parent: Group | None) -> Node:
    if cls not in CLASS_KNOBS:
        raise RuntimeError(f"{cls}: unknown command (the fake knows {', '.join(CLASS_KNOBS)} and gizmos)")
    if cls in NUKEX_CLASSES and not env.get("nukex"):
        raise RuntimeError(f"{cls}: this node needs a NukeX licence (run Nuke with --nukex)")
    node = (Group if cls == "Group" else Node)(cls, name, parent)
    node._remember_defaults()
    return node


def _find_gizmo(cls: str) -> Path | None:
    for folder in _state["plugin_path"]:
        path = Path(folder) / f"{cls}.gizmo"
        if path.is_file():
            return path
    return None


def _user_knob(spec: UserKnob) -> Knob:
    kind = globals()[KNOB_TYPES[spec.type_id]]
    if kind is Enumeration_Knob:
        knob = Enumeration_Knob(spec.name, spec.items)
    elif kind is PyScript_Knob:
        knob = PyScript_Knob(spec.name, spec.value or "")
    else:
        knob = kind(spec.name)
        if spec.value is not None:
            knob._load(spec.value)
    knob._visible = "+HIDDEN" not in spec.flags and "+INVISIBLE" not in spec.flags
    return knob


def _knob_changed_from_python(knob: Knob) -> None:
    """A knob set from Python: one undo step (all of them one inside a nuke.Undo group), and,
    while its node's panel is open, the knobChanged callbacks (Foundry, Python Developers Guide,
    "Callbacks": knobChanged runs for changes made from Python when the panel is open; each
    setValueAt is its own undo step, nuke.Undo.begin/end group them)."""
    node = knob.node
    if node is None or not _state or _state.get("loading"):
        return
    if _state.get("undo_disabled"):
        pass
    elif _state["undo_group"] is not None:
        _state["undo_group"]["changes"] += 1
    else:
        _state["undo"].append(f"{node._knobs['name']._value}.{knob.name()}")
    if node._panel_open and GUI and not _state["in_knob_changed"]:
        _state["in_knob_changed"] += 1
        try:
            _run_callbacks("knob_changed", node, knob)
        finally:
            _state["in_knob_changed"] -= 1


class Undo:
    """Nuke's undo history: begin(name) ... end() make one step of every change between them
    (Foundry, nuke.Undo: "begin: Begin a new user-visible group of undo actions"; "end: Complete
    current undo set and add it to the undo list"). Callable on the class or an instance."""

    @staticmethod
    def begin(name: str = "") -> None:
        _main_thread_only("nuke.Undo.begin()")
        if _state["undo_group"] is not None:
            raise RuntimeError("nuke.Undo.begin() inside an open undo group")
        _state["undo_group"] = {"name": name, "changes": 0}

    @staticmethod
    def end() -> None:
        _main_thread_only("nuke.Undo.end()")
        group, _state["undo_group"] = _state["undo_group"], None
        if group is None:
            raise RuntimeError("nuke.Undo.end() without begin()")
        if group["changes"]:
            _state["undo"].append(group["name"])

    @staticmethod
    def disable() -> None:
        _main_thread_only("nuke.Undo.disable()")
        _state["undo_disabled"] = True

    @staticmethod
    def enable() -> None:
        _main_thread_only("nuke.Undo.enable()")
        _state["undo_disabled"] = False

    @staticmethod
    def undoSize() -> int:
        """How many undo steps there are."""
        return len(_state["undo"])


def _set_knobs(node: Node, spec: NodeSpec) -> None:
    for name, text in spec.knobs.items():
        if name not in node._knobs:
            raise RuntimeError(f"{node.Class()} {spec.name}: no knob {name!r}")
        node._knobs[name]._load(text)


def _build_gizmo(cls: str, path: Path, parent: Group, name: str) -> Group:
    """A gizmo node as Nuke builds it from its file: user knobs, inner nodes, their wiring.
    Layers the file declares (add_layer) hold at most 4 channels."""
    text = path.read_text()
    for layer, channels in layers(text).items():
        if len(channels) > 4:
            raise RuntimeError(f"{path}: add_layer {layer}: {len(channels)} channels; a layer holds at most 4")
    gizmo = parse_gizmo(text)
    node = Group("Gizmo", name, parent)
    node._class, node.gizmo_file = cls, path
    tab = ""
    for spec in gizmo.top.user_knobs:
        if spec.name:
            knob = _user_knob(spec)
            tab = spec.name if spec.type_id == 20 else tab
            knob.tab = tab
            node._add(knob)
    _set_knobs(node, gizmo.top)
    node._remember_defaults()
    inputs = 0
    for spec in gizmo.nodes:
        inner = _builtin(spec.cls, spec.name, node)
        _set_knobs(inner, spec)
        if spec.cls == "Input":
            inner._knobs["number"]._value, inputs = inputs, inputs + 1
        node._children.append(inner)
    for spec in gizmo.nodes:
        for index, input_name in enumerate(spec.inputs):
            node.node(spec.name).setInput(index, node.node(input_name) if input_name else None)
    node._inputs = [None] * inputs
    return node


def select_tab(node: Node, tab: str) -> None:
    """Test helper: the artist opens the node's panel (if closed) and clicks its tab `tab`."""
    if not any(isinstance(k, Tab_Knob) and k.name() == tab for k in node._knobs.values()):
        raise KeyError(f"{node.name()}: no tab {tab!r}")
    node._panel_open, node._current_tab = True, tab


class _NodeFactory:
    """nuke.nodes.Read(file=..., first=...): a node with knob values (no panel opens)."""

    def __getattr__(self, cls: str):
        def make(**values) -> Node:
            node = createNode(cls, inpanel=False)
            for name, value in values.items():
                node[name].setValue(value)
            return node

        return make


nodes = _NodeFactory()


def execute(write, first: int, last: int, incr: int = 1, views=None) -> None:
    """Render a Write's frames: the image upstream of it, to its file pattern (TCL expanded).
    `views`: the views to render (the fake's images have one)."""
    _main_thread_only("nuke.execute()")
    if _state["in_knob_changed"]:
        raise RuntimeError("nuke.execute() inside a knobChanged callback: Nuke forbids rendering there")
    node = toNode(write) if isinstance(write, str) else write
    if node is None or node.Class() != "Write":
        raise RuntimeError(f"{write}: not a Write node")
    if node["disable"].value():
        raise RuntimeError(f"{node.name()}: the Write is disabled")
    pattern = node["file"].evaluate_pattern()
    if not pattern:
        raise RuntimeError(f"{node.name()}: no file name")
    if node.upstream() is None:
        raise RuntimeError(f"{node.name()}: nothing is connected to its input")
    for number in range(first, last + 1, incr):
        _write_exr(_frame_file(pattern, number), node.upstream().channels_at(number), node)
    executed.append((node.name(), first, last))


# -- callbacks ----------------------------------------------------------------------------------


def addOnCreate(call: Callable, args: tuple = (), kwargs: dict | None = None, nodeClass: str = "*") -> None:
    _state["on_create"].append((call, tuple(args), dict(kwargs or {}), nodeClass))


def addKnobChanged(call: Callable, args: tuple = (), kwargs: dict | None = None, nodeClass: str = "*") -> None:
    _state["knob_changed"].append((call, tuple(args), dict(kwargs or {}), nodeClass))


def _run_callbacks(kind: str, node: Node, knob: Knob | None = None) -> None:
    for call, args, kwargs, cls in list(_state[kind]):
        if cls not in ("*", node.Class()):
            continue
        _this_nodes.append(node)
        _this_knobs.append(knob)
        try:
            call(*args, **kwargs)
        finally:
            _this_nodes.pop()
            _this_knobs.pop()


def _run_on_create(node: Node) -> None:
    _run_callbacks("on_create", node)


def artist_sets(node: Node, knob_name: str, value) -> None:
    """Test helper: the artist edits a knob in the panel or drags its handle in the Viewer: the
    value is set, then the knobChanged callbacks run (with nuke.execute refused inside them)."""
    knob = node[knob_name]
    _state["in_knob_changed"] += 1
    try:
        knob.setValue(value)  # an undo step; its knobChanged is the one below
        _run_callbacks("knob_changed", node, knob)
    finally:
        _state["in_knob_changed"] -= 1


# -- scripts: save, open, copy, paste -------------------------------------------------------------
#
# The text Nuke writes (deadline-cloud-for-nuke's test scenes, e.g. job_bundle_output_tests/frame/
# scene/frame.nk, multi-load-save.nk, ocio.nk): `version`, the Root, then the nodes, inputs before
# the nodes that read them, wired by Nuke's stack: a node takes its inputs off the stack (input 0
# the top) and leaves itself there, so a plain chain needs no command between its nodes; `set
# Nxxx [stack 0]` follows a node only when it feeds several others, which `push $Nxxx` it again;
# `push 0` is an empty input. `inputs N` is written unless N is 1. nuke.nodeCopy writes the same
# without the Root, starting `set cut_paste_input [stack 0]` and `version`, an input from outside
# the copied nodes being `push $cut_paste_input` (what the pasted nodes connect to).


def _node_lines(node: Node) -> list[str]:
    """A node's block: class, `inputs` unless 1, its non-default knob values (a gizmo: only its
    top-level knobs, never its inner nodes)."""
    lines = [node.Class() + " {"]
    if len(node._inputs) != 1:
        lines.append(f" inputs {len(node._inputs)}")
    for name, knob in node._knobs.items():
        if isinstance(knob, (PyScript_Knob, Tab_Knob, Text_Knob)) or name == "inputs" or knob._flags & DO_NOT_WRITE:
            continue
        if name != "name" and name in node._defaults and knob.is_default(node._defaults[name]):
            continue
        lines.append(f" {name} {knob.toScript()}")
    lines.append("}")
    return lines


def _nodes_text(nodes: list[Node], outside: str | None) -> list[str]:
    """The stack commands and blocks of `nodes` (inputs first). `outside`: the variable pushed
    for an input that is not among `nodes` (None: such an input is written as empty)."""
    chosen = {n._uid for n in nodes}
    # which nodes are pushed by name: simulate the stack once, then write with `set` after them
    named: set[int] = set()

    def plan(record: bool) -> list[tuple[Node, list[str]]]:
        stack: list[int | None] = []
        steps = []
        for node in nodes:
            wanted = [(s._uid if s is not None and s._uid in chosen else (0 if s is None else -1))
                      for s in reversed(node._inputs)]
            kept = 0
            for size in range(len(wanted), 0, -1):
                if stack[-size:] == wanted[:size] and all(w not in (0, -1) for w in wanted[:size]):
                    kept = size
                    break
            del stack[len(stack) - kept:]
            pushes = []
            for uid in wanted[kept:]:
                if uid == 0 or (uid == -1 and outside is None):
                    pushes.append("push 0")
                elif uid == -1:
                    pushes.append(f"push ${outside}")
                else:
                    named.add(uid) if record else None
                    pushes.append(f"push $N{uid}")
            stack.append(node._uid)
            steps.append((node, pushes))
        return steps

    plan(record=True)
    lines = []
    for node, pushes in plan(record=False):
        lines += pushes + _node_lines(node)
        if isinstance(node, Group) and node.gizmo_file is None:  # a group: its nodes, then end_group
            lines += [" " + line for line in _nodes_text(_inputs_first(node._children), None)] + ["end_group"]
        if node._uid in named:
            lines.append(f"set N{node._uid} [stack 0]")
    return lines


def _root_block() -> list[str]:
    knobs = [f" {name} {knob.toScript()}" for name, knob in root()._knobs.items()
             if not isinstance(knob, PyScript_Knob) and name in root()._defaults
             and not knob.is_default(root()._defaults[name])]
    return ["Root {", " inputs 0", *knobs, "}"]


def _script_file_text() -> str:
    order = _inputs_first(_state["root"]._children)
    return "\n".join(["version 14.0 v1", *_root_block(), *_nodes_text(order, None)]) + "\n"


def scriptSave(filename: str | None = None) -> bool:
    """Save the script (to `filename`, else its name)."""
    _main_thread_only("nuke.scriptSave()")
    path = filename or root()["name"].value()
    if not path:
        raise RuntimeError("the script has no name: use scriptSaveAs")
    if filename is None:
        root()._knobs["name"]._value = path
    Path(path).write_text(_script_file_text())
    return True


def scriptSaveAs(filename: str, overwrite: int = -1) -> None:
    _main_thread_only("nuke.scriptSaveAs()")
    root()._knobs["name"]._value = filename
    scriptSave()


def scriptSaveToTemp(filename: str, overwrite: bool = False) -> str:
    """Save the script, as it is now, to `filename` without changing the script's name (Foundry,
    nuke.scriptSaveToTemp: "Saves the script to a file without modifying the root information
    or the original script"); refuses an existing file unless `overwrite`."""
    _main_thread_only("nuke.scriptSaveToTemp()")
    if os.path.exists(filename) and not overwrite:
        raise RuntimeError(f"{filename} exists")
    Path(filename).write_text(_script_file_text())
    return filename


def _load(text: str, group: Group, outside: "Node | None" = None) -> list[Node]:
    """Create the nodes of script text in `group` (gizmos rebuilt from their .gizmo files),
    then run their onCreate callbacks. Names already taken get the next free number; an input
    pushed as `$cut_paste_input` connects to `outside`."""
    root_spec, specs = parse_script(text)
    _state["loading"] = True
    created: list[Node] = []
    try:
        if root_spec is not None:
            for name, value in root_spec.knobs.items():
                if name != "inputs":
                    _state["root"]._knobs[name]._load(value)
        made = _make_specs(specs, group, outside, created)
    finally:
        _state["loading"] = False
    for node in created:
        _run_on_create(node)
    return made


def _make_specs(specs: list[NodeSpec], group: Group, outside: "Node | None", created: list[Node]) -> list[Node]:
    """The nodes of `specs` in `group` (a Group's own nodes inside it), wired; every node made
    goes to `created` too."""
    made: dict[str, Node] = {}
    for spec in specs:
        node = _make_node(spec.cls, spec.name, group)
        created.append(node)
        if spec.children:
            _make_specs(spec.children, node, None, created)
        _set_knobs(node, NodeSpec(spec.cls, {k: v for k, v in spec.knobs.items() if k not in ("name", "inputs")}))
        made[spec.name] = node
    for spec in specs:
        for index, input_name in enumerate(spec.inputs):
            source = outside if input_name == CUT_PASTE_INPUT else made.get(input_name) if input_name else None
            made[spec.name].setInput(index, source)
    return list(made.values())


def scriptOpen(filename: str) -> None:
    """Open a saved script into this (empty) session; the Root's name is the file opened."""
    _main_thread_only("nuke.scriptOpen()")
    if _state["root"]._children:
        raise RuntimeError("the fake opens scripts into an empty session only (call reset first)")
    _load(Path(filename).read_text(), _state["root"])
    _state["root"]._knobs["name"]._value = str(filename)


def selectedNodes() -> list[Node]:
    return [n for n in thisGroup().nodes() if n["selected"].value()]


def _inputs_first(nodes: list[Node]) -> list[Node]:
    """`nodes` with each node after the nodes it reads (the order Nuke writes a script in)."""
    order, chosen, done = [], {n._uid for n in nodes}, set()

    def visit(node):
        if node._uid in done:
            return
        done.add(node._uid)
        for source in reversed(node._inputs):
            if source is not None and source._uid in chosen:
                visit(source)
        order.append(node)

    for node in nodes:
        visit(node)
    return order


def nodeCopy(destination: str) -> bool:
    """Copy the selected nodes of the current group as script text (to the clipboard for
    "%clipboard%"); see the section's comment for the format."""
    _main_thread_only("nuke.nodeCopy()")
    nodes = _inputs_first([n for n in _context[-1]._children if n._knobs["selected"]._value])
    text = "\n".join(["set cut_paste_input [stack 0]", "version 14.0 v1",
                      *_nodes_text(nodes, "cut_paste_input")]) + "\n"
    if destination == "%clipboard%":
        _state["clipboard"] = text
    else:
        Path(destination).write_text(text)
    return True


def nodePaste(source: str) -> Node | None:
    """Paste script text (the clipboard for "%clipboard%") into the current group, connected to
    the selected node; the pasted nodes end up selected, the last one returned."""
    _main_thread_only("nuke.nodePaste()")
    text = _state["clipboard"] if source == "%clipboard%" else Path(source).read_text()
    group = _context[-1]
    selected = [n for n in group._children if n._knobs["selected"]._value]
    for node in group._children:
        node._knobs["selected"]._value = False
    pasted = _load(text, group, selected[-1] if len(selected) == 1 else None)
    for node in pasted:
        node._knobs["selected"]._value = True
    return _wrap(pasted[-1]) if pasted else None


def views() -> list[str]:
    """The script's views (the Root's `views` knob: name colour pairs)."""
    return root()["views"].value().split()[::2]


def message(text: str) -> None:
    _main_thread_only("nuke.message()")
    messages.append(text)


#: Test helper: what the artist types into the next nuke.getInput dialogs (None: cancel).
inputs: list = []


def getInput(prompt: str, default: str = ""):
    """The artist's answer to a text dialog: the next of `inputs`, None when cancelled."""
    _main_thread_only("nuke.getInput()")
    return inputs.pop(0)


def pluginAddPath(path: str, addToSysPath: bool = True) -> None:
    _state["plugin_path"].insert(0, os.fspath(path))


def pluginPath() -> list[str]:
    return list(_state["plugin_path"])


class Menu:
    """A menu: items name -> submenu or command."""

    def __init__(self):
        self.items: dict[str, Any] = {}

    def addMenu(self, name: str, icon: str = "") -> "Menu":
        return self.items.setdefault(name, Menu())

    def addCommand(self, name: str, command: Any = None, shortcut: str = "", icon: str = "") -> None:
        self.items[name] = command

    def findItem(self, name: str):
        return self.items.get(name)


def menu(name: str) -> Menu:
    _main_thread_only("nuke.menu()")
    return _state["menus"].setdefault(name, Menu())


class TaskRecord:
    """What a ProgressTask showed, kept for the test after the task is gone. cancel() is the
    artist pressing its cancel button; `closed` turns true when the task is deleted (Nuke closes
    its bar then)."""

    def __init__(self, title: str):
        self.title, self.message, self.progress = title, "", 0
        self.updates: list[tuple[int, str]] = []
        self.closed = False
        self.cancelled = threading.Event()

    def cancel(self) -> None:
        self.cancelled.set()


class ProgressTask:
    """Nuke's progress bar; usable from any thread. Its record goes to `progress_tasks`."""

    def __init__(self, title: str):
        self._record = TaskRecord(title)
        progress_tasks.append(self._record)

    def setMessage(self, text: str) -> None:
        self._record.message = text
        self._record.updates.append((self._record.progress, text))

    def setProgress(self, percent: int) -> None:
        if not isinstance(percent, int) or not 0 <= percent <= 100:
            raise ValueError(f"progress must be an int 0-100, got {percent!r}")
        self._record.progress = percent
        self._record.updates.append((percent, self._record.message))

    def isCancelled(self) -> bool:
        return self._record.cancelled.is_set()

    def __del__(self):
        self._record.closed = True


def executeInMainThread(call: Callable, args: tuple = (), kwargs: dict | None = None) -> None:
    """Queue call(*args) for the main thread (run by run_pending / pump). Without the GUI there
    is no event loop: the call would never run, so the fake refuses it."""
    if not GUI:
        raise RuntimeError("executeInMainThread in a session without GUI: no event loop will run it")
    if threading.current_thread() is MAIN_THREAD:
        raise RuntimeError("executeInMainThread called from the main thread (Nuke may deadlock)")
    with _pending_lock:
        _pending.append((call, tuple(args), dict(kwargs or {})))


def run_pending() -> int:
    """Run the queued main-thread calls, as Nuke's event loop would; how many ran."""
    _main_thread_only("run_pending()")
    count = 0
    while True:
        with _pending_lock:
            if not _pending:
                return count
            call, args, kwargs = _pending.pop(0)
        call(*args, **kwargs)
        count += 1


def pump(until: Callable[[], bool], timeout: float = 60.0) -> None:
    """Run the event loop until `until()` is true; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        run_pending()
        if until():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout} s")
        time.sleep(0.01)
