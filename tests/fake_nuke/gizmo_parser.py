"""A reader for the part of Nuke's script syntax (Tcl-like) that gizmos use.

    gizmo = parse_gizmo(Path("gizmos/HyperSeg.gizmo").read_text())
    gizmo.top.user_knob("pos1").type_id         # 12 (XY)
    gizmo.top.knobs["proxy_scale"]              # "1"
    gizmo.node("MatteCopy").inputs              # ["Source", "MatteRead"] (input 0 = B, 1 = A)

Words are bare, "quoted" (backslash escapes resolved) or {braced} (kept verbatim, nested braces
balanced); [brackets] are one word. A command ends at a newline outside braces and quotes.
Nodes are commands `Class {knobs}`; the stack commands `set NAME [stack 0]`, `push $NAME`,
`push 0` and each node's `inputs N` (default: 0 for Input and Read, else 1) wire them, input 0
being the top of the stack, as Nuke reads .nk files. A `Group {...}` block opens a group: the
nodes up to its `end_group` are inside it, on a stack of their own; then the group is on the
outer stack. Copied text (nuke.nodeCopy) starts with
`set cut_paste_input [stack 0]` on an empty stack: `push $cut_paste_input` is then an input
from outside the text (CUT_PASTE_INPUT), the node selected where it is pasted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ESCAPES = {"n": "\n", "t": "\t"}
NO_INPUT_CLASSES = ("Input", "Read", "Constant")
#: Commands of a script that are not nodes.
NOT_NODES = ("version", "set", "push", "end_group", "add_layer", "define_window_layout_xml")
#: The input name of `push $cut_paste_input` in copied text: the node it is pasted onto.
CUT_PASTE_INPUT = "$cut_paste_input"


class GizmoSyntaxError(ValueError):
    """The text is not in the syntax this reader knows."""


@dataclass(frozen=True)
class Word:
    """One word: its text (quotes and escapes resolved, braces removed) and how it was written."""

    text: str
    kind: str = "bare"  # bare | quoted | braced | bracket


@dataclass
class UserKnob:
    """`addUserKnob {TYPE NAME [l LABEL] [t TOOLTIP] [T VALUE] [M {ITEMS}] [R MIN MAX] [+FLAG|-FLAG]...}`."""

    type_id: int
    name: str
    label: str | None = None
    tooltip: str | None = None
    value: str | None = None
    items: list[str] = field(default_factory=list)
    range: tuple[float, float] | None = None
    flags: list[str] = field(default_factory=list)


@dataclass
class NodeSpec:
    """A node: its class, knob values (as written), user knobs in order (dividers have no name),
    its inputs (the names of the nodes connected, None for an empty input) and, for a Group,
    the nodes inside it (written between its block and `end_group`)."""

    cls: str
    knobs: dict[str, str] = field(default_factory=dict)
    user_knobs: list[UserKnob] = field(default_factory=list)
    inputs: list[str | None] = field(default_factory=list)
    children: list["NodeSpec"] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.knobs.get("name", "")

    def user_knob(self, name: str) -> UserKnob:
        for knob in self.user_knobs:
            if knob.name == name:
                return knob
        raise KeyError(f"{self.cls} {self.name}: no user knob {name!r}")


@dataclass
class Gizmo:
    """The Gizmo node (`top`) and the nodes inside it, in file order."""

    top: NodeSpec
    nodes: list[NodeSpec]

    def node(self, name: str) -> NodeSpec:
        for spec in self.nodes:
            if spec.name == name:
                return spec
        raise KeyError(f"no node {name!r} in the gizmo")


def split_commands(text: str) -> list[list[Word]]:
    """The commands of `text`, each a list of words; `#` comments at a command's start skipped."""
    commands: list[list[Word]] = []
    words: list[Word] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "\n" or char == ";":
            if words:
                commands.append(words)
                words = []
            i += 1
        elif char.isspace():
            i += 1
        elif char == "#" and not words:
            while i < n and text[i] != "\n":
                i += 1
        elif char == "{":
            end = _closing(text, i, "{", "}")
            words.append(Word(text[i + 1:end], "braced"))
            i = end + 1
        elif char == "[":
            end = _closing(text, i, "[", "]")
            words.append(Word(text[i + 1:end], "bracket"))
            i = end + 1
        elif char == '"':
            value, i = _quoted(text, i)
            words.append(Word(value, "quoted"))
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in ";{":
                i += 2 if text[i] == "\\" else 1
            words.append(Word(_unescape(text[start:i]), "bare"))
    if words:
        commands.append(words)
    return commands


def _closing(text: str, start: int, opening: str, closing: str) -> int:
    """The index of the bracket closing the one at `start` (backslash-escaped ones skipped)."""
    depth, i = 0, start
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == opening:
            depth += 1
        elif char == closing:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise GizmoSyntaxError(f"unbalanced {opening} at offset {start}")


