# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The GRPO advantage math (DeepSeekMath §4.1.2-4.1.3), exactly."""

from __future__ import annotations

import math
import random

import pytest
import torch

from trl_dsm.grpo import (
    STD_EPS,
    arithmetic_step_reward,
    check_arithmetic,
    outcome_advantages,
    process_advantages,
)


def test_process_advantages_hand_computed():
    # group of 2: rewards {1, 0 | 0}: mean 1/3, unbiased std sqrt(1/3)
    out = process_advantages([[1.0, 0.0], [0.0]], [[1, 3], [2]], group_size=2, num_tokens=5)
    std = math.sqrt(1 / 3) + STD_EPS
    hi, lo = (1 - 1 / 3) / std, (0 - 1 / 3) / std
    expected = torch.tensor([[hi + lo, hi + lo, lo, lo, 0.0], [lo, lo, lo, 0.0, 0.0]])
    assert torch.allclose(out, expected, atol=1e-6)
    assert out.shape == (2, 5) and out.dtype == torch.float32


def test_process_advantages_normalize_within_each_group_only():
    out = process_advantages([[1.0], [0.0], [5.0], [5.0]], [[0], [0], [0], [0]], group_size=2, num_tokens=1)
    a = (1 - 0.5) / (math.sqrt(0.5) + STD_EPS)
    assert torch.allclose(out[:, 0], torch.tensor([a, -a, 0.0, 0.0]), atol=1e-6)  # group 2 has zero variance


def test_process_advantages_edge_cases():
    # empty completions, a whole group without steps, a one-step group, ends past num_tokens
    assert process_advantages([[], []], [[], []], 2, 3).abs().sum() == 0
    assert process_advantages([[0.7]], [[2]], 1, 4).abs().sum() == 0  # one step: std 0 -> zero advantage
    out = process_advantages([[1.0], [0.0]], [[9], [1]], 2, 3)  # end 9 clipped to the last token
    assert out[0].tolist() == pytest.approx([out[0, 0].item()] * 3) and out[1, 2] == 0
    assert process_advantages([[0.0], [0.0]], [[0], [0]], 2, 0).shape == (2, 0)


def test_process_advantages_errors():
    with pytest.raises(ValueError, match="do not split into groups of 2"):
        process_advantages([[1.0]] * 3, [[0]] * 3, 2, 4)
    with pytest.raises(ValueError, match="completion 1: 2 step rewards but 1 step ends"):
        process_advantages([[1.0], [1.0, 0.0]], [[0], [1]], 2, 4)
    with pytest.raises(ValueError, match="group_size must be >= 1"):
        process_advantages([], [], 0, 4)


def _reference(step_rewards, step_ends, group_size, num_tokens):
    """Independent, literal implementation of §4.1.3 (a double loop per token, Python floats)."""
    out = [[0.0] * num_tokens for _ in step_rewards]
    for g in range(0, len(step_rewards), group_size):
        rows = list(range(g, g + group_size))
        flat = [r for i in rows for r in step_rewards[i]]
        if not flat:
            continue
        mean = sum(flat) / len(flat)
        std = math.sqrt(sum((r - mean) ** 2 for r in flat) / (len(flat) - 1)) if len(flat) > 1 else 0.0
        for i in rows:
            for t in range(num_tokens):
                out[i][t] = sum(
                    (r - mean) / (std + STD_EPS)
                    for r, e in zip(step_rewards[i], step_ends[i])
                    if min(e, num_tokens - 1) >= t
                )
    return torch.tensor(out)


@pytest.mark.parametrize("seed", range(25))
def test_process_advantages_equal_reference_on_random_inputs(seed):
    rng = random.Random(seed)
    group_size = rng.randint(1, 5)
    n = group_size * rng.randint(1, 4)
    num_tokens = rng.randint(1, 30)
    rewards, ends = [], []
    for _ in range(n):
        k = rng.randint(0, 6)
        positions = sorted(rng.sample(range(num_tokens + 3), min(k, num_tokens + 3)))
        ends.append(positions)
        rewards.append([rng.choice([0.0, 1.0, rng.random()]) for _ in positions])
    assert torch.allclose(
        process_advantages(rewards, ends, group_size, num_tokens), _reference(rewards, ends, group_size, num_tokens),
        atol=1e-4, rtol=1e-5,
    )  # fmt: skip


