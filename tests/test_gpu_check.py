# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""benchmarks/gpu_check.py (the GPU check of the launch path, run by hand on a GPU) keeps working: its CPU smoke
mode runs every arm's code path on a tiny model and prints the side-by-side table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


@pytest.mark.slow
def test_gpu_check_smoke_runs_every_arm(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--work-dir", str(tmp_path / "work"), "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    results = json.loads(out.read_text())
    assert [r["arm"] for r in results] == ["trl", "outcome", "process"]
    for r in results:
        assert r["steps"] == 1 and r["step_time_s"] > 0 and r["completion_tokens_per_step"] > 0
    assert "x step time" in proc.stdout and "anchor: trl" in proc.stdout
