# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Process supervision (DeepSeekMath §4.1.3): reasoning steps and their rewards.

* :func:`split_steps` cuts a completion's tokens into steps: a step ends at a token whose text contains the
  separator (default ``"\\n"``: one step per line), and the last token ends the last step.
* A step scorer returns one reward per step. Three kinds:
  - any callable ``f(prompts=..., completions=..., steps=..., **dataset_columns) -> list[list[float]]``;
  - :func:`arithmetic_step_reward`, a rule: 1 for a step whose ``a op b = c`` claims are all true, else 0;
  - :class:`ProcessRewardModel`, a ``transformers`` PRM, Math-Shepherd style (the probability of a "+" token at a
    step tag after each step) or a token-classification head read at the same positions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import torch


def split_steps(token_texts: Sequence[str], separator: str = "\n") -> list[int]:
    """Indices of the tokens that end a step: those whose text contains ``separator``, plus the last token.

    >>> split_steps(["3", "+", "4", " = 7", "\\n", "So", " 7", "."])
    [4, 7]
    """
    if not separator:
        raise ValueError("the step separator must be a non-empty string")
    ends = [i for i, text in enumerate(token_texts) if separator in text]
    last = len(token_texts) - 1
    if last >= 0 and (not ends or ends[-1] != last):
        ends.append(last)
    return ends


def step_texts(token_texts: Sequence[str], ends: Sequence[int]) -> list[str]:
    """The text of each step (its tokens' texts concatenated, surrounding whitespace stripped)."""
    out, start = [], 0
    for end in ends:
        out.append("".join(token_texts[start : end + 1]).strip())
        start = end + 1
    return out


# --------------------------------------------------------------------------------------------------------
# A rule-based step reward
# --------------------------------------------------------------------------------------------------------
_NUM = r"-?\d+(?:\.\d+)?"
_CLAIM_RE = re.compile(rf"({_NUM})\s*([-+*/x×÷])\s*({_NUM})\s*=\s*({_NUM})(?![\d.])")


def check_arithmetic(step: str) -> bool | None:
    """Whether every ``a op b = c`` claim in ``step`` is true; None if the step makes no such claim."""
    claims = _CLAIM_RE.findall(step.replace(",", ""))
    if not claims:
        return None
    for a, op, b, c in claims:
        x, y, z = Fraction(a), Fraction(b), Fraction(c)
        if op in "x×":
            op = "*"
        if op == "÷":
            op = "/"
        if op == "/" and y == 0:
            return False
        value = {"+": x + y, "-": x - y, "*": x * y, "/": x / y if y else None}[op]
        if value != z:
            return False
    return True


def arithmetic_step_reward(steps: list[list[str]], no_claim: float = 0.0, **kwargs) -> list[list[float]]:
    """1.0 for a step whose arithmetic claims (``3 + 4 = 7``) are all true, 0.0 for a step with a false one,
    ``no_claim`` for a step without any. A rule-based process reward for word problems with worked steps.

    >>> arithmetic_step_reward([["3 + 4 = 7", "7 * 2 = 15", "So it is 14."]])
    [[1.0, 0.0, 0.0]]
    """
    out = []
    for completion_steps in steps:
        row = []
        for step in completion_steps:
            verdict = check_arithmetic(step)
            row.append(no_claim if verdict is None else float(verdict))
        out.append(row)
    return out


