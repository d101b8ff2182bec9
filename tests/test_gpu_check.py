# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""benchmarks/gpu_check.py (the GPU check of the launch path, run by hand on a GPU) keeps working: its CPU smoke
mode runs every arm's code path on a tiny model and prints the side-by-side table."""

from __future__ import annotations

import importlib.util
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


def _gpu_check():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_iterative_mode_parses_to_one_zero3_arm():
    """``--iterative`` replaces the arms by the iterative-RL check (one step, one reward-model update); ``--smoke``
    keeps its tiny sizes."""
    gpu_check = _gpu_check()
    args = gpu_check.parse_args(["--iterative", "--smoke"])
    assert (args.arms, args.steps, args.iterative, args.smoke) == ("iterative", 1, True, True)
    assert (args.generations, args.batch_size, args.completion_length) == (4, 8, 16)
    default = gpu_check.parse_args([])
    assert default.arms == "trl,outcome,process" and not default.iterative
    assert "--iterative" in gpu_check.build_parser().format_help()


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("deepspeed") is None, reason="ZeRO-3 needs deepspeed")
def test_gpu_check_iterative_smoke_updates_the_reward_model_under_zero3(tmp_path):
    """The iterative mode's code path on CPU (DeepSpeed ZeRO-3 on one gloo rank): a GRPO step with the learned PRM,
    then one reward-model update by the PRM's own ZeRO-3 engine."""
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--iterative", "--work-dir", str(tmp_path / "work"), "--json",
         str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    (result,) = json.loads(out.read_text())
    assert result["arm"] == "iterative" and result["engine"] == "zero3"
    assert result["rm_updates"] == 1 and result["rm_records"] > 0 and result["rm_update_s"] > 0
    assert result["param_share_per_rank"] == 1.0  # one rank holds every partition
    assert result["optimizer_state_elements_per_rank"] > 0
    assert "iterative RL under DeepSpeed ZeRO-3" in proc.stdout
