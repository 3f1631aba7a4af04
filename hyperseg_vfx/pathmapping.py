"""Path mapping: the paths written in a shot file, as seen from the machine that renders it.

A shot written on an artist's workstation names `/mnt/show/sh010/plates/sh010.####.exr`; the
farm worker that renders it may see the same files at `/data/show/sh010/...` or `Z:\\show\\...`.
Every farm engine can describe that difference as rules in Open Job Description's
`pathmapping-1.0` JSON document:

    {"version": "pathmapping-1.0",
     "path_mapping_rules": [{"source_path_format": "POSIX", "source_path": "/mnt/show",
                             "destination_path": "/data/show"}]}

`hyperseg-vfx render SHOT --path-mapping-rules FILE` applies them to every path of the shot
(input, output, checkpoint; the previous plate follows the input) before it is validated. OpenJD
and Deadline Cloud hand the session's rules over as `{{Session.PathMappingRulesFile}}`; the
Deadline 10 plugin writes the repository's mappings into such a file; on OpenCue a wrangler
writes one by hand (see README).

Semantics follow openjd-sessions (`openjd/sessions/_path_mapping.py`, PathMappingRule.apply),
so a path is mapped the same way here as the session maps the job's PATH parameters:
- the rule with the most source path components is tried first; the first that matches wins;
- a rule matches on whole components: `/mnt/show` maps `/mnt/show/a` but not `/mnt/shows/a`;
- WINDOWS sources match case-insensitively (ASCII letters only), either separator;
- the result is the destination joined with the remaining components in this host's format
  (backslashes on Windows), so separators are right for the host after mapping.
An empty document (`{}`, what openjd-sessions writes when a session has no rules) means no rules.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import PurePath, PurePosixPath, PureWindowsPath

from .errors import HypersegError

VERSION = "pathmapping-1.0"
FORMATS = ("POSIX", "WINDOWS")
_RULE_KEYS = ("source_path_format", "source_path", "destination_path")
#: A rules document is small; refuse anything larger before parsing it.
MAX_RULES_BYTES = 1 << 20


class PathMappingError(HypersegError, ValueError):
    """A path-mapping rules file that cannot be used; the message names the file and the rule."""


def _fold(text: str) -> str:
    """ASCII-only case fold (openjd-sessions' _ascii_lower: U+212A must not fold to `k`)."""
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


@dataclass(frozen=True)
class PathMappingRule:
    """Paths under `source` (a path of `source_format`) are at `destination` on this host."""

    source_format: str
    source: str
    destination: str

    def _source(self) -> PurePath:
        return PurePosixPath(self.source) if self.source_format == "POSIX" else PureWindowsPath(self.source)

    def components(self) -> int:
        return len(self._source().parts)

    def apply(self, path: str) -> str | None:
        """`path` mapped by this rule, None when the rule does not match it."""
        source = self._source()
        parsed = PurePosixPath(path) if self.source_format == "POSIX" else PureWindowsPath(path)
        head = parsed.parts[: len(source.parts)]
        if len(head) < len(source.parts):
            return None
        if self.source_format == "POSIX":
            matches = head == source.parts
        else:
            matches = all(_fold(a) == _fold(b) for a, b in zip(head, source.parts))
        if not matches:
            return None
        return str(PurePath(self.destination, *parsed.parts[len(source.parts):]))


@dataclass(frozen=True)
class PathMapping:
    """An ordered set of rules (most specific first); map(path) applies the first that matches."""

    rules: tuple[PathMappingRule, ...] = ()

    def map(self, path: str) -> str:
        for rule in self.rules:
            mapped = rule.apply(path)
            if mapped is not None:
                return mapped
        return path

    def to_document(self) -> dict:
        """The rules as a pathmapping-1.0 document (what load_path_mapping reads back)."""
        return {"version": VERSION, "path_mapping_rules": [
            {"source_path_format": r.source_format, "source_path": r.source, "destination_path": r.destination}
            for r in self.rules]}


NO_MAPPING = PathMapping()


def path_mapping_from_document(document: object, where: str = "path mapping rules") -> PathMapping:
    """The rules of a parsed pathmapping-1.0 document; PathMappingError naming `where` and the
    rule otherwise. `{}` is no rules."""
    if document == {}:
        return NO_MAPPING
    if not isinstance(document, dict):
        raise PathMappingError(f"{where}: must be a JSON object with version and path_mapping_rules")
    unknown = set(document) - {"version", "path_mapping_rules"}
    if unknown:
        raise PathMappingError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    if document.get("version") != VERSION:
        raise PathMappingError(f"{where}: version must be {VERSION!r}, got {document.get('version')!r}")
    entries = document.get("path_mapping_rules")
    if not isinstance(entries, list):
        raise PathMappingError(f"{where}: path_mapping_rules must be a list")
    rules = []
    for i, entry in enumerate(entries):
        here = f"{where}: path_mapping_rules[{i}]"
        if not isinstance(entry, dict) or set(entry) != set(_RULE_KEYS):
            raise PathMappingError(f"{here}: must have exactly the keys {', '.join(_RULE_KEYS)}")
        if not all(isinstance(entry[k], str) and entry[k] for k in _RULE_KEYS):
            raise PathMappingError(f"{here}: every value must be a non-empty string")
        if any(ord(c) < 32 or ord(c) == 127 for k in _RULE_KEYS for c in entry[k]):
            raise PathMappingError(f"{here}: holds a control character")
        source_format = entry["source_path_format"].upper()
        if source_format not in FORMATS:
            raise PathMappingError(f"{here}.source_path_format: must be POSIX or WINDOWS, "
                                   f"got {entry['source_path_format']!r}")
        rule = PathMappingRule(source_format, entry["source_path"], entry["destination_path"])
        if not rule._source().is_absolute():
            raise PathMappingError(f"{here}.source_path: must be an absolute {source_format} path, "
                                   f"got {rule.source!r}")
        rules.append(rule)
    # Stable sort: among rules of equal specificity the document's order decides (as in openjd-sessions).
    rules.sort(key=lambda r: -r.components())
    return PathMapping(tuple(rules))


def load_path_mapping(path: str | os.PathLike) -> PathMapping:
    """The rules in the pathmapping-1.0 JSON file at `path`; PathMappingError naming the file."""
    from .door import ANYWHERE, PathRefused

    try:
        raw = ANYWHERE.read_bytes(path, "path_mapping_rules", limit=MAX_RULES_BYTES)
    except PathRefused as exc:  # a FIFO, a folder, too large
        raise PathMappingError(f"path mapping rules {exc}") from None
    except OSError as exc:
        raise PathMappingError(f"path mapping rules {path}: {exc.strerror or exc}") from None
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise PathMappingError(f"path mapping rules {path}: not valid JSON ({exc})") from None
    return path_mapping_from_document(document, f"path mapping rules {path}")