def with_final_answer_reward(
    step_reward: Callable[..., list[list[float]]],
    gold_column: str | None = None,
    correct: float = 1.0,
    **accuracy_options,
) -> Callable[..., list[list[float]]]:
    """A step scorer whose last step is scored by the outcome: ``correct`` if the completion's final answer equals
    the gold, else 0.0 (graded by :func:`trl_dsm.rewards.make_math_accuracy_reward` with ``gold_column`` and
    ``accuracy_options``: ``timeout``, ``fallback``, ``num_workers``...); the other steps keep ``step_reward``'s
    scores. A row without a usable gold keeps ``step_reward``'s scores unchanged.

    This is trl-dsm's rule, not the paper's: §4.1.3's process reward model never sees the gold answer. It exists
    because a rule that only checks arithmetic rewards true but irrelevant steps as much as a solved problem (in
    the miniature run such a reward collapsed the policy, docs/demo.md).

    >>> scorer = with_final_answer_reward(arithmetic_step_reward)
    >>> scorer(steps=[["3 + 4 = 7", "The answer is 7."], ["3 + 4 = 7", "The answer is 8."]],
    ...        completions=["3 + 4 = 7\\nThe answer is 7.", "3 + 4 = 7\\nThe answer is 8."], answer=["7", "7"])
    [[1.0, 1.0], [1.0, 0.0]]
    """
    from trl_dsm.rewards.math import make_math_accuracy_reward

    accuracy = make_math_accuracy_reward(gold_column, correct_reward=correct, incorrect_reward=0.0, **accuracy_options)

    def scorer(steps: list[list[str]], completions: list, **kwargs) -> list[list[float]]:
        rewards = [list(row) for row in step_reward(steps=steps, completions=completions, **kwargs)]
        outcomes = accuracy(completions=completions, **kwargs)
        if len(rewards) != len(completions):
            raise ValueError(f"the step reward returned {len(rewards)} rows for {len(completions)} completions")
        for row, outcome in zip(rewards, outcomes, strict=True):
            if row and outcome is not None:
                row[-1] = outcome
        return rewards

    scorer.__name__ = f"{getattr(step_reward, '__name__', 'step_reward')}_with_final_answer"
    return scorer


# --------------------------------------------------------------------------------------------------------
# A transformers process reward model
# --------------------------------------------------------------------------------------------------------
@dataclass
class ProcessRewardModel:
    """Scores steps with a ``transformers`` PRM.

    ``kind="step_tag"`` (Math-Shepherd): the input is the prompt followed by each step and ``step_tag``; the score
    of a step is ``p(good) / (p(good) + p(bad))`` of the next-token distribution at its tag (the model is a causal
    LM). ``kind="token_classification"``: the same input, the score is the softmax probability of label
    ``good_label`` at the tag position (an ``AutoModelForTokenClassification``).
    """

    model: torch.nn.Module
    tokenizer: object
    kind: str = "step_tag"
    step_tag: str = " ки"
    good_token: str = "+"
    bad_token: str = "-"
    good_label: int = 1
    max_length: int = 2048
    batch_size: int = 8

    def __post_init__(self) -> None:
        if self.kind not in ("step_tag", "token_classification"):
            raise ValueError(f"kind must be 'step_tag' or 'token_classification', got {self.kind!r}")
        tag_ids = self.tokenizer.encode(self.step_tag, add_special_tokens=False)
        if not tag_ids:
            raise ValueError(f"the step tag {self.step_tag!r} encodes to no token")
        self._tag_id = tag_ids[-1]
        if self.kind == "step_tag":
            good = self.tokenizer.encode(self.good_token, add_special_tokens=False)
            bad = self.tokenizer.encode(self.bad_token, add_special_tokens=False)
            if len(good) != 1 or len(bad) != 1:
                raise ValueError(
                    f"good_token {self.good_token!r} and bad_token {self.bad_token!r} must each be one token, "
                    f"got {good} and {bad}"
                )
            self._good_id, self._bad_id = good[0], bad[0]

    def format(self, prompt: str, steps: Sequence[str]) -> str:
        """The PRM input: the prompt, then every step followed by the step tag."""
        return prompt.rstrip() + "\n" + "".join(f"{step.strip()}{self.step_tag}\n" for step in steps)

    @torch.no_grad()
    def __call__(self, prompts: list, completions: list, steps: list[list[str]], **kwargs) -> list[list[float]]:
        from trl_dsm.rewards.math import prompt_text

        texts = [self.format(prompt_text(p), s) for p, s in zip(prompts, steps)]
        device = next(self.model.parameters()).device
        scores: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(
                texts[start : start + self.batch_size],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=self.max_length,
                add_special_tokens=False,
            ).to(device)
            logits = self.model(**batch).logits.float()
            for row, n_steps in zip(range(logits.shape[0]), (len(s) for s in steps[start : start + self.batch_size])):
                positions = (batch["input_ids"][row] == self._tag_id).nonzero().flatten()
                if self.kind == "step_tag":
                    pair = logits[row, positions][:, [self._good_id, self._bad_id]].softmax(-1)[:, 0]
                else:
                    pair = logits[row, positions].softmax(-1)[:, self.good_label]
                values = pair.tolist()[:n_steps]
                values += [0.0] * (n_steps - len(values))  # steps cut off by max_length score 0
                scores.append(values)
        return scores


StepScorer = Callable[..., list[list[float]]]
