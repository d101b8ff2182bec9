# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""GRPO (DeepSeekMath §4): advantages, process supervision, ``GRPOMathConfig`` and ``GRPOMathTrainer``."""

from trl_dsm.grpo.advantages import STD_EPS, outcome_advantages, process_advantages
from trl_dsm.grpo.process import (
    ProcessRewardModel,
    arithmetic_step_reward,
    check_arithmetic,
    split_steps,
    step_texts,
)


__all__ = [
    "STD_EPS",
    "GRPOMathConfig",
    "GRPOMathTrainer",
    "ProcessRewardModel",
    "arithmetic_step_reward",
    "check_arithmetic",
    "outcome_advantages",
    "process_advantages",
    "split_steps",
    "step_texts",
]


def __getattr__(name: str):  # TRL is imported only when the trainer is asked for
    if name == "GRPOMathConfig":
        from trl_dsm.grpo.config import GRPOMathConfig

        return GRPOMathConfig
    if name == "GRPOMathTrainer":
        from trl_dsm.grpo.trainer import GRPOMathTrainer

        return GRPOMathTrainer
    raise AttributeError(f"module 'trl_dsm.grpo' has no attribute {name!r}")
