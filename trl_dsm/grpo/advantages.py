# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""GRPO advantages (DeepSeekMath §4.1.2 outcome supervision, §4.1.3 process supervision) as pure functions.

Both normalize within a group of G completions of the same prompt with the group's mean and standard deviation
(unbiased, as ``torch.std``), adding :data:`STD_EPS` to the denominator exactly as TRL's ``GRPOTrainer`` does for
outcome rewards, so a group whose rewards are all equal gets zero advantages.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


#: Added to the group standard deviation (TRL uses the same constant for outcome advantages).
STD_EPS = 1e-4


def outcome_advantages(rewards: Sequence[float] | torch.Tensor, group_size: int) -> torch.Tensor:
    """§4.1.2: ``A_i = (r_i - mean(r_group)) / (std(r_group) + eps)`` for every token of completion ``i``.

    >>> outcome_advantages([1.0, 0.0, 0.0, 1.0], group_size=2).tolist()
    [0.7070..., -0.7070..., -0.7070..., 0.7070...]
    """
    r = torch.as_tensor(rewards, dtype=torch.float32)
    _check_groups(len(r), group_size)
    grouped = r.view(-1, group_size)
    std = grouped.std(dim=1, keepdim=True) if group_size > 1 else torch.zeros_like(grouped[:, :1])
    return ((grouped - grouped.mean(dim=1, keepdim=True)) / (std + STD_EPS)).view(-1)


def process_advantages(
    step_rewards: Sequence[Sequence[float]],
    step_ends: Sequence[Sequence[int]],
    group_size: int,
    num_tokens: int,
    scale: str = "group",
) -> torch.Tensor:
    """§4.1.3: per-token advantages from per-step rewards.

    ``step_rewards[i][j]`` is the reward of step ``j`` of completion ``i`` and ``step_ends[i][j]`` the index of
    that step's last completion token; completions are ordered group by group (``group_size`` each). All step
    rewards of a group are normalized together, ``r~ = (r - mean) / (std + eps)``, and the advantage of token ``t``
    is the sum of the normalized rewards of the steps that end at or after ``t``:
    ``A_{i,t} = sum_{j : end(j) >= t} r~_{i,j}``. Tokens after the last step end get 0. A reward of ``nan`` marks
    a step whose score is unknown (e.g. cut off by a PRM's context): it is left out of the group's mean and
    standard deviation and adds 0 to the advantages. ``scale`` has the meaning of TRL's ``scale_rewards``:
    ``"group"`` divides by the group's standard deviation (the paper), ``"batch"`` by the standard deviation of all
    step rewards of the batch (every group's), ``"none"`` only subtracts the group mean. Returns a float tensor of
    shape ``(len(step_rewards), num_tokens)``; step ends beyond ``num_tokens - 1`` are clipped to it.

    >>> process_advantages([[1.0, 0.0], [0.0]], [[1, 3], [2]], group_size=2, num_tokens=5).tolist()
    [[0.5772..., 0.5772..., -0.5772..., -0.5772..., 0.0], [-0.5772..., -0.5772..., -0.5772..., 0.0, 0.0]]
    """
    if len(step_rewards) != len(step_ends):
        raise ValueError(f"{len(step_rewards)} rows of step rewards but {len(step_ends)} rows of step ends")
    _check_groups(len(step_rewards), group_size)
    if scale not in ("group", "batch", "none"):
        raise ValueError(f"scale must be 'group', 'batch' or 'none' (TRL's scale_rewards), got {scale!r}")
    out = torch.zeros(len(step_rewards), num_tokens, dtype=torch.float32)
    known = torch.tensor([r for row in step_rewards for r in row], dtype=torch.float64)
    known = known[~known.isnan()]
    batch_std = known.std() if known.numel() > 1 else torch.zeros((), dtype=torch.float64)
    for g in range(0, len(step_rewards), group_size):
        rows = range(g, g + group_size)
        for i in rows:
            if len(step_rewards[i]) != len(step_ends[i]):
                raise ValueError(
                    f"completion {i}: {len(step_rewards[i])} step rewards but {len(step_ends[i])} step ends"
                )
        flat = torch.tensor([r for i in rows for r in step_rewards[i]], dtype=torch.float64)
        flat = flat[~flat.isnan()]  # unknown steps (nan) take no part in the statistics
        if flat.numel() == 0:
            continue
        mean = flat.mean()
        if scale == "group":
            std = flat.std() if flat.numel() > 1 else torch.zeros((), dtype=torch.float64)
        else:
            std = batch_std
        for i in rows:
            if not step_rewards[i] or num_tokens == 0:
                continue
            normalized = torch.tensor(step_rewards[i], dtype=torch.float64) - mean
            if scale != "none":
                normalized = normalized / (std + STD_EPS)
            normalized = normalized.nan_to_num(nan=0.0)  # and add nothing to any token's advantage
            ends = torch.tensor(step_ends[i], dtype=torch.long).clamp(0, num_tokens - 1)
            # Add each step's normalized reward to every token up to its end: a reversed cumulative sum of
            # per-position deposits.
            deposits = torch.zeros(num_tokens, dtype=torch.float64)
            deposits.index_add_(0, ends, normalized)
            out[i] = deposits.flip(0).cumsum(0).flip(0).to(torch.float32)
    return out


def _check_groups(n: int, group_size: int) -> None:
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    if n % group_size:
        raise ValueError(f"{n} completions do not split into groups of {group_size}")
