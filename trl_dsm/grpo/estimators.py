# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Advantage estimators: the gradient coefficient of each method of DeepSeekMath's unified paradigm (§5.2.1), by
name, with a registry users extend without touching TRL's internals.

§5.2.1 writes the gradient of every method as ``E[(q, o) ~ D] (1/|o|) sum_t GC(q, o, t, pi_rf) grad log pi(o_t)``;
methods differ by data source ``D``, reward function ``pi_rf`` and gradient coefficient ``GC``. Given the same
data source (samples of the current policy, TRL's generation), the coefficient is what an estimator returns:

* ``"grpo"``: outcome supervision, ``(r_i - mean) / std`` over the group (§4.1.2: TRL's own computation, which
  :class:`~trl_dsm.GRPOMathTrainer` keeps as it is); process supervision, the sum of the group-normalized rewards
  of the steps ending at or after each token (§4.1.3).
* ``"online_rft"``: 1 for a completion the rule reward marks correct, 0 otherwise (Eq. 10, with samples from the
  current policy instead of the SFT model; no KL term, so ``GRPOMathConfig`` sets ``beta=0`` for it).

Offline RFT changes the data source, not the coefficient: :func:`trl_dsm.grpo.rft.rft_dataset` builds its
dataset for ``trl.SFTTrainer``.

A custom estimator is a function of :class:`AdvantageInputs` returning a ``(N,)`` tensor (one coefficient per
completion) or an ``(N, T)`` tensor (one per token, ``T`` at least the longest completion), registered under a
name that ``GRPOMathConfig(advantage_estimator=...)`` selects::

    from trl_dsm.grpo import AdvantageInputs, register_advantage_estimator

    @register_advantage_estimator("rloo")
    def rloo(inputs: AdvantageInputs):  # leave-one-out baseline (Ahmadian et al., 2024)
        r = inputs.rewards().view(-1, inputs.group_size)
        return (r - (r.sum(1, keepdim=True) - r) / (inputs.group_size - 1)).view(-1)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from trl.trainer.utils import nanstd

from trl_dsm.grpo.advantages import STD_EPS, process_advantages


@dataclass
class AdvantageInputs:
    """Everything an estimator may use, for the completions of every process (groups are contiguous).

    Attributes:
        rewards_per_func: ``(N, F)`` rewards of the ``reward_funcs`` (``nan`` where a function returned None).
        reward_func_names: their names.
        reward_weights: ``(F,)`` TRL's ``reward_weights`` (ones by default).
        group_size: completions per prompt (G).
        completion_mask: ``(N, T)`` 1 for the completion's tokens (EOS included), 0 for padding.
        correct: ``(N,)`` bools from the rule reward (``accuracy_reward_name``), or None without one.
        step_rewards: with process supervision, each completion's step rewards (``nan``: unknown), else None.
        step_ends: with process supervision, the token index ending each step, else None.
        scale_rewards: TRL's ``scale_rewards`` (``"group"``, ``"batch"`` or ``"none"``).
    """

    rewards_per_func: torch.Tensor
    reward_func_names: list[str]
    reward_weights: torch.Tensor
    group_size: int
    completion_mask: torch.Tensor
    correct: torch.Tensor | None = None
    step_rewards: list[list[float]] | None = None
    step_ends: list[list[int]] | None = None
    scale_rewards: str = "group"

    def rewards(self) -> torch.Tensor:
        """``(N,)`` the weighted sum of the reward functions (``nan`` where every function returned None)."""
        weighted = (self.rewards_per_func * self.reward_weights.to(self.rewards_per_func).unsqueeze(0)).nansum(1)
        weighted[torch.isnan(self.rewards_per_func).all(dim=1)] = torch.nan
        return weighted


AdvantageEstimator = Callable[[AdvantageInputs], torch.Tensor]
_REGISTRY: dict[str, AdvantageEstimator] = {}


def register_advantage_estimator(name: str, fn: AdvantageEstimator | None = None, *, overwrite: bool = False):
    """Register ``fn`` under ``name`` (usable as a decorator). Re-registering a name is an error unless
    ``overwrite=True``."""

    def add(f: AdvantageEstimator) -> AdvantageEstimator:
        if not name or not isinstance(name, str):
            raise ValueError(f"an advantage estimator needs a non-empty name, got {name!r}")
        if name in _REGISTRY and not overwrite:
            raise ValueError(f"an advantage estimator named {name!r} is already registered (pass overwrite=True)")
        _REGISTRY[name] = f
        return f

    return add if fn is None else add(fn)


def get_advantage_estimator(name: str) -> AdvantageEstimator:
    """The estimator registered under ``name``; an unknown name is an error listing the registered ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown advantage_estimator {name!r}; registered: {sorted(_REGISTRY)} "
            "(add yours with trl_dsm.grpo.register_advantage_estimator)"
        ) from None


def advantage_estimators() -> list[str]:
    """The registered names."""
    return sorted(_REGISTRY)


@register_advantage_estimator("grpo")
def grpo_advantages(inputs: AdvantageInputs) -> torch.Tensor:
    """§4.1.2 / §4.1.3. Outcome: TRL's ``sum_then_normalize`` computation (a group whose rewards are all equal gets
    0; a completion no function scored gets 0). Process: :func:`~trl_dsm.grpo.process_advantages`."""
    if inputs.step_rewards is not None:
        return process_advantages(
            inputs.step_rewards,
            inputs.step_ends,
            inputs.group_size,
            inputs.completion_mask.shape[1],
            scale=inputs.scale_rewards,
        )
    rewards = inputs.rewards()
    grouped = rewards.view(-1, inputs.group_size)
    mean = torch.nanmean(grouped, dim=1, keepdim=True)
    centred = grouped - mean
    if inputs.scale_rewards == "group":
        std = nanstd(grouped, dim=1, keepdim=True) if inputs.group_size > 1 else torch.zeros_like(mean)
        centred = centred / (std + STD_EPS)
    elif inputs.scale_rewards == "batch":
        centred = centred / (nanstd(rewards) + STD_EPS)
    return centred.view(-1).nan_to_num(nan=0.0)


@register_advantage_estimator("online_rft")
def online_rft_advantages(inputs: AdvantageInputs) -> torch.Tensor:
    """§5.2.1, Eq. 10: ``GC = I(o)``, 1 for a correct completion and 0 otherwise (no baseline, no scaling)."""
    if inputs.correct is None:
        raise ValueError(
            "online_rft needs the rule reward's verdicts: put trl_dsm.rewards.math_accuracy_reward (or the reward "
            "named by GRPOMathConfig.accuracy_reward_name) among reward_funcs"
        )
    if inputs.step_rewards is not None:
        raise ValueError("online_rft is outcome-supervised (§5.2.1): use supervision='outcome'")
    return inputs.correct.to(torch.float32)
