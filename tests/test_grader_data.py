# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The grader on real labelled data: the dev set of shared/ and self-consistency on the benchmarks."""

from __future__ import annotations

import json
import random
from collections import defaultdict

import pytest

from trl_dsm.grading import grade_batch, normalize_answer, options_from_math_verify


def _rows(path):
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def _settings(row: dict) -> dict:
    return options_from_math_verify(row.get("settings"))


@pytest.fixture(scope="module")
def dev_rows(shared_data):
    return _rows(shared_data / "grader" / "dev.jsonl")


#: Labels docs/grader.md argues are wrong: 5307/5308 (inline math with line breaks is math), 5467 (boxes joined
#: across "++++++"), 5540 (1 + 1/e is not 1 - 1/e; Math-Verify's later tests label this pair 0).
DISPUTED_LABELS = {5307, 5308, 5467, 5540}


def test_dev_set_accuracy(dev_rows):
    """Issue #2: >= 99.9% on the dev set (each row's recorded math-verify settings honoured), 100% on the
    GSM8K model solutions; the misses allowed are the labels docs/grader.md argues are wrong."""
    wrong = defaultdict(list)
    for i, row in enumerate(dev_rows):
        result = grade_batch([row["prediction"]], [row["gold"]], **_settings(row))[0]
        if result.correct != bool(row["label"]):
            wrong[row["source"]].append(i)
    total_wrong = sum(len(v) for v in wrong.values())
    assert 1 - total_wrong / len(dev_rows) >= 0.999, dict(wrong)
    assert not wrong["openai/grade-school-math:example_model_solutions"]
    assert set(wrong["huggingface/Math-Verify"]) <= DISPUTED_LABELS, dict(wrong)


def test_dev_set_default_options(dev_rows):
    """With default options only rows whose label depends on a non-default setting may differ."""
    setting_dependent = {5409, 5415, 5462, 5530, 5545}  # precision=2/4, allow_set_relation_comp, strict=False
    debatable = DISPUTED_LABELS
    misses = {
        i
        for i, row in enumerate(dev_rows)
        if row["source"] == "huggingface/Math-Verify"
        and grade_batch([row["prediction"]], [row["gold"]])[0].correct != bool(row["label"])
    }
    assert misses <= setting_dependent | debatable, misses - setting_dependent - debatable


def test_math_solutions_grade_against_their_answers(shared_data):
    """A MATH solution is correct against its own `answer` (the last box); against another problem's answer
    it is wrong unless the two answers are the same string. Checks extraction on real long solutions."""
    rows = _rows(shared_data / "benchmarks" / "math" / "test.jsonl")[:1500]
    own = grade_batch([r["solution"] for r in rows], [r["answer"] for r in rows])
    misses = [i for i, r in enumerate(own) if not r.correct]
    # the miss is a multi-answer solution ("$\boxed{a}$ and $\boxed{b}$") whose `answer` field keeps one box
    assert misses == [762], [(i, own[i].pred_answer, own[i].gold_answer) for i in misses]
    random.seed(0)
    perm = random.sample(range(len(rows)), len(rows))
    cross = grade_batch([r["solution"] for r in rows], [rows[j]["answer"] for j in perm])

    def same(a: str, b: str) -> bool:  # "b=4" states the answer 4
        a, b = normalize_answer(a), normalize_answer(b)
        return a == b or a.split("=")[-1] == b.split("=")[-1]

    false_pos = [
        (i, c.pred_answer, c.gold_answer)
        for i, (c, j) in enumerate(zip(cross, perm))
        if c.correct and not same(rows[i]["answer"], rows[j]["answer"])
    ]
    assert not false_pos


def test_gsm8k_rationales_grade_against_their_numbers(shared_data):
    rows = _rows(shared_data / "benchmarks" / "gsm8k" / "test.jsonl")
    golds = [r["answer"].split("####")[-1].strip() for r in rows]
    assert all(r.correct for r in grade_batch([r["answer"] for r in rows], golds))
    # the gold may also be the whole rationale
    assert all(r.correct for r in grade_batch([f"The answer is {g}." for g in golds], [r["answer"] for r in rows]))
    shifted = grade_batch([f"The answer is {g}." for g in golds[1:]], golds[:-1])
    assert sum(r.correct for r in shifted) == sum(a == b for a, b in zip(golds[1:], golds[:-1]))


def test_chinese_benchmarks(shared_data):
    cmath = _rows(shared_data / "benchmarks" / "cmath" / "test.jsonl")
    golds = [r["golden"] for r in cmath]
    results = grade_batch([f"解：……所以答案是 {g}。" for g in golds], golds)
    assert all(r.correct for r in results), [(r.pred_answer, r.gold_answer) for r in results if not r.correct][:5]
    mgsm = _rows(shared_data / "benchmarks" / "mgsm_zh" / "test.jsonl")
    golds = [str(r["answer"]) for r in mgsm]
    assert all(r.correct for r in grade_batch([f"答案：{g}" for g in golds], golds))