def _quoted(text: str, start: int) -> tuple[str, int]:
    """The string starting with the quote at `start`, unescaped, and the index after it."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == '"':
            return _unescape(text[start + 1:i]), i + 1
        else:
            i += 1
    raise GizmoSyntaxError(f"unterminated string at offset {start}")


def _unescape(raw: str) -> str:
    return re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(1)), raw, flags=re.S)


def parse_user_knob(definition: str) -> UserKnob:
    """The knob of an `addUserKnob {...}` body."""
    words = [w.text for w in split_commands(definition.replace("\n", " "))[0]]
    if len(words) < 2 or not words[0].isdigit():
        raise GizmoSyntaxError(f"addUserKnob {{{definition}}}: expected TYPE NAME first")
    knob = UserKnob(int(words[0]), words[1])
    rest = iter(words[2:])
    for word in rest:
        if word in ("l", "t", "T"):
            setattr(knob, {"l": "label", "t": "tooltip", "T": "value"}[word], next(rest))
        elif word == "M":
            knob.items = [w.text for w in split_commands(next(rest).replace("\n", " "))[0]]
        elif word == "R":
            knob.range = (float(next(rest)), float(next(rest)))
        elif word[:1] in "+-":
            knob.flags.append(word)
        else:
            raise GizmoSyntaxError(f"addUserKnob {{{definition}}}: cannot read {word!r}")
    return knob


def parse_node(cls: str, body: str) -> NodeSpec:
    """A node of class `cls` from the text between its braces."""
    spec = NodeSpec(cls)
    for words in split_commands(body):
        name = words[0].text
        if name == "addUserKnob":
            knob = parse_user_knob(words[1].text)
            if knob.name and knob.name in {k.name for k in spec.user_knobs}:
                raise GizmoSyntaxError(f"{cls}: user knob {knob.name!r} defined twice")
            spec.user_knobs.append(knob)
        elif len(words) == 2:
            spec.knobs[name] = words[1].text
        else:
            raise GizmoSyntaxError(f"{cls}: cannot read knob line {' '.join(w.text for w in words)!r}")
    return spec


def parse_gizmo(text: str) -> Gizmo:
    """The Gizmo of a .gizmo file, its inner nodes wired by the stack commands."""
    top, nodes, _ = _parse_nodes(text)
    if top is None:
        raise GizmoSyntaxError("no Gizmo { ... } header")
    return Gizmo(top, nodes)


def parse_script(text: str) -> tuple[NodeSpec | None, list[NodeSpec]]:
    """(Root node or None, the other nodes in file order, wired) of a saved .nk script."""
    top, nodes, root = _parse_nodes(text)
    if top is not None:
        raise GizmoSyntaxError("a Gizmo header in a script")
    return root, nodes


def layers(text: str) -> dict[str, list[str]]:
    """The `add_layer {name name.c1 name.c2 ...}` declarations of a script or gizmo."""
    found = {}
    for words in split_commands(text):
        if words[0].text == "add_layer" and len(words) == 2:
            names = [w.text for w in split_commands(words[1].text)[0]]
            found[names[0]] = names[1:]
    return found


def _parse_nodes(text: str):
    commands = split_commands(text)
    top: NodeSpec | None = None
    root: NodeSpec | None = None
    nodes: list[NodeSpec] = []
    stack: list[str | None] = []
    variables: dict[str, str | None] = {}
    groups: list[tuple[NodeSpec, list[NodeSpec], list[str | None]]] = []  # open groups: outer nodes, stack
    for words in commands:
        head = words[0].text
        if head == "end_group" and groups:
            group, nodes, stack = groups.pop()
            stack.append(group.name)
            continue
        if head == "set" and len(words) == 3 and words[2] == Word("stack 0", "bracket"):
            outside = CUT_PASTE_INPUT if words[1].text == "cut_paste_input" else None
            variables[words[1].text] = stack[-1] if stack else outside
        elif head == "push":
            ref = words[1].text
            stack.append(None if ref == "0" else variables[ref.lstrip("$")])
        elif head in NOT_NODES:
            continue
        elif len(words) == 2 and words[1].kind == "braced":
            spec = parse_node(head, words[1].text)
            if head == "Gizmo":
                if top is not None:
                    raise GizmoSyntaxError("two Gizmo headers")
                top = spec
                continue
            if head == "Root":
                root = spec
                continue
            count = int(spec.knobs.get("inputs", 0 if head in NO_INPUT_CLASSES else 1))
            if len(stack) < count:
                raise GizmoSyntaxError(f"{head} {spec.name}: {count} inputs but {len(stack)} on the stack")
            spec.inputs = [stack.pop() for _ in range(count)]
            nodes.append(spec)
            if head == "Group":
                groups.append((spec, nodes, stack))
                nodes, stack = spec.children, []
                continue
            stack.append(spec.name)
        else:
            raise GizmoSyntaxError(f"cannot read command {' '.join(w.text for w in words)!r}")
    return top, nodes, root
