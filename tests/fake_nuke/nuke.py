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

Test helpers (not in Nuke): reset(), run_pending(), pump(until, timeout), messages,
progress_tasks (TaskRecord: what each ProgressTask showed, cancel()), executed (Write renders),
XY_Knob.animations() curves' `interpolation`, and Read nodes' `reloads`.
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

from fake_nuke.gizmo_parser import NodeSpec, UserKnob, parse_gizmo

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
    """A knob holding one value; convert() types what Python or a script sets."""

    default: Any = ""

    def __init__(self, name: str):
        self._name = name
        self._value = self.default

    def Class(self) -> str:
        return type(self).__name__

    def name(self) -> str:
        return self._name

    def value(self):
        _main_thread_only(f"{self._name}.value()")
        return self._value

    def setValue(self, value) -> bool:
        _main_thread_only(f"{self._name}.setValue()")
        self._value = self.convert(value)
        return True

    def fromScript(self, text: str) -> None:
        """Set the value as written in a .nk / .gizmo file."""
        self._value = self.convert(text)

    def convert(self, value):
        return str(value)


class String_Knob(Knob):
    pass


class File_Knob(String_Knob):
    pass


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
    """value(): the chosen item; setValue takes an item or its index."""

    def __init__(self, name: str, items: list[str]):
        super().__init__(name)
        self._items = list(items)
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
        _main_thread_only(f"{self._name}.execute()")
        if self._action is not None:
            self._action()
            return
        _this_nodes.append(self.node)
        try:
            exec(compile(self._value, f"<knob {self._name}>", "exec"), {"nuke": _module()})
        finally:
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
        return True

    def setAnimated(self, index: int = -1) -> bool:
        """Animate the channel(s), keyed at the current frame on their value."""
        _main_thread_only(f"{self._name}.setAnimated()")
        for i in (0, 1) if index == -1 else (index,):
            if self._curves[i] is None:
                self._curves[i] = Curve()
                self._curves[i].keys[float(frame())] = self._value[i]
        return True

    def setValueAt(self, value: float, time: float, index: int = 0) -> bool:
        _main_thread_only(f"{self._name}.setValueAt()")
        if self._curves[index] is None:
            raise RuntimeError(f"{self._name}: setValueAt on a channel that is not animated")
        self._curves[index].keys[float(time)] = float(value)
        return True

    def getKeyList(self) -> list[float]:
        _main_thread_only(f"{self._name}.getKeyList()")
        return sorted({t for c in self._curves if c is not None for t in c.keys})

    def animations(self) -> list[Curve]:
        """The channels' curves (test helper: set `.interpolation` on them)."""
        return [c for c in self._curves if c is not None]


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
              "raw": (Boolean_Knob, False)},
    "Copy": {"from0": (String_Knob, "rgba.alpha"), "to0": (String_Knob, "rgba.alpha")},
    "Input": {"number": (Int_Knob, 0)},
    "Output": {},
    "Dot": {},
    "Gizmo": {"help": (String_Knob, ""), "tile_color": (String_Knob, "")},
    "Root": {"first_frame": (Int_Knob, 1), "last_frame": (Int_Knob, 100), "proxy": (Boolean_Knob, False)},
}


class Node:
    """A node: knobs, inputs, and (for Read) a format and frame range from its files."""

    def __init__(self, cls: str, name: str, parent: "Group | None"):
        self._class, self._parent = cls, parent
        self._knobs: dict[str, Knob] = {}
        self._inputs: list[Node | None] = []
        for knob_name, (kind, default) in {**COMMON_KNOBS, **CLASS_KNOBS.get(cls, {})}.items():
            self._add(kind(knob_name))
            self._knobs[knob_name]._value = default
        self._knobs["name"]._value = name
        if cls == "Read":
            self.reloads = 0
            self._add(PyScript_Knob("reload", action=self._reload))

    def _add(self, knob: Knob) -> None:
        if isinstance(knob, PyScript_Knob):
            knob.node = self
        self._knobs[knob.name()] = knob

    def _reload(self) -> None:
        self.reloads += 1

    def Class(self) -> str:
        return self._class

    def name(self) -> str:
        _main_thread_only("Node.name()")
        return self._knobs["name"]._value

    def knob(self, name: str) -> Knob | None:
        _main_thread_only(f"Node.knob({name!r})")
        return self._knobs.get(name)

    def __getitem__(self, name: str) -> Knob:
        knob = self.knob(name)
        if knob is None:
            raise NameError(f"knob {name} does not exist")
        return knob

    def input(self, index: int) -> "Node | None":
        _main_thread_only("Node.input()")
        return self._inputs[index] if index < len(self._inputs) else None

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
            return _file_format(_frame_file(self._knobs["file"]._value, self._knobs["first"]._value))
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
            return self._knobs[end]._value
        source = self.upstream()
        return of_upstream(source) if source is not None else root()[f"{end}_frame"].value()

    def pixels(self, frame_number: int) -> np.ndarray:
        """The node's image at a frame, (H, W, C) float32, top row first."""
        if self._class == "Read":
            return _read_image(_frame_file(self._knobs["file"]._value, frame_number), self.name())
        if self._class in ("Input", "Dot", "Output") or self._knobs["disable"]._value:
            source = self.upstream()
            if source is None:
                raise RuntimeError(f"{self.name()}: nothing connected")
            return source.pixels(frame_number)
        raise NotImplementedError(f"the fake renders Read, Input, Dot and disabled nodes, not {self._class}")


