# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""A reward for recipe tests, loaded by dotted path (``tests.scripts.recipe_rewards:digit_reward``): the share of
digits in a completion. Unlike the accuracy reward on an untrained model it varies within a group, so GRPO's
advantages and loss are non-zero and a resumed run has something to reproduce."""

from trl_dsm.rewards import completion_text


def digit_reward(completions, **kwargs) -> list[float]:
    texts = [completion_text(c) for c in completions]
    return [sum(ch.isdigit() for ch in t) / max(1, len(t)) for t in texts]
