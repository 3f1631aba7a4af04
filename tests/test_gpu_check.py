"""`make gpu-check`'s script at small sizes on the CPU: every section runs and lands in one JSON."""

from __future__ import annotations

import json
import math
import subprocess
import sys


def test_gpu_check_script_runs_every_section_on_the_cpu(tmp_path):
    out = tmp_path / "gpu_check.json"
    done = subprocess.run([sys.executable, "-m", "hyperseg_vfx.gpu_check", "--small", "--device", "cpu", "--out", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert result["ok"] is True and result["errors"] == {} and result["device"] == "cpu" and result["small"] is True
    assert set(result["bench"]) >= {"bundled_96x64", "bundled_160x96", "paper_96x64", "paper_160x96", "seconds"}
    for name in ("bundled_160x96", "paper_160x96"):
        bench = result["bench"][name]
        assert bench["full_frame_s"] > bench["click_update_s"] > 0 and bench["compute_dtype"] == "float32"
        assert {"backbone", "network", "refine"} <= set(bench["stage_s"])
    for model in ("bundled", "paper"):
        assert result["precision"][model]["float32"]["max_alpha_diff"] == 0.0  # CPU against CPU: the same numbers
        assert result["precision"][model]["float16"] == {"skipped": "float16 is computed on CUDA only"}
    assert result["render"]["written"] == result["render"]["frames"] == 3 and result["render"]["failed"] == 0
    assert result["bridge"]["clicks"] == 2 and result["bridge"]["round_trip_s"]["median"] > 0
    training = result["training"]
    assert training["steps"] == 12 and training["finite"] and training["loss_last"] < training["loss_first"]
    assert all(math.isfinite(result[s]["seconds"]) for s in ("bench", "precision", "render", "bridge", "training"))