class Group(Node):
    """A node holding nodes (the root, a Gizmo). begin()/end() make it the context of toNode."""

    def __init__(self, cls: str, name: str, parent: "Group | None"):
        super().__init__(cls, name, parent)
        self._children: list[Node] = []

    def nodes(self) -> list[Node]:
        return list(self._children)

    def node(self, name: str) -> Node | None:
        _main_thread_only("Group.node()")
        return next((n for n in self._children if n._knobs["name"]._value == name), None)

    def begin(self) -> "Group":
        _main_thread_only("Group.begin()")
        _context.append(self)
        return self

    def end(self) -> None:
        _main_thread_only("Group.end()")
        if len(_context) < 2 or _context[-1] is not self:
            raise RuntimeError(f"{self.name()}.end() without its begin()")
        _context.pop()

    def __enter__(self) -> "Group":
        return self.begin()

    def __exit__(self, *exc) -> None:
        self.end()

    def pixels(self, frame_number: int) -> np.ndarray:
        raise NotImplementedError("the fake does not render through groups")


class Root(Group):
    def __init__(self):
        super().__init__("Root", "root", None)
        self._add(File_Knob("name"))
        self._format = Format(1920, 1080)

    def name(self) -> str:
        return "Root"

    def format(self) -> Format:
        return self._format



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


def _read_image(path: str, node_name: str) -> np.ndarray:
    import OpenImageIO as oiio

    if not os.path.isfile(path):
        raise RuntimeError(f"{node_name}: Read error: {path}: No such file or directory")
    inp = oiio.ImageInput.open(path)
    spec = inp.spec()
    pixels = inp.read_image(0, 0, 0, spec.nchannels, oiio.FLOAT)
    inp.close()
    return np.asarray(pixels, dtype=np.float32)


def _write_exr(path: str, pixels: np.ndarray, write: Node) -> None:
    """A Write's EXR: float (or half) as its datatype knob says, its channels, no conversion;
    with `no metadata`, no time stamp either (the same pixels give the same bytes)."""
    import OpenImageIO as oiio

    if not os.path.isdir(os.path.dirname(path)):
        raise RuntimeError(f"{write.name()}: cannot open {path} for writing: No such file or directory")
    channels = {"rgb": 3, "rgba": 4}[write["channels"].value()]
    data = np.ascontiguousarray(pixels[..., :channels])
    kind = oiio.FLOAT if write["datatype"].value() == "32 bit float" else oiio.HALF
    spec = oiio.ImageSpec(data.shape[1], data.shape[0], channels, kind)
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


def reset() -> None:
    """A fresh session: an empty untitled script at frame 1, no plugin paths, menus or messages."""
    _state.clear()
    _state.update(root=Root(), frame=1, plugin_path=[], menus={}, counters={})
    _context[:] = [_state["root"]]
    _this_nodes.clear()
    with _pending_lock:
        _pending.clear()
    messages.clear()
    progress_tasks.clear()
    executed.clear()


def root() -> Root:
    return _state["root"]


def frame(number: int | None = None) -> int:
    """The current frame; frame(n) sets it."""
    _main_thread_only("nuke.frame()")
    if number is not None:
        _state["frame"] = int(number)
    return _state["frame"]


def thisNode() -> Node:
    _main_thread_only("nuke.thisNode()")
    return _this_nodes[-1] if _this_nodes else root()


