"""Evaluation of interactive segmentation: metrics, the next-click robot, classical baselines,
the click loop and the report of `hyperseg-vfx evaluate`.

    from hyperseg_vfx.evaluation import FIXED, EvalSample, build_methods, evaluate, write_report

    methods = build_methods(["hyperseg", "random_walk", "graph_cut"], ["model.pt"])
    results = evaluate(samples, methods, FIXED)
    write_report("eval", results, FIXED, {n: m.describe() for n, m in methods.items()}, "clips:/data")

Modules: metrics (pure functions), robot (next click, protocols), baselines (Random Walk,
Graph Cut), methods (one interface over HyperSeg and the baselines), harness (the loop),
report (JSON, Markdown, plots), artifacts (masks, overlays).
"""

from .harness import EvalSample, SampleResult, Trial, evaluate, run_trial
from .methods import build_methods
from .report import summarise, write_report
from .robot import FIXED, PROTOCOLS, ROBOT, ClickProtocol, Clicker, next_click

__all__ = [
    "EvalSample", "SampleResult", "Trial", "evaluate", "run_trial", "build_methods", "summarise",
    "write_report", "FIXED", "PROTOCOLS", "ROBOT", "ClickProtocol", "Clicker", "next_click",
]
