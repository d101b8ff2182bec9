# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Rewards with TRL's signature, the `evaluate` metric and the `trl-dsm grade` CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from trl_dsm.rewards import (
    REWARD_FUNCS,
    completion_text,
    format_reward,
    make_format_reward,
    make_math_accuracy_reward,
    math_accuracy_reward,
)
from trl_dsm.rewards.math import prompt_text


def test_accuracy_plain_and_conversational():
    plain = ["So the answer is 72.", "#### 71", "She has $\\boxed{72}$ clips."]
    assert math_accuracy_reward(plain, answer=["72", "72", "72"]) == [1.0, 0.0, 1.0]
    chat = [[{"role": "assistant", "content": c}] for c in plain]
    assert math_accuracy_reward(chat, answer=["72", "72", "72"]) == [1.0, 0.0, 1.0]


def test_accuracy_gold_forms_and_columns():
    completions = ["The answer is 18.", r"$\boxed{\frac{1}{3}}$"]
    golds = ["Janet sells 16 - 3 - 4 = 9 eggs, 9 * 2 = 18.\n#### 18", r"Thus $x = \boxed{\dfrac13}$."]
    assert math_accuracy_reward(completions, solution=golds) == [1.0, 1.0]
    # `answer` wins over `solution` when both are present
    assert math_accuracy_reward(["The answer is 5."], answer=["5"], solution=["#### 6"]) == [1.0]
    custom = make_math_accuracy_reward("final", incorrect_reward=-1.0)
    assert custom(["The answer is 5.", "The answer is 4."], final=[5, "5"]) == [1.0, -1.0]
    assert custom.__name__ == "math_accuracy_reward"


def test_unparsable_gold_is_none_and_missing_column_is_clear():
    assert math_accuracy_reward(["The answer is 5."], answer=[r"\boxed{}"]) == [None]
    with pytest.raises(KeyError, match=r"'answer' or 'solution'.*\['question'\]"):
        math_accuracy_reward(["x"], question=["q"])
    with pytest.raises(TypeError, match="gold answer must be a string or a number"):
        math_accuracy_reward(["x"], answer=[["5"]])


def test_metrics_and_extra_columns_are_logged():
    metrics, extra = {}, {}
    rewards = math_accuracy_reward(
        ["The answer is 3.", "no idea", "The answer is 2."],
        answer=["3", "3", r"\boxed{}"],
        log_metric=metrics.__setitem__,
        log_extra=extra.__setitem__,
        trainer_state=None,
    )
    assert rewards == [1.0, 0.0, None]
    assert metrics["math_accuracy_reward/extraction_failure_rate"] == pytest.approx(1 / 3)
    assert metrics["math_accuracy_reward/timeout_rate"] == 0.0
    assert metrics["math_accuracy_reward/unparsable_gold_rate"] == pytest.approx(1 / 3)
    assert extra["extracted_answer"] == ["3", None, "2"]


def test_timeout_counts_as_incorrect_and_is_logged():
    metrics = {}
    reward = make_math_accuracy_reward(timeout=0.5)
    out = reward([r"\boxed{\int_0^\infty e^{-x^{x^x}} dx}"], answer=["1"], log_metric=metrics.__setitem__)
    assert out == [0.0]
    assert metrics["math_accuracy_reward/timeout_rate"] == 1.0


def test_format_reward():
    assert format_reward(["The answer is 5.", "I think it is five", "答案是 B", "#### 3"]) == [1.0, 0.0, 1.0, 1.0]
    boxed_only = make_format_reward(require_boxed=True)
    assert boxed_only(["The answer is 5.", r"\boxed{5}"]) == [0.0, 1.0]
    metrics = {}
    format_reward(["x", "The answer is 1"], log_metric=metrics.__setitem__)
    assert metrics["format_reward/extraction_failure_rate"] == 0.5


def test_completion_text_shapes():
    assert completion_text("abc") == "abc"
    conv = [
        {"role": "assistant", "content": "Let me compute."},
        {"role": "tool", "content": "42"},
        {"role": "assistant", "content": "The answer is 42."},
    ]
    assert completion_text(conv) == "Let me compute.\nThe answer is 42."
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": "hi"}]}]) == "hi"
    with pytest.raises(TypeError, match="a completion must be a string"):
        completion_text(42)
    assert set(REWARD_FUNCS) == {"math_accuracy", "format", "pot_accuracy"}
    chat_prompt = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 2?"}]
    assert prompt_text(chat_prompt) == "Be brief.\nWhat is 2 + 2?" and prompt_text("q") == "q"
    assert completion_text(chat_prompt) == ""  # completions keep only what the model wrote


