# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The multi-step learning-rate schedule of DeepSeekMath §2.2.1 (also used for DeepSeekMath-Base, §3.1).

"a multi-step learning rate schedule where the learning rate reaches the peak after 2,000 warmup steps, decreases to
its 31.6% after 80% of the training process, and further decreases to 10.0% of the peak after 90% of the training
process."
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from fractions import Fraction
from functools import partial

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


#: Fractions of training after which the learning rate drops, and the factors of the peak it drops to (§2.2.1).
PAPER_MILESTONES: tuple[float, ...] = (0.8, 0.9)
PAPER_FACTORS: tuple[float, ...] = (0.316, 0.1)
PAPER_WARMUP_STEPS = 2000


def milestone_steps(num_training_steps: int, milestones: Sequence[float] = PAPER_MILESTONES) -> list[int]:
    """Optimizer steps at which each drop happens: ``floor(fraction * num_training_steps)``, with the fraction taken
    as written (``0.29 * 100`` is 28.999... in binary floating point; the drop is at step 29)."""
    return [math.floor(Fraction(repr(float(fraction))) * num_training_steps) for fraction in milestones]


def multistep_lr_lambda(
    current_step: int,
    *,
    num_warmup_steps: int,
    num_training_steps: int,
    milestones: Sequence[float] = PAPER_MILESTONES,
    factors: Sequence[float] = PAPER_FACTORS,
) -> float:
    """Multiplier of the peak learning rate after ``current_step`` optimizer steps (``LambdaLR`` convention).

    Linear warmup ``current_step / num_warmup_steps`` for the first ``num_warmup_steps`` steps, then 1.0, then
    ``factors[i]`` from step ``floor(milestones[i] * num_training_steps)`` on. A drop inside the warmup wins.
    """
    if len(milestones) != len(factors):
        raise ValueError(f"milestones {list(milestones)} and factors {list(factors)} must have the same length")
    if list(milestones) != sorted(milestones) or any(not 0.0 < m <= 1.0 for m in milestones):
        raise ValueError(f"milestones must be increasing fractions of training in (0, 1], got {list(milestones)}")
    drops = bisect.bisect_right(milestone_steps(num_training_steps, milestones), current_step)
    factor = factors[drops - 1] if drops else 1.0
    if current_step < num_warmup_steps:
        return min(factor, current_step / max(1, num_warmup_steps))
    return factor


def get_multistep_schedule(
    optimizer: Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    milestones: Sequence[float] = PAPER_MILESTONES,
    factors: Sequence[float] = PAPER_FACTORS,
    last_epoch: int = -1,
) -> LambdaLR:
    """A ``LambdaLR`` following :func:`multistep_lr_lambda` (the shape of ``transformers.get_*_schedule``)."""
    lr_lambda = partial(
        multistep_lr_lambda,
        num_warmup_steps=num_warmup_steps,
        num_training_steps=num_training_steps,
        milestones=tuple(milestones),
        factors=tuple(factors),
    )
    return LambdaLR(optimizer, lr_lambda, last_epoch)
