# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Issue #18: grades do not depend on machine load. The dev set of shared/ (row settings) and the MATH self-check
are graded on an idle machine and again with 4 busy-looping processes (on the 2-core dev machine: 3 runnable
processes per core besides the grader's own): every grade and status must be the same, with no timeout. The bound
counts the worker's CPU time, so a descheduled worker loses wall time, not its grade."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import defaultdict

import pytest

from trl_dsm.grading import DEFAULT_TIMEOUT, grade_batch, options_from_math_verify
from trl_dsm.grading.bounded import get_pool


BURNERS = 4


def _rows(path):
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def _grades(dev_rows: list[dict], math_rows: list[dict]) -> list[tuple[bool, str, str]]:
    """(correct, status, limit) for every dev row (batched by settings) and every MATH own / shuffled pair."""
    out: list[tuple[bool, str, str] | None] = [None] * len(dev_rows)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(dev_rows):
        groups[json.dumps(options_from_math_verify(row.get("settings")), sort_keys=True)].append(i)
    for key, idx in groups.items():
        results = grade_batch(
            [dev_rows[i]["prediction"] for i in idx], [dev_rows[i]["gold"] for i in idx], **json.loads(key)
        )
        for i, r in zip(idx, results):
            out[i] = (r.correct, r.status, r.limit)
    perm = random.Random(0).sample(range(len(math_rows)), len(math_rows))
    solutions = [r["solution"] for r in math_rows]
    own = grade_batch(solutions, [r["answer"] for r in math_rows])
    cross = grade_batch(solutions, [math_rows[j]["answer"] for j in perm])
    return out + [(r.correct, r.status, r.limit) for r in own + cross]


@pytest.mark.slow
def test_grades_are_identical_under_load(shared_data):
    dev_rows = _rows(shared_data / "grader" / "dev.jsonl")
    math_rows = _rows(shared_data / "benchmarks" / "math" / "test.jsonl")[:1500]
    get_pool().warm_up(2)
    idle = _grades(dev_rows, math_rows)
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(BURNERS)]
    try:
        loaded = _grades(dev_rows, math_rows)
    finally:
        for proc in burners:
            proc.kill()
            proc.wait()
    differ = [(i, a, b) for i, (a, b) in enumerate(zip(idle, loaded)) if a != b]
    assert not differ, differ[:20]
    assert not [g for g in idle if g[1] == "timeout"], f"timeouts at the {DEFAULT_TIMEOUT} s bound"