def test_outcome_advantages_match_trl_formula():
    rewards = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    grouped = rewards.view(-1, 3)
    expected = ((grouped - grouped.mean(1, keepdim=True)) / (grouped.std(1, keepdim=True) + 1e-4)).view(-1)
    assert torch.allclose(outcome_advantages(rewards, 3), expected)
    assert outcome_advantages([2.0, 2.0], 2).tolist() == [0.0, 0.0]


def test_process_equals_outcome_for_one_final_step():
    """A single step ending at the last token is outcome supervision: same advantage on every token."""
    rewards = [1.0, 0.0, 0.0, 1.0]
    out = process_advantages([[r] for r in rewards], [[3]] * 4, group_size=4, num_tokens=4)
    assert torch.allclose(out, outcome_advantages(rewards, 4)[:, None].expand(4, 4), atol=1e-6)


def test_arithmetic_step_reward():
    assert check_arithmetic("48 / 2 = 24 clips") is True
    assert check_arithmetic("She has 3 * 4 = 13 apples") is False
    assert check_arithmetic("No numbers here") is None
    assert check_arithmetic("1,000 + 24 = 1,024 and 2 x 3 = 6") is True
    assert check_arithmetic("5 / 0 = 0") is False
    steps = [["3 + 4 = 7", "7 * 2 = 15", "So it is 14."], []]
    assert arithmetic_step_reward(steps) == [[1.0, 0.0, 0.0], []]
    assert arithmetic_step_reward([["no claim"]], no_claim=0.5) == [[0.5]]


def test_with_final_answer_reward_scores_the_last_step_by_the_outcome():
    from trl_dsm.grpo import arithmetic_step_reward, with_final_answer_reward

    scorer = with_final_answer_reward(arithmetic_step_reward)
    steps = [
        ["3 + 4 = 7", "7 * 2 = 14", "The answer is 14."],  # right
        ["3 + 4 = 7", "7 * 2 = 15", "The answer is 15."],  # a false step, wrong answer
        ["3 + 4 = 7", "7 * 2 = 14", "The answer is 15."],  # true steps, wrong answer
        ["The answer is 14."],  # one step: the answer, right
        [],  # no steps
    ]
    completions = ["\n".join(s) for s in steps]
    scores = scorer(steps=steps, completions=completions, answer=["14", "14", "14", "14", "14"], prompts=[""] * 5)
    assert scores == [[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0], []]
    assert with_final_answer_reward(arithmetic_step_reward, correct=2.0)(
        steps=[["1 + 1 = 2", "The answer is 2."]], completions=["1 + 1 = 2\nThe answer is 2."], solution=["$2$"]
    ) == [[1.0, 2.0]]
    # a row without a gold keeps the step rule's scores; a named gold column is read
    assert with_final_answer_reward(arithmetic_step_reward)(
        steps=[["1 + 1 = 3", "The answer is 3."]], completions=["1 + 1 = 3\nThe answer is 3."], answer=[None]
    ) == [[0.0, 0.0]]
    assert with_final_answer_reward(arithmetic_step_reward, gold_column="gold", fallback="none")(
        steps=[["1 + 1 = 2", "2"]], completions=["1 + 1 = 2\n2"], gold=["2"]
    ) == [[1.0, 0.0]]  # no marked answer and no fallback: the last step scores 0


def test_process_advantages_scale_modes_follow_trls_scale_rewards():
    rewards, ends = [[1.0, 0.0], [0.0], [2.0], [2.0, 2.0]], [[0, 1], [1], [1], [0, 1]]
    none = process_advantages(rewards, ends, group_size=2, num_tokens=2, scale="none")
    # group 1: mean 1/3 -> [[2/3 - 1/3, -1/3], [-1/3, -1/3]]; group 2: every reward equals the mean -> 0
    assert torch.allclose(none, torch.tensor([[1 / 3, -1 / 3], [-1 / 3, -1 / 3], [0.0, 0.0], [0.0, 0.0]]), atol=1e-6)
    # batch: the same centred values divided by the std of all six step rewards (unbiased)
    values = torch.tensor([1.0, 0.0, 0.0, 2.0, 2.0, 2.0], dtype=torch.float64)
    batch = process_advantages(rewards, ends, group_size=2, num_tokens=2, scale="batch")
    assert torch.allclose(batch, none / (values.std().item() + 1e-4), atol=1e-6)
    group = process_advantages(rewards, ends, group_size=2, num_tokens=2)
    std1 = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64).std().item()
    assert torch.allclose(group[:2], none[:2] / (std1 + 1e-4), atol=1e-6) and not group[2:].any()
    with pytest.raises(ValueError, match="scale_rewards"):
        process_advantages(rewards, ends, group_size=2, num_tokens=2, scale="token")
