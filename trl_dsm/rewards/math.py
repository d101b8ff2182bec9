# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Rule-based math rewards with TRL's reward-function signature (DeepSeekMath §4.1, outcome supervision).

``GRPOTrainer`` calls each reward function as ``f(prompts=..., completions=..., completion_ids=...,
**dataset_columns, trainer_state=..., log_extra=..., log_metric=...)`` and skips rewards that are ``None``.
Both functions here accept plain-string completions (``"Some text"``) and conversational ones
(``[{"role": "assistant", "content": "Some text"}]``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from trl_dsm._pipeworker import check_timeout
from trl_dsm.grading.compare import DEFAULT_TIMEOUT, GradeResult, compare_answers, extract_gold
from trl_dsm.grading.extract import Fallback, extract_answer


#: Gold columns tried, in order, when no ``gold_column`` is configured.
DEFAULT_GOLD_COLUMNS = ("answer", "solution")


def completion_text(completion: Any) -> str:
    """The text of one completion, plain (``str``) or conversational (list of message dicts).

    For a conversation, the assistant messages are concatenated (tool calls and tool outputs in between
    are skipped), so a multi-turn tool-integrated rollout is graded on everything the model wrote.
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict) and "content" in completion:
        return _content_text(completion["content"])
    if isinstance(completion, Sequence) and all(isinstance(message, dict) for message in completion):
        return "\n".join(
            _content_text(message.get("content", ""))
            for message in completion
            if message.get("role", "assistant") == "assistant"
        )
    raise TypeError(
        "a completion must be a string or a list of chat messages ({'role': ..., 'content': ...}), "
        f"got {type(completion).__name__}"
    )


def prompt_text(prompt: Any) -> str:
    """The text of a prompt, plain or conversational (the contents of all its messages, one per line)."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, Sequence):
        return "\n".join(_content_text(m.get("content", "")) for m in prompt if isinstance(m, dict))
    raise TypeError(f"a prompt must be a string or a list of chat messages, got {type(prompt).__name__}")


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # multimodal content blocks: keep the text ones
        return "".join(block.get("text", "") for block in content if isinstance(block, dict))
    return "" if content is None else str(content)


def _gold_values(gold_column: str | None, kwargs: dict, n: int) -> list:
    columns = (gold_column,) if gold_column else DEFAULT_GOLD_COLUMNS
    for column in columns:
        if column in kwargs and kwargs[column] is not None:
            values = list(kwargs[column])
            if len(values) != n:
                raise ValueError(f"column `{column}` has {len(values)} values for {n} completions")
            return values
    hidden = ("trainer_state", "log_extra", "log_metric", "completion_ids", "prompts", "environments")
    available = sorted(k for k, v in kwargs.items() if k not in hidden and v is not None)
    raise KeyError(
        f"math_accuracy_reward needs the gold answer in a dataset column named {' or '.join(map(repr, columns))}; "
        f"the batch has columns {available}. Rename your column or use "
        "make_math_accuracy_reward(gold_column='your_column')."
    )


def _gold_text(gold: Any) -> str:
    """Gold values may be numbers in a dataset column (``72``, ``0.5``); anything else must be a string."""
    if isinstance(gold, str):
        return gold
    if isinstance(gold, (int, float)) and not isinstance(gold, bool):
        return repr(gold) if isinstance(gold, float) else str(gold)
    raise TypeError(f"a gold answer must be a string or a number, got {type(gold).__name__}: {gold!r:.80}")


def _log_rates(prefix: str, results: list[GradeResult], log_metric: Callable | None) -> None:
    if log_metric is None or not results:
        return
    n = len(results)
    log_metric(f"{prefix}/extraction_failure_rate", sum(r.status == "no_answer" for r in results) / n)
    log_metric(f"{prefix}/timeout_rate", sum(r.status == "timeout" for r in results) / n)
    log_metric(f"{prefix}/unparsable_gold_rate", sum(r.status == "no_gold" for r in results) / n)


def make_math_accuracy_reward(
    gold_column: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    fallback: Fallback = "last_math",
    correct_reward: float = 1.0,
    incorrect_reward: float = 0.0,
    num_workers: int | None = None,
    name: str = "math_accuracy_reward",
    **grader_options,
) -> Callable[..., list[float | None]]:
    """Build an outcome reward: ``correct_reward`` if the completion's final answer equals the gold answer.

    Args:
        gold_column: dataset column with the gold; a bare answer, a solution with ``\\boxed{}``, or a GSM8K
            rationale ending in ``#### N``. Default: ``answer``, else ``solution``.
        timeout: hard time bound per completion, seconds (a completion that runs out scores ``incorrect_reward``).
        fallback: how to read completions without a marked answer (see :func:`trl_dsm.grading.grade_batch`).
        num_workers: grading worker processes for the symbolic pairs of a batch (default: all CPU cores).
        grader_options: ``float_rounding``, ``strict``, ``allow_set_relation_comp`` (math-verify's meaning).
    """
    timeout = check_timeout(timeout)  # a bad bound fails here, not at the first reward call mid-training

    def reward(completions: list, log_metric: Callable | None = None, log_extra: Callable | None = None, **kwargs):
        golds = _gold_values(gold_column, kwargs, len(completions))
        preds = [extract_answer(completion_text(c), fallback=fallback) for c in completions]
        gold_answers = [extract_gold(_gold_text(g)) if g is not None else None for g in golds]
        results = compare_answers(preds, gold_answers, timeout=timeout, num_workers=num_workers, **grader_options)
        _log_rates(name, results, log_metric)
        if log_extra is not None:
            log_extra("extracted_answer", [r.pred_answer for r in results])
            log_extra("gold_answer", [r.gold_answer for r in results])
        return [
            None if r.status == "no_gold" else (correct_reward if r.correct else incorrect_reward) for r in results
        ]

    reward.__name__ = name
    reward.__qualname__ = name
    reward.__doc__ = make_math_accuracy_reward.__doc__
    reward.correct_value = correct_reward  # read by GRPOMathTrainer's pass@G / maj@G
    return reward


def math_accuracy_reward(
    completions: list,
    answer: list[str] | None = None,
    solution: list[str] | None = None,
    log_metric: Callable | None = None,
    log_extra: Callable | None = None,
    **kwargs,
) -> list[float | None]:
    """1.0 if the completion's final answer equals the gold answer, else 0.0; ``None`` if the gold has no answer.

    The gold comes from the ``answer`` column, else ``solution``. Extraction-failure and timeout rates go to
    ``log_metric`` when the trainer passes it.

    >>> math_accuracy_reward(["... so the answer is 72.", "#### 71"], answer=["72", "72"])
    [1.0, 0.0]
    >>> math_accuracy_reward([[{"role": "assistant", "content": r"$\\boxed{\\frac{1}{3}}$"}]], solution=[r"$\\frac13$"])
    [1.0]
    """
    return _DEFAULT_ACCURACY(
        completions, answer=answer, solution=solution, log_metric=log_metric, log_extra=log_extra, **kwargs
    )


_DEFAULT_ACCURACY = make_math_accuracy_reward()
math_accuracy_reward.correct_value = 1.0


def make_format_reward(
    *, require_boxed: bool = False, reward: float = 1.0, name: str = "format_reward"
) -> Callable[..., list[float]]:
    """Build a format reward: ``reward`` when a final answer can be extracted (a box, "The answer is", ``####``,
    "答案是", an ``output`` block), else 0.0. With ``require_boxed=True`` only ``\\boxed{}`` counts."""

    def format_fn(completions: list, log_metric: Callable | None = None, **kwargs) -> list[float]:
        texts = [completion_text(c) for c in completions]
        if require_boxed:
            from trl_dsm.grading.extract import last_boxed

            found = [last_boxed(t) is not None for t in texts]
        else:
            found = [extract_answer(t, fallback="none") is not None for t in texts]
        if log_metric is not None and found:
            log_metric(f"{name}/extraction_failure_rate", 1 - sum(found) / len(found))
        return [reward if ok else 0.0 for ok in found]

    format_fn.__name__ = name
    format_fn.__qualname__ = name
    return format_fn


def format_reward(completions: list, log_metric: Callable | None = None, **kwargs) -> list[float]:
    """1.0 if a final answer can be extracted from the completion, else 0.0.

    >>> format_reward(["The answer is 5.", "I think it is five"])
    [1.0, 0.0]
    """
    return _DEFAULT_FORMAT(completions, log_metric=log_metric, **kwargs)


_DEFAULT_FORMAT = make_format_reward()
