"""The segmentation methods `evaluate` compares, behind one interface.

A method is anything with

    kind: str                                    # "hyperseg", "random_walk", "graph_cut"
    predict(sample, clicks) -> (H, W) float32    # foreground probability (or 0/1) in [0, 1]
    describe() -> dict                           # its settings, for the report

`predict` reads only `sample.rgb`, `sample.prev_rgb` and `sample.key` (see harness.EvalSample)
and is given all clicks so far. HyperSeg's answer is candidate 1 of the Segmenter; the
Segmenter is called with frame_key = sample.key, so a sample's backbone features are computed
once and every further click runs only the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from ..clicks import Click
from ..errors import HypersegError
from .baselines import GraphCut, RandomWalk

BASELINES = {"random_walk": RandomWalk, "graph_cut": GraphCut}
METHOD_KINDS = ("hyperseg", *BASELINES)


class Method(Protocol):
    kind: str

    def predict(self, sample, clicks: Sequence[Click]) -> np.ndarray: ...

    def describe(self) -> dict: ...


class HyperSegMethod:
    """A Segmenter (one checkpoint on one device) as an evaluation method."""

    kind = "hyperseg"

    def __init__(self, segmenter, edges: str | None = None):
        self.segmenter = segmenter
        self.edges = edges

    def predict(self, sample, clicks: Sequence[Click]) -> np.ndarray:
        """(H, W) float32 alpha of candidate 1 (edges: Segmenter.segment's, None the model's)."""
        return self.segmenter.segment(sample.rgb, sample.prev_rgb, clicks, frame_key=sample.key,
                                      all_candidates=False, edges=self.edges).alpha

    def describe(self) -> dict:
        meta = self.segmenter.metadata
        edges = self.edges or self.segmenter.model.config.edges.method
        return {"kind": self.kind, "name": self.segmenter.model_name, "checkpoint": meta.get("checkpoint"),
                "trained": meta.get("trained"), "edges": edges}


def build_methods(kinds: Sequence[str], checkpoints: Sequence[str | Path] = (), device: str = "auto",
                  edges: str | None = None) -> dict[str, Method]:
    """Methods by row name, in the order of `kinds`. edges: HyperSeg's edge stage (None: each
    model's own; see Segmenter.segment).

    "hyperseg" gives one method per checkpoint, named by the checkpoint's metadata name (its
    file stem when it has none, or when two checkpoints share a name); the baselines are named
    by their kind. HypersegError for an unknown kind, hyperseg without checkpoints, checkpoints
    without hyperseg, or two rows with one name.
    """
    unknown = [k for k in kinds if k not in METHOD_KINDS]
    if unknown:
        raise HypersegError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHOD_KINDS)}")
    if ("hyperseg" in kinds) != bool(checkpoints):
        raise HypersegError("method hyperseg needs at least one --checkpoint, and --checkpoint needs method hyperseg")
    methods: dict[str, Method] = {}
    for kind in dict.fromkeys(kinds):
        if kind != "hyperseg":
            methods[_unique(kind, methods)] = BASELINES[kind]()
            continue
        segmenters = [_segmenter(path, device) for path in checkpoints]
        names = [s.model_name for s in segmenters]
        for path, segmenter, name in zip(checkpoints, segmenters, names):
            methods[_unique(name if names.count(name) == 1 else Path(path).stem, methods)] = HyperSegMethod(segmenter, edges)
    return methods


def _segmenter(path: str | Path, device: str):
    from ..segmenter import Segmenter

    if not Path(path).is_file():
        raise HypersegError(f"--checkpoint {path}: file not found")
    return Segmenter.from_checkpoint(path, device=device)


def _unique(name: str, taken: dict) -> str:
    if name in taken:
        raise HypersegError(f"two methods would share the row name {name!r}: rename a checkpoint file")
    return name
