"""`evaluate --protocol track`: clicks placed once and tracked, against held clicks and a robot
clicking every frame.

Per clip (one object of a clip or DAVIS sequence, its frames in order):

1. the fixed protocol (robot.FIXED: 10 robot clicks, at most 5 of each label) on the clip's first
   frame only gives the clicks;
2. three ways to segment every frame, all through the same Segmenter:
   - `tracked`: those clicks keyed on the first frame, propagated by `track` (tracking.track_shot);
     the mattes are the ones tracking computes, which are the ones `render` writes;
   - `held`: the same clicks held still on every frame (today's behaviour without tracking),
     segmented as `render` does (segment_shot_frame);
   - `robot`: the fixed protocol run afresh on every frame (an upper bound that costs 10 clicks
     per frame);
3. per frame IoU (= DAVIS J) and contour F of matte > 0.5 against the truth (void pixels left
   out), per clip flicker and dtSSD of the soft mattes (evaluation.temporal);
4. the same three rows with temporal smoothing (`<row>_smoothed`: each row's mattes smoothed as
   render smooths a shot with options.temporal_smoothing, hyperseg_vfx.smoothing), so the report
   shows what the clicks do and what the smoothing does, each on its own.

Summary per row: mIOU over all frames; J, F and J&F = (J + F) / 2 as DAVIS (per-clip means, then
the mean over clips); flicker and dtSSD the mean over clips; clicks per clip. Every frame
counts, the first included (DAVIS's semi-supervised protocol leaves the first and last out).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..atomic import atomic_output
from ..errors import HypersegError
from ..render import segment_shot_frame
from ..sequences import frame_path
from ..shot import ClickTrack, Shot, save_shot
from ..smoothing import smooth_sequence
from ..tracking import track_shot
from .harness import EvalSample, load_sample, run_trial
from .methods import HyperSegMethod
from .robot import FIXED
from .temporal import contour_f, dtssd, flicker, region_j

CLICK_ROWS = ("tracked", "held", "robot")
ROWS = CLICK_ROWS + tuple(f"{row}_smoothed" for row in CLICK_ROWS)
#: Columns of the table: (summary key, heading, decimals).
COLUMNS = (("miou", "mIOU", 3), ("j", "J", 3), ("f", "F", 3), ("jf", "J&F", 3), ("flicker", "flicker", 4),
           ("dtssd", "dtSSD", 4), ("clicks_per_clip", "clicks/clip", 1))


@dataclass
class ClipScores:
    """One row on one clip: per-frame ious and F, soft mattes for the temporal metrics, clicks."""

    ious: list[float]
    fs: list[float]
    flicker: float
    dtssd: float
    clicks: int

    def to_json(self) -> dict:
        return {"ious": self.ious, "f": self.fs, "j_mean": float(np.mean(self.ious)), "f_mean": float(np.mean(self.fs)),
                "flicker": self.flicker, "dtssd": self.dtssd, "clicks": self.clicks}


def group_clips(samples: Sequence) -> dict[str, list]:
    """Dataset samples by clip (and object, for DAVIS), frames in order."""
    clips: dict[str, list] = {}
    for sample in samples:
        name = sample.clip if sample.object_id is None else f"{sample.clip}/{sample.object_id}"
        clips.setdefault(name, []).append(sample)
    return {name: sorted(group, key=lambda s: s.frame) for name, group in clips.items()}


def plate_pattern(clip: str, samples: Sequence) -> str:
    """The frame pattern (####) naming every plate of a clip, so that a Shot reads exactly the
    samples' files (and render's previous-frame rule picks the samples' previous frames)."""
    first = samples[0]
    folder, name = os.path.split(first.rgb_path)
    digits = [m for m in re.finditer(r"-?\d+", name) if int(m.group()) == first.frame]
    if digits:
        match = digits[-1]
        pattern = os.path.abspath(os.path.join(folder, name[: match.start()] + "#" * len(match.group()) + name[match.end():]))
        if all(frame_path(pattern, s.frame) == os.path.abspath(s.rgb_path) for s in samples):
            return pattern
    raise HypersegError(f"clip {clip}: its plates ({first.rgb_path}, ...) are not one numbered sequence")


def _scores(alphas: list[np.ndarray], truths: list[EvalSample], clicks: int) -> ClipScores:
    """One row's scores on a clip from its soft mattes ((H, W) in [0, 1], one per frame)."""
    ious, fs = [], []
    for alpha, sample in zip(alphas, truths):
        mask = alpha > 0.5
        ious.append(region_j(mask, sample.mask, sample.void))
        fs.append(float(contour_f(mask, sample.mask, sample.void)))
    masks = [s.mask for s in truths]
    return ClipScores(ious, fs, flicker(alphas, masks), dtssd(alphas, masks), clicks)


def evaluate_clip(clip: str, samples: Sequence, segmenter, shots_dir: Path | None = None) -> dict[str, ClipScores] | None:
    """The three rows on one clip; None when the object is absent from the first frame."""
    loaded = [load_sample(s) for s in samples]
    if not loaded[0].mask.any():
        return None
    method = HyperSegMethod(segmenter)
    first = run_trial(method, loaded[0], FIXED)
    frames = [s.frame for s in loaded]
    safe = clip.replace("/", "_")
    shot = Shot(
        input=plate_pattern(clip, samples), frames=frames,
        output=os.path.abspath(os.path.join(shots_dir or ".", "mattes", safe, f"{safe}.####.exr")),
        clicks=[ClickTrack(c.positive, {frames[0]: (c.x, c.y)}) for c in first.clicks],
    )
    tracked_alphas: dict[int, np.ndarray] = {}
    result = track_shot(shot, segmenter, on_matte=lambda frame, matte: tracked_alphas.__setitem__(frame, matte.alpha))
    if shots_dir is not None:
        save_shot(result.shot, shots_dir / f"{safe}.yaml", overwrite=True)
    held = [segment_shot_frame(shot, segmenter, f).alpha for f in frames]
    robot, robot_clicks = [], 0
    for sample in loaded:
        trial = run_trial(method, sample, FIXED)
        robot.append(method.predict(sample, trial.clicks))
        robot_clicks += len(trial.clicks)
    clicks = len(first.clicks)
    mattes = {"tracked": ([tracked_alphas[f] for f in frames], clicks), "held": (held, clicks),
              "robot": (robot, robot_clicks)}
    rgbs = [s.rgb for s in loaded]
    scores = {row: _scores(alphas, loaded, n) for row, (alphas, n) in mattes.items()}
    scores |= {f"{row}_smoothed": _scores(smooth_sequence(alphas, rgbs), loaded, n)
               for row, (alphas, n) in mattes.items()}
    return scores


def summarise(per_clip: dict[str, dict[str, ClipScores]]) -> dict[str, dict]:
    summary = {}
    for row in ROWS:
        clips = [scores[row] for scores in per_clip.values()]
        j = float(np.mean([np.mean(c.ious) for c in clips]))
        f = float(np.mean([np.mean(c.fs) for c in clips]))
        summary[row] = {
            "clips": len(clips), "frames": sum(len(c.ious) for c in clips),
            "miou": float(np.mean([v for c in clips for v in c.ious])), "j": j, "f": f, "jf": (j + f) / 2,
            "flicker": float(np.mean([c.flicker for c in clips])), "dtssd": float(np.mean([c.dtssd for c in clips])),
            "clicks_per_clip": float(np.mean([c.clicks for c in clips])),
        }
    return summary


def markdown_table(summary: dict[str, dict]) -> str:
    lines = ["| Clicks | " + " | ".join(h for _, h, _ in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for row, values in summary.items():
        lines.append(f"| {row} | " + " | ".join(f"{values[k]:.{d}f}" for k, _, d in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def evaluate_tracking(samples: Sequence, segmenter, report_dir: str | Path, data: str,
                      on_clip: Callable[[str, dict | None], None] | None = None) -> dict:
    """Run the protocol on every clip of `samples`; write REPORT/report.json, report.md and the
    tracked shot of each clip (REPORT/shots/<clip>.yaml); return the report dict."""
    report_dir = Path(report_dir)
    shots_dir = report_dir / "shots"
    per_clip, skipped = {}, []
    for clip, group in group_clips(samples).items():
        scores = evaluate_clip(clip, group, segmenter, shots_dir)
        if scores is None:
            skipped.append(clip)
        else:
            per_clip[clip] = scores
        if on_clip is not None:
            on_clip(clip, scores)
    if not per_clip:
        raise HypersegError(f"{data}: no clip has its object on its first frame")
    summary = summarise(per_clip)
    report = {
        "data": data, "protocol": {"name": "track", "first_frame": FIXED.name, "max_clicks": FIXED.max_clicks},
        "model": segmenter.model_name, "methods": summary, "skipped": skipped,
        "clips": {clip: {row: s.to_json() for row, s in scores.items()} for clip, scores in per_clip.items()},
    }
    with atomic_output(report_dir / "report.json") as tmp:
        tmp.write_text(json.dumps(report, indent=1) + "\n")
    with atomic_output(report_dir / "report.md") as tmp:
        tmp.write_text(markdown_report(report))
    return report


def markdown_report(report: dict) -> str:
    summary = report["methods"]
    any_row = next(iter(summary.values()))
    return "\n".join([
        "# Tracking evaluation", "",
        f"Data: `{report['data']}`, {any_row['clips']} clips, {any_row['frames']} frames; model {report['model']}.",
        "Clicks: the fixed protocol (10 robot clicks, at most 5 of each label) on each clip's first frame, then "
        "`tracked` (propagated by `hyperseg-vfx track`), `held` (kept still), or `robot` (the fixed protocol "
        "again on every frame); `_smoothed`: the same mattes with temporal smoothing (options.temporal_smoothing).", "",
        markdown_table(summary),
        "mIOU over all frames; J (IoU) and F (boundary F, davis2017-evaluation) per clip, then averaged; "
        "flicker = mean |alpha_t - alpha_t-1| where the truth did not change; dtSSD as Robust Video Matting "
        "computes it (not x100).", "",
        *(["Skipped (no object on the first frame): " + ", ".join(report["skipped"]), ""] if report["skipped"] else []),
    ])
