# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Multi-process runs with `accelerate launch` on CPU (marked slow: `python -m pytest -m slow`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


SCRIPTS = Path(__file__).parent / "scripts"


def accelerate_launch(script: Path, *args: str, num_processes: int = 2, timeout: int = 300):
    # `--multi_gpu` on a machine without GPUs: torchrun starts the ranks, accelerate uses gloo on CPU.
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        str(num_processes),
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--multi_gpu",
        str(script),
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    assert proc.returncode == 0, f"accelerate launch failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.mark.slow
def test_grader_time_bound_on_two_accelerate_ranks(tmp_path):
    accelerate_launch(SCRIPTS / "grade_on_ranks.py", str(tmp_path))
    for rank in (0, 1):
        report = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert report["world"] == 2
        assert report["max_workers"] == 1  # LOCAL_WORLD_SIZE=2 on a 2-core machine: one worker per rank
        for results in (report["main"], report["thread"]):
            for r in results:
                assert r["correct"] == r["expected"], r
                assert r["cpu_seconds"] <= 1.5 + 0.05, r  # the bound is CPU time: it holds on a busy machine
                assert r["seconds"] < 60, r  # wall time: a 'did not hang' check only
            assert results[0]["status"] == "timeout" and results[1]["status"] == "timeout"
            assert results[0]["limit"] == "cpu" and results[1]["limit"] == "cpu"


@pytest.mark.slow
def test_process_supervision_normalizes_groups_across_two_ranks(tmp_path):
    from tests.conftest import build_tiny_model, build_tiny_tokenizer

    model_dir = tmp_path / "tiny"
    tokenizer = build_tiny_tokenizer(
        [f"{a} + {b} = {a + b}\nThe answer is {a + b}." for a in range(9) for b in range(9)]
    )
    build_tiny_model(tokenizer).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    accelerate_launch(SCRIPTS / "grpo_on_ranks.py", str(model_dir), str(tmp_path))
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world"] == 2 for r in reports)
    for report in reports:
        for batch in report["batches"]:
            sign = 1.0 if report["rank"] == 0 else -1.0
            for row, mask in zip(batch["advantages"], batch["mask"]):
                active = [a for a, m in zip(row, mask) if m]
                # every token of a rank-0 completion sums its steps' +1 normalized rewards; rank 1: negative
                assert active and all(sign * a > 0.5 for a in active), (report["rank"], row)
    # both ranks saw the same prompts in each group (a group spans the two processes)
    assert reports[0]["batches"][0]["prompts"] == reports[1]["batches"][0]["prompts"]
