# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Process supervision (DeepSeekMath §4.1.3): reasoning steps and their rewards.

* :mod:`trl_dsm.grpo.steps` cuts a completion into steps (exact text, the token ending each step).
* A step scorer returns one reward per step. Three kinds:
  - any callable ``f(prompts=..., completions=..., steps=..., **dataset_columns) -> list[list[float]]``;
  - :func:`arithmetic_step_reward`, a rule: 1 for a step whose ``a op b = c`` claims are all true, else 0;
  - :class:`ProcessRewardModel`, a ``transformers`` PRM, Math-Shepherd style (the probability of a "+" token at a
    step tag after each step) or a token-classification head read at the same positions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import torch


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

    scorer.__name__ = f"{getattr(step_reward, '__name__', type(step_reward).__name__)}_with_final_answer"
    scorer.step_reward = step_reward  # what it wraps (iterative RL retrains a wrapped ProcessRewardModel)
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

    @classmethod
    def from_pretrained(cls, path: str, kind: str = "step_tag", device: str | torch.device = "cpu", **kwargs):
        """The PRM saved at ``path`` (a causal LM for ``"step_tag"``, a token-classification model otherwise) and its
        tokenizer (padding with EOS if it has no pad token), on ``device`` in eval mode; ``kwargs`` are the other
        fields (``step_tag``, ``good_token``, ``bad_token``, ``max_length``...)."""
        from transformers import AutoModelForCausalLM, AutoModelForTokenClassification, AutoTokenizer

        if kind not in ("step_tag", "token_classification"):
            raise ValueError(f"kind must be 'step_tag' or 'token_classification', got {kind!r}")
        loader = AutoModelForCausalLM if kind == "step_tag" else AutoModelForTokenClassification
        model = loader.from_pretrained(path).to(device).eval()
        tokenizer = AutoTokenizer.from_pretrained(path)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return cls(model, tokenizer, kind=kind, **kwargs)

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
        return self._format(prompt, steps)[0]

    def _format(self, prompt: str, steps: Sequence[str]) -> tuple[str, list[int]]:
        text = prompt.rstrip() + "\n"
        tag_ends = []
        for step in steps:
            text += step.strip() + self.step_tag
            tag_ends.append(len(text))
            text += "\n"
        return text, tag_ends

    def encode(self, prompts: Sequence[str], steps: Sequence[Sequence[str]]) -> tuple[dict, list[list[int | None]]]:
        """PRM inputs (``input_ids``, ``attention_mask``, padded on the tokenizer's side) and, per row, the position
        of each step's tag: the token holding the tag's last character, found from the input's character offsets,
        so a tag string inside the prompt or a step is never mistaken for one.

        An input longer than ``max_length`` loses tokens from the start of the prompt first, so every step keeps
        its score; only when the steps alone do not fit are the last ones cut, and their positions are ``None``
        (unknown).
        """
        rows = []
        for prompt, row_steps in zip(prompts, steps):
            text, tag_ends = self._format(prompt, row_steps)
            ids, positions = self._tokenize_with_tags(text, tag_ends, len(prompt.rstrip()) + 1)
            rows.append(self._fit(ids, positions, len(prompt.rstrip()) + 1, text))
        width = max((len(ids) for ids, _ in rows), default=0)
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        input_ids, attention, out_positions = [], [], []
        for ids, positions in rows:
            pad = width - len(ids)
            input_ids.append([pad_id] * pad + ids if left else ids + [pad_id] * pad)
            attention.append([0] * pad + [1] * len(ids) if left else [1] * len(ids) + [0] * pad)
            out_positions.append([None if p is None else p + (pad if left else 0) for p in positions])
        batch = {"input_ids": torch.tensor(input_ids, dtype=torch.long).reshape(len(rows), width),
                 "attention_mask": torch.tensor(attention, dtype=torch.long).reshape(len(rows), width)}  # fmt: skip
        return batch, out_positions

    def _tokenize_with_tags(self, text: str, tag_ends: list[int], prompt_chars: int):
        try:
            enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        except NotImplementedError:  # a slow tokenizer: the tag tokens after the prompt's tokens, in order
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            start = len(self.tokenizer(text[:prompt_chars], add_special_tokens=False)["input_ids"])
            found = [j for j in range(start, len(ids)) if ids[j] == self._tag_id][: len(tag_ends)]
            return ids, found + [None] * (len(tag_ends) - len(found))
        ends = {}
        for j, (start, end) in enumerate(enc["offset_mapping"]):
            if end > start:
                ends[end] = j  # the last token ending there (byte-level pieces of one character share a span)
        spans = sorted(ends)
        positions = []
        for c in tag_ends:  # the token whose span holds character c - 1
            k = next((e for e in spans if e >= c), None)
            j = ends.get(k) if k is not None else None
            positions.append(j if j is not None and enc["offset_mapping"][j][0] < c else None)
        return list(enc["input_ids"]), positions

    def _fit(self, ids: list[int], positions: list[int | None], prompt_chars: int, text: str):
        over = len(ids) - self.max_length
        if over <= 0:
            return ids, positions
        # tokens of the prompt part: those before the first step's first token (or all but the tags' tokens)
        prompt_tokens = len(self.tokenizer(text[:prompt_chars], add_special_tokens=False)["input_ids"])
        first = next((p for p in positions if p is not None), len(ids))
        cut = min(over, max(0, min(prompt_tokens, first) - 1))  # keep at least one prompt token
        ids = ids[cut:][: self.max_length]
        positions = [None if p is None or p - cut >= len(ids) else p - cut for p in positions]
        return ids, positions

    @torch.no_grad()
    def __call__(self, prompts: list, completions: list, steps: list[list[str]], **kwargs) -> list[list[float]]:
        """One score per step; ``nan`` for a step cut off by ``max_length`` (unknown: it takes no part in the
        group normalization and adds nothing to the advantages, see :func:`~trl_dsm.grpo.process_advantages`)."""
        from trl_dsm.rewards.math import prompt_text

        device = next(self.model.parameters()).device
        scores: list[list[float]] = []
        for start in range(0, len(steps), self.batch_size):
            chunk = slice(start, start + self.batch_size)
            batch, positions = self.encode([prompt_text(p) for p in prompts[chunk]], steps[chunk])
            batch = {k: v.to(device) for k, v in batch.items()}
            logits = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
            for row, row_positions in enumerate(positions):
                known = [p for p in row_positions if p is not None]
                if self.kind == "step_tag":
                    values = logits[row, known][:, [self._good_id, self._bad_id]].softmax(-1)[:, 0].tolist()
                else:
                    values = logits[row, known].softmax(-1)[:, self.good_label].tolist()
                it = iter(values)
                scores.append([next(it) if p is not None else math.nan for p in row_positions])
        return scores


StepScorer = Callable[..., list[list[float]]]
