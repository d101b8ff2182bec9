# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Program-of-thought reward with TRL's reward signature (DeepSeekMath §3.1 PoT data, §4.1 outcome reward).

The completion's program runs in :mod:`trl_dsm.sandbox`; the last line it prints is graded against the gold answer
by the trl_dsm grader. Tool-integrated completions end in a ``\\boxed{}`` answer and use
:func:`trl_dsm.rewards.math_accuracy_reward` instead.
"""

from __future__ import annotations

from collections.abc import Callable

from trl_dsm._pipeworker import check_timeout
from trl_dsm.grading.compare import DEFAULT_TIMEOUT as GRADE_TIMEOUT
from trl_dsm.grading.compare import compare_answers, extract_gold
from trl_dsm.grading.extract import extract_answer
from trl_dsm.rewards.math import _gold_text, _gold_values, _log_rates, completion_text
from trl_dsm.sandbox.executor import DEFAULT_TIMEOUT, SandboxPool, default_pool
from trl_dsm.sandbox.tir import extract_program, pot_answer


def make_pot_accuracy_reward(
    gold_column: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    grade_timeout: float = GRADE_TIMEOUT,
    pool: SandboxPool | None = None,
    correct_reward: float = 1.0,
    incorrect_reward: float = 0.0,
    name: str = "pot_accuracy_reward",
    **grader_options,
) -> Callable[..., list[float | None]]:
    """Build a PoT reward: ``correct_reward`` when the completion's program prints the gold answer last.

    Args:
        gold_column: dataset column with the gold (default: ``answer``, else ``solution``).
        timeout: wall-clock limit per program, seconds; a program that runs out scores ``incorrect_reward``.
        grade_timeout: hard time bound of the answer comparison.
        pool: the :class:`~trl_dsm.sandbox.SandboxPool` to run programs in (default: the process-wide pool).
        grader_options: ``float_rounding``, ``strict``... (see :func:`trl_dsm.grading.grade_batch`).
    """
    timeout, grade_timeout = check_timeout(timeout), check_timeout(grade_timeout, "grade_timeout")

    def reward(completions: list, log_metric: Callable | None = None, log_extra: Callable | None = None, **kwargs):
        golds = _gold_values(gold_column, kwargs, len(completions))
        programs = [extract_program(completion_text(c)) for c in completions]
        to_run = [i for i, program in enumerate(programs) if program is not None]
        executions = (pool or default_pool()).map([programs[i] for i in to_run], timeout=timeout) if to_run else []
        printed: list[str | None] = [None] * len(completions)
        statuses = ["no_program"] * len(completions)
        for i, result in zip(to_run, executions):
            printed[i] = pot_answer(result)
            statuses[i] = result.status
        preds = [(extract_answer(p, fallback="last_math") or p) if p is not None else None for p in printed]
        gold_answers = [extract_gold(_gold_text(g)) if g is not None else None for g in golds]
        results = compare_answers(preds, gold_answers, timeout=grade_timeout, **grader_options)
        _log_rates(name, results, log_metric)
        if log_metric is not None and completions:
            n = len(completions)
            for status in ("no_program", "error", "timeout", "killed"):
                log_metric(f"{name}/program_{status}_rate", statuses.count(status) / n)
        if log_extra is not None:
            log_extra("program_status", statuses)
            log_extra("program_output", printed)
        return [
            None if r.status == "no_gold" else (correct_reward if r.correct else incorrect_reward) for r in results
        ]

    reward.__name__ = name
    reward.__qualname__ = name
    reward.__doc__ = make_pot_accuracy_reward.__doc__
    reward.correct_value = correct_reward
    return reward


_DEFAULT_POT = make_pot_accuracy_reward()


def pot_accuracy_reward(
    completions: list,
    log_metric: Callable | None = None,
    log_extra: Callable | None = None,
    **kwargs,
) -> list[float | None]:
    """1.0 if the completion's program prints the gold answer (``answer`` column, else ``solution``), else 0.0.

    >>> pot_accuracy_reward(["```python\\nprint(sum(range(1, 11)))\\n```", "print(54)"], answer=["55", "55"])
    [1.0, 0.0]
    """
    return _DEFAULT_POT(completions, log_metric=log_metric, log_extra=log_extra, **kwargs)


pot_accuracy_reward.correct_value = 1.0