def test_cli_grade_pair_and_file(tmp_path):
    run = [sys.executable, "-m", "trl_dsm.cli", "grade"]
    ok = subprocess.run([*run, r"The answer is $\frac{1}{2}$.", "0.5"], capture_output=True, text=True)
    assert ok.returncode == 0 and json.loads(ok.stdout)["correct"] is True
    bad = subprocess.run([*run, "The answer is 3.", "4"], capture_output=True, text=True)
    assert bad.returncode == 1 and json.loads(bad.stdout)["pred_answer"] == "3"

    data = tmp_path / "preds.jsonl"
    data.write_text(
        "\n".join(json.dumps({"completion": c, "answer": a}) for c, a in [("#### 5", "5"), ("#### 6", "5")]) + "\n"
    )
    out_file = tmp_path / "graded.jsonl"
    res = subprocess.run([*run, "--input", str(data), "--output", str(out_file)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["accuracy"] == 0.5
    assert [json.loads(line)["correct"] for line in out_file.read_text().splitlines()] == [True, False]

    chat = tmp_path / "chat.jsonl"
    chat.write_text(json.dumps({"completion": [{"role": "assistant", "content": "#### 5"}], "answer": "5"}) + "\n")
    res = subprocess.run([*run, "--input", str(chat)], capture_output=True, text=True)
    assert res.returncode == 0 and json.loads(res.stdout)["accuracy"] == 1.0

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"completion": "x"}\n')
    res = subprocess.run([*run, "--input", str(broken)], capture_output=True, text=True)
    assert res.returncode == 2 and "trl-dsm grade: error: " in res.stderr
    assert "broken.jsonl:1: missing field(s) ['answer']" in res.stderr
    broken.write_text('{"completion": "x", "answer": "1"}\n[1]\n')
    res = subprocess.run([*run, "--input", str(broken)], capture_output=True, text=True)
    assert (
        res.returncode == 2
        and "trl-dsm grade: error: " in res.stderr
        and "broken.jsonl:2: expected a JSON object" in res.stderr
    )
    broken.write_text('{"completion": "x", "answer": "1"}\n{"completion": 5, "answer": "5"}\n')
    res = subprocess.run([*run, "--input", str(broken)], capture_output=True, text=True)
    assert res.returncode == 2 and "broken.jsonl:2: field 'completion' must be a string or chat messages" in res.stderr
    for bad in ("inf", "nan", "0", "soon"):
        res = subprocess.run([*run, "--timeout", bad, "#### 1", "1"], capture_output=True, text=True)
        assert res.returncode == 2 and "argument --timeout" in res.stderr and "Traceback" not in res.stderr, bad


def test_cli_grade_timeout_defaults_to_the_grader_default(monkeypatch):
    """Without --timeout the CLI uses DEFAULT_TIMEOUT ($TRL_DSM_GRADE_TIMEOUT), not a second hard-coded 2 s."""
    import trl_dsm.grading
    import trl_dsm.grading.compare
    from trl_dsm.cli import main

    seen = []

    def fake_grade_batch(completions, golds, *, timeout, **kwargs):
        seen.append(timeout)
        return trl_dsm.grading.compare.grade_batch(completions, golds, timeout=timeout, **kwargs)

    monkeypatch.setattr(trl_dsm.grading, "grade_batch", fake_grade_batch)
    monkeypatch.setattr(trl_dsm.grading.compare, "DEFAULT_TIMEOUT", 7.5)
    assert main(["grade", "#### 1", "1"]) == 0
    assert main(["grade", "--timeout", "3", "#### 1", "1"]) == 0
    assert seen == [7.5, 3.0]


def test_grpo_trainer_runs_with_our_rewards(tmp_path):
    """Two GRPO steps of TRL's own trainer on a tiny model: our rewards plug in with TRL's signature."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from tests.conftest import build_tiny_model, build_tiny_tokenizer, tiny_grpo_kwargs

    questions = [f"What is {a} + {b}?" for a, b in [(1, 2), (3, 4), (5, 6), (7, 8)]]
    answers = ["3", "7", "11", "15"]
    tokenizer = build_tiny_tokenizer(questions + [f"The answer is {a}." for a in answers] * 20)
    model = build_tiny_model(tokenizer)
    dataset = Dataset.from_dict({"prompt": questions, "answer": answers})
    args = GRPOConfig(**tiny_grpo_kwargs(tmp_path, max_completion_length=8))
    trainer = GRPOTrainer(
        model=model,
        processing_class=tokenizer,
        reward_funcs=[math_accuracy_reward, format_reward],
        args=args,
        train_dataset=dataset,
    )
    trainer.train()
    logged = {k for entry in trainer.state.log_history for k in entry}
    assert "rewards/math_accuracy_reward/mean" in logged
    assert "math_accuracy_reward/extraction_failure_rate" in logged
    rates = [
        e["math_accuracy_reward/extraction_failure_rate"]
        for e in trainer.state.log_history
        if "math_accuracy_reward/extraction_failure_rate" in e
    ]
    assert all(0.0 <= r <= 1.0 and not math.isnan(r) for r in rates)