def thisGroup() -> Group:
    _main_thread_only("nuke.thisGroup()")
    return _context[-1]


def toNode(name: str) -> Node | None:
    """A node of the current group (`begin()`), by name."""
    return thisGroup().node(name)


def allNodes(cls: str | None = None, group: Group | None = None) -> list[Node]:
    _main_thread_only("nuke.allNodes()")
    return [n for n in (group or thisGroup()).nodes() if cls is None or n.Class() == cls]


def _unique_name(prefix: str) -> str:
    counters = _state["counters"]
    counters[prefix] = counters.get(prefix, 0) + 1
    return f"{prefix}{counters[prefix]}"


def createNode(cls: str, knobs: str = "", inpanel: bool = True) -> Node:
    """A node of class `cls` in the current group: a built-in one, or the gizmo `cls`.gizmo
    found on the plugin path."""
    _main_thread_only("nuke.createNode()")
    group = thisGroup()
    gizmo = _find_gizmo(cls)
    node = _build_gizmo(cls, gizmo, group) if gizmo else _builtin(cls, _unique_name(cls), group)
    group._children.append(node)
    return node


def _builtin(cls: str, name: str, parent: Group | None) -> Node:
    if cls not in CLASS_KNOBS:
        raise RuntimeError(f"{cls}: unknown command (the fake knows {', '.join(CLASS_KNOBS)} and gizmos)")
    return Node(cls, name, parent)


def _find_gizmo(cls: str) -> Path | None:
    for folder in _state["plugin_path"]:
        path = Path(folder) / f"{cls}.gizmo"
        if path.is_file():
            return path
    return None


def _user_knob(spec: UserKnob) -> Knob:
    kind = globals()[KNOB_TYPES[spec.type_id]]
    if kind is Enumeration_Knob:
        return Enumeration_Knob(spec.name, spec.items)
    if kind is PyScript_Knob:
        return PyScript_Knob(spec.name, spec.value or "")
    knob = kind(spec.name)
    if spec.value is not None:
        knob.fromScript(spec.value)
    return knob


def _set_knobs(node: Node, spec: NodeSpec) -> None:
    for name, text in spec.knobs.items():
        if name not in node._knobs:
            raise RuntimeError(f"{node.Class()} {spec.name}: no knob {name!r}")
        node._knobs[name].fromScript(text)


def _build_gizmo(cls: str, path: Path, parent: Group) -> Group:
    """A gizmo node as Nuke builds it from its file: user knobs, inner nodes, their wiring."""
    gizmo = parse_gizmo(path.read_text())
    node = Group("Gizmo", _unique_name(cls), parent)
    node._class = cls
    for spec in gizmo.top.user_knobs:
        if spec.name:
            node._add(_user_knob(spec))
    _set_knobs(node, gizmo.top)
    inputs = 0
    for spec in gizmo.nodes:
        inner = _builtin(spec.cls, spec.name, node)
        _set_knobs(inner, spec)
        if spec.cls == "Input":
            inner._knobs["number"]._value, inputs = inputs, inputs + 1
        node._children.append(inner)
    for spec in gizmo.nodes:
        for index, name in enumerate(spec.inputs):
            node.node(spec.name).setInput(index, node.node(name) if name else None)
    node._inputs = [None] * inputs
    return node


class _NodeFactory:
    """nuke.nodes.Read(file=..., first=...): a node with knob values."""

    def __getattr__(self, cls: str):
        def make(**values) -> Node:
            node = createNode(cls)
            for name, value in values.items():
                node[name].setValue(value)
            return node

        return make


nodes = _NodeFactory()


def execute(write, first: int, last: int, incr: int = 1) -> None:
    """Render a Write's frames: the pixels of the Read upstream of it, to its file pattern."""
    _main_thread_only("nuke.execute()")
    node = toNode(write) if isinstance(write, str) else write
    if node is None or node.Class() != "Write":
        raise RuntimeError(f"{write}: not a Write node")
    if node["disable"].value():
        raise RuntimeError(f"{node.name()}: the Write is disabled")
    pattern = node["file"].value()
    if not pattern:
        raise RuntimeError(f"{node.name()}: no file name")
    for number in range(first, last + 1, incr):
        _write_exr(_frame_file(pattern, number), node.upstream().pixels(number), node)
    executed.append((node.name(), first, last))


def message(text: str) -> None:
    _main_thread_only("nuke.message()")
    messages.append(text)


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
    """Queue call(*args) for the main thread (run by run_pending / pump)."""
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
