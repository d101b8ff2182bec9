# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""GRPO (DeepSeekMath §4): advantages, process supervision, ``GRPOMathConfig`` and ``GRPOMathTrainer``."""

from trl_dsm.grpo.advantages import STD_EPS, outcome_advantages, process_advantages
from trl_dsm.grpo.estimators import (
    AdvantageInputs,
    advantage_estimators,
    get_advantage_estimator,
    register_advantage_estimator,
)
from trl_dsm.grpo.process import (
    ProcessRewardModel,
    arithmetic_step_reward,
    check_arithmetic,
    with_final_answer_reward,
)
from trl_dsm.grpo.steps import split_completion, step_boundaries, token_end_offsets


__all__ = [
    "STD_EPS",
    "AdvantageInputs",
    "advantage_estimators",
    "get_advantage_estimator",
    "register_advantage_estimator",
    "GRPOMathConfig",
    "GRPOMathTrainer",
    "PRMCollator",
    "ProcessRewardModel",
    "ProcessRewardTrainer",
    "arithmetic_step_reward",
    "build_prm_dataset",
    "check_arithmetic",
    "hf_rollout",
    "math_shepherd_labels",
    "orm_preference_pairs",
    "outcome_advantages",
    "prm_metrics",
    "process_advantages",
    "split_completion",
    "step_boundaries",
    "token_end_offsets",
    "with_final_answer_reward",
]


_REWARD_MODELS = (
    "ProcessRewardTrainer",
    "PRMCollator",
    "build_prm_dataset",
    "hf_rollout",
    "math_shepherd_labels",
    "orm_preference_pairs",
    "prm_metrics",
)


def __getattr__(name: str):  # TRL and transformers are imported only when asked for
    if name in _REWARD_MODELS:
        from trl_dsm.grpo import reward_models

        return getattr(reward_models, name)
    if name == "GRPOMathConfig":
        from trl_dsm.grpo.config import GRPOMathConfig

        return GRPOMathConfig
    if name == "GRPOMathTrainer":
        from trl_dsm.grpo.trainer import GRPOMathTrainer

        return GRPOMathTrainer
    raise AttributeError(f"module 'trl_dsm.grpo' has no attribute {name!r}")
