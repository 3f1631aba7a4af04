"""The evaluation report: per-method summary, report.json, report.md and plots.

Every number comes from the rows (harness.SampleResult): mIOU, mBIOU and BIoU are the means of
the rows' final-prediction values; NoC@85/90 (robot protocol only, capped at its 20 clicks) and
mIoU@k are computed from the rows' per-click IoUs. Nothing time- or machine-dependent is
written into report.json, so the same inputs give the same file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..atomic import atomic_output
from .harness import SampleResult
from .metrics import miou_at_k, noc
from .robot import ClickProtocol

#: Columns of the report table: (summary key, heading, decimals).
COLUMNS = (("miou", "mIOU", 3), ("mbiou", "mBIOU", 3), ("boundary_iou", "BIoU(0.02)", 3),
           ("noc85", "NoC@85", 2), ("noc90", "NoC@90", 2), ("sad", "SAD", 3), ("mse", "MSE", 4),
           ("gradient", "Grad", 3))


def summarise(results: Sequence[SampleResult], protocol: ClickProtocol) -> dict[str, dict]:
    """method -> {"samples", "miou", "mbiou", "boundary_iou", "noc85", "noc90", "sad", "mse",
    "gradient", "miou_at_k"} (NoC None unless protocol.has_noc; the matting errors: means over
    the rows that have them, None when none has), methods in first-seen order."""
    summary = {}
    for method in dict.fromkeys(r.method for r in results):
        rows = [r for r in results if r.method == method]
        ious = np.array([r.ious for r in rows])  # (N, K)
        summary[method] = {
            "samples": len(rows),
            "miou": float(np.mean([r.iou for r in rows])),
            "mbiou": float(np.mean([r.mbiou for r in rows])),
            "boundary_iou": float(np.mean([r.biou for r in rows])),
            "noc85": float(noc(ious, 0.85, protocol.max_clicks).mean()) if protocol.has_noc else None,
            "noc90": float(noc(ious, 0.90, protocol.max_clicks).mean()) if protocol.has_noc else None,
            **{key: _mean_present([getattr(r, key) for r in rows]) for key in ("sad", "mse", "gradient")},
            "miou_at_k": miou_at_k(ious).tolist(),
        }
    return summary


def _mean_present(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


def report_json(
    results: Sequence[SampleResult], protocol: ClickProtocol, method_info: Mapping[str, dict], data: str
) -> dict:
    """The content of report.json."""
    return {
        "data": data,
        "protocol": {"name": protocol.name, "max_clicks": protocol.max_clicks, "max_per_label": protocol.max_per_label},
        "method_info": dict(method_info),
        "methods": summarise(results, protocol),
        "samples": [r.to_json() for r in results],
    }


def markdown_table(summary: Mapping[str, dict]) -> str:
    """The table of the paper's Table 1 (plus BIoU and NoC): one row per method; '-' for a
    metric the protocol does not define."""
    lines = ["| Method | " + " | ".join(h for _, h, _ in COLUMNS) + " |",
             "|---" * (len(COLUMNS) + 1) + "|"]
    for method, values in summary.items():
        cells = ["-" if values[key] is None else f"{values[key]:.{digits}f}" for key, _, digits in COLUMNS]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown_report(report: Mapping) -> str:
    """report.md: what was evaluated, the table, mIoU per click, and the plots."""
    protocol = report["protocol"]
    summary = report["methods"]
    samples = {(r["clip"], r["frame"], r["object_id"]) for r in report["samples"]}
    cap = protocol["max_per_label"]
    rule = f"up to {protocol['max_clicks']} clicks from the next-click robot" + (
        f" ({cap} positive + {cap} negative at most)" if cap else "")
    curve_heading = " | ".join(str(k) for k in range(1, protocol["max_clicks"] + 1))
    curve_rows = [f"| {m} | " + " | ".join(f"{v:.3f}" for v in s["miou_at_k"]) + " |" for m, s in summary.items()]
    return "\n".join([
        "# Evaluation report", "",
        f"Data: `{report['data']}`, {len(samples)} samples. Protocol `{protocol['name']}`: {rule}.", "",
        markdown_table(summary),
        "mIOU, mBIOU (IoU of the 1-px-dilated boundary contours) and BIoU (Cheng et al., dilation ratio 0.02)"
        " after the last click; NoC@85/90: mean clicks to reach IoU 0.85/0.90 (20 when never reached)."
        " SAD (/1000), MSE and Grad (/1000): Rhemann et al.'s matting errors of the soft output after the last"
        " click against the soft truth, in a band of 0.005 x the diagonal around its edge ('-': no soft truth).", "",
        "## mIoU after k clicks", "",
        f"| Method | {curve_heading} |", "|---" * (protocol["max_clicks"] + 1) + "|", *curve_rows, "",
        f"![plot]({PLOTS[protocol['name']][0]})", "",
    ])


def plot_iou_curves(summary: Mapping[str, dict], path: str | Path) -> None:
    """Line plot of mIoU after k clicks, one line per method (PNG)."""
    figure, axes = _figure()
    for method, values in summary.items():
        curve = values["miou_at_k"]
        axes.plot(range(1, len(curve) + 1), curve, marker="o", markersize=3, label=method)
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set(xlabel="clicks", ylabel="mIoU", ylim=(0, 1), title="mIoU per click")
    axes.grid(alpha=0.3)
    axes.legend()
    _save(figure, path)


def plot_metric_bars(summary: Mapping[str, dict], path: str | Path) -> None:
    """Grouped bar chart of mIOU, mBIOU and BIoU per method (PNG)."""
    figure, axes = _figure()
    keys = COLUMNS[:3]
    width = 0.8 / len(keys)
    positions = np.arange(len(summary))
    for i, (key, heading, _) in enumerate(keys):
        axes.bar(positions + (i - (len(keys) - 1) / 2) * width, [v[key] for v in summary.values()], width, label=heading)
    axes.set_xticks(positions, list(summary))
    axes.set(ylabel="score", ylim=(0, 1), title="Final-click metrics")
    axes.legend()
    _save(figure, path)


#: protocol name -> (plot file, plot function): curves for the robot, bars for the fixed protocol.
PLOTS = {"robot": ("iou_per_click.png", plot_iou_curves), "fixed": ("metrics.png", plot_metric_bars)}


def _figure():
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.0), dpi=100, layout="tight")
    return figure, figure.add_subplot()


def _save(figure, path: str | Path) -> None:
    with atomic_output(path) as tmp:
        figure.savefig(tmp, format="png", metadata={"Software": None})


def write_report(
    folder: str | Path, results: Sequence[SampleResult], protocol: ClickProtocol,
    method_info: Mapping[str, dict], data: str,
) -> dict:
    """Write folder/report.json, folder/report.md and the protocol's plot (see PLOTS);
    return the report dict."""
    folder = Path(folder)
    report = report_json(results, protocol, method_info, data)
    with atomic_output(folder / "report.json") as tmp:
        tmp.write_text(json.dumps(report, indent=1) + "\n")
    with atomic_output(folder / "report.md") as tmp:
        tmp.write_text(markdown_report(report))
    name, plot = PLOTS[protocol.name]
    plot(report["methods"], folder / name)
    return report
