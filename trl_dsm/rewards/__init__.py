# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Reward functions for ``GRPOTrainer`` and the grader they share with evaluation and the demo.

>>> from trl_dsm.rewards import math_accuracy_reward, format_reward, grade, extract_answer, is_equivalent
"""

from trl_dsm.grading import (
    DEFAULT_TIMEOUT,
    GradeResult,
    compare_answers,
    extract_answer,
    extract_gold,
    grade,
    grade_batch,
    is_equivalent,
)
from trl_dsm.rewards.math import (
    completion_text,
    format_reward,
    make_format_reward,
    make_math_accuracy_reward,
    math_accuracy_reward,
)
from trl_dsm.rewards.pot import make_pot_accuracy_reward, pot_accuracy_reward


#: Rewards by name, for recipes and configs (``reward_funcs: [math_accuracy, format]``).
REWARD_FUNCS = {
    "math_accuracy": math_accuracy_reward,
    "format": format_reward,
    "pot_accuracy": pot_accuracy_reward,
}

__all__ = [
    "DEFAULT_TIMEOUT",
    "REWARD_FUNCS",
    "GradeResult",
    "compare_answers",
    "completion_text",
    "extract_answer",
    "extract_gold",
    "format_reward",
    "grade",
    "grade_batch",
    "is_equivalent",
    "make_format_reward",
    "make_math_accuracy_reward",
    "math_accuracy_reward",
    "make_pot_accuracy_reward",
    "pot_accuracy_reward",
]
