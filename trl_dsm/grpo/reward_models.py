# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Reward models for GRPO (DeepSeekMath §4.1.2-4.1.4): data and training for outcome and process RMs.

* Outcome RM: pairs of a correct and an incorrect completion of the same prompt, labelled by the trl-dsm
  grader (:func:`orm_preference_pairs`), trained with TRL's ``RewardTrainer``.
* Process RM (TRL 1.16 has no PRM trainer): step-tag records ``{"prompt", "steps", "labels"}`` (Math-Shepherd's
  format), labelled by *hard estimation* — a step is good if any of K rollouts continued from it reaches the gold
  answer (:func:`math_shepherd_labels`) — and trained with :class:`ProcessRewardTrainer`, for both PRM kinds
  that :class:`~trl_dsm.grpo.process.ProcessRewardModel` reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import torch
from transformers import Trainer

from trl_dsm.grading.compare import grade_batch
from trl_dsm.grpo.process import ProcessRewardModel


# --------------------------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------------------------
def orm_preference_pairs(
    prompts: Sequence[str], completions: Sequence[str], golds: Sequence[str], max_pairs_per_prompt: int = 4
) -> list[dict[str, str]]:
    """``{"prompt", "chosen", "rejected"}`` pairs for TRL's ``RewardTrainer``: each correct completion of a prompt
    paired with an incorrect one (correctness from the trl-dsm grader), at most ``max_pairs_per_prompt`` each."""
    if not len(prompts) == len(completions) == len(golds):
        raise ValueError(f"got {len(prompts)} prompts, {len(completions)} completions and {len(golds)} golds")
    correct = [r.correct for r in grade_batch(list(completions), list(golds))]
    by_prompt: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for prompt, completion, ok in zip(prompts, completions, correct):
        by_prompt[prompt][0 if ok else 1].append(completion)
    pairs = []
    for prompt, (good, bad) in by_prompt.items():
        for chosen, rejected in list(zip(good, bad))[:max_pairs_per_prompt]:
            pairs.append({"prompt": prompt, "chosen": chosen, "rejected": rejected})
    return pairs


def math_shepherd_labels(
    prompt: str,
    steps: Sequence[str],
    gold: str,
    rollout: Callable[[list[str], int], list[list[str]]],
    num_rollouts: int = 8,
    step_joiner: str = "\n",
) -> list[bool]:
    """Hard-estimation step labels (Math-Shepherd): step ``j`` is good if any of ``num_rollouts`` continuations
    of ``prompt + steps[:j+1]`` sampled by ``rollout`` reaches the gold answer (graded by trl-dsm).

    ``rollout(prefixes, k)`` returns ``k`` continuations per prefix (wrap ``model.generate`` or vLLM). Once a step
    is bad, the later ones are bad too (a solution cannot recover from a wrong step).
    """
    if not steps:
        return []
    prefixes = [
        prompt.rstrip() + "\n" + step_joiner.join(s.strip() for s in steps[: j + 1]) for j in range(len(steps))
    ]
    continuations = rollout(prefixes, num_rollouts)
    if len(continuations) != len(prefixes) or any(len(c) != num_rollouts for c in continuations):
        raise ValueError(f"rollout must return {num_rollouts} continuations for each of the {len(prefixes)} prefixes")
    texts = [prefix + step_joiner + c for prefix, conts in zip(prefixes, continuations) for c in conts]
    results = grade_batch(texts, [gold] * len(texts))
    labels, alive = [], True
    for j in range(len(steps)):
        reached = any(r.correct for r in results[j * num_rollouts : (j + 1) * num_rollouts])
        alive = alive and reached
        labels.append(alive)
    return labels


def build_prm_dataset(
    samples: Sequence[dict[str, Any]],
    rollout: Callable[[list[str], int], list[list[str]]],
    num_rollouts: int = 8,
    step_separator: str = "\n",
):
    """A step-tag PRM dataset from policy samples ``{"prompt", "completion", "gold"}`` (or with ``"steps"``
    already split): each completion is cut into steps at ``step_separator`` and labelled by
    :func:`math_shepherd_labels`. Returns a ``datasets.Dataset`` of ``{"prompt", "steps", "labels"}``."""
    from datasets import Dataset

    records = []
    for i, sample in enumerate(samples):
        missing = [k for k in ("prompt", "gold") if k not in sample]
        if missing or ("steps" not in sample and "completion" not in sample):
            raise KeyError(f"sample {i} needs 'prompt', 'gold' and 'completion' or 'steps'; it has {sorted(sample)}")
        steps = sample.get("steps") or [s.strip() for s in sample["completion"].split(step_separator) if s.strip()]
        if not steps:
            continue
        labels = math_shepherd_labels(sample["prompt"], steps, sample["gold"], rollout, num_rollouts)
        records.append({"prompt": sample["prompt"], "steps": list(steps), "labels": [int(x) for x in labels]})
    return Dataset.from_list(records) if records else Dataset.from_dict({"prompt": [], "steps": [], "labels": []})


def hf_rollout(model, tokenizer, max_new_tokens: int = 256, temperature: float = 1.0, batch_size: int = 16):
    """A ``rollout`` function for :func:`math_shepherd_labels` from a ``transformers`` causal LM."""

    @torch.no_grad()
    def rollout(prefixes: list[str], k: int) -> list[list[str]]:
        out: list[list[str]] = []
        for start in range(0, len(prefixes), batch_size):
            batch = tokenizer(prefixes[start : start + batch_size], return_tensors="pt", padding=True,
                              padding_side="left").to(model.device)  # fmt: skip
            generated = model.generate(
                **batch, do_sample=True, temperature=temperature, max_new_tokens=max_new_tokens,
                num_return_sequences=k, pad_token_id=tokenizer.pad_token_id,
            )  # fmt: skip
            texts = tokenizer.batch_decode(generated[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
            out += [texts[i * k : (i + 1) * k] for i in range(len(texts) // k)]
        return out

    return rollout


# --------------------------------------------------------------------------------------------------------
# Training a process reward model
# --------------------------------------------------------------------------------------------------------
class PRMCollator:
    """Tokenizes step-tag records and marks, at each step tag, the label the PRM must predict there."""

    def __init__(self, prm: ProcessRewardModel) -> None:
        self.prm = prm

    def __call__(self, records: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        for i, r in enumerate(records):
            if len(r["steps"]) != len(r["labels"]):
                raise ValueError(f"record {i}: {len(r['steps'])} steps but {len(r['labels'])} labels")
        batch, positions = self.prm.encode([r["prompt"] for r in records], [r["steps"] for r in records])
        targets = torch.full_like(batch["input_ids"], -100)
        for row, record in enumerate(records):
            for pos, label in zip(positions[row], record["labels"]):
                if pos is None:  # the step's tag was cut off by max_length: no label
                    continue
                good = bool(label)
                if self.prm.kind == "step_tag":
                    targets[row, pos] = 0 if good else 1  # index into (good_token, bad_token)
                else:
                    targets[row, pos] = self.prm.good_label if good else 1 - self.prm.good_label
        batch["step_targets"] = targets
        return batch


class ProcessRewardTrainer(Trainer):
    """Trains a PRM on step-tag records: cross-entropy at every step tag, over ("+", "-") for a causal LM
    (Math-Shepherd) or over the labels of a token-classification head."""

    def __init__(self, prm: ProcessRewardModel, args, train_dataset, eval_dataset=None, **kwargs) -> None:
        self.prm = prm
        args.remove_unused_columns = False  # the collator needs "prompt", "steps" and "labels"
        kwargs.setdefault("data_collator", PRMCollator(prm))
        super().__init__(model=prm.model, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset, **kwargs)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The PRM loss (:func:`prm_loss`: cross-entropy at the step tags) instead of the model's own loss."""
        loss, outputs = prm_loss(self.prm, model, inputs)
        return (loss, outputs) if return_outputs else loss


def prm_loss(prm: ProcessRewardModel, model, batch: dict[str, torch.Tensor]):
    """(loss, outputs): cross-entropy at the step tags of a :class:`PRMCollator` batch."""
    targets = batch["step_targets"]
    outputs = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    logits = outputs.logits
    if prm.kind == "step_tag":
        logits = logits[..., [prm._good_id, prm._bad_id]]
    mask = targets != -100
    if not mask.any():
        return logits.sum() * 0.0, outputs
    return torch.nn.functional.cross_entropy(logits[mask].float(), targets[mask]), outputs


def orm_loss(model, tokenizer, pairs: list[dict[str, str]], max_length: int = 2048) -> torch.Tensor:
    """Bradley-Terry loss ``-log sigmoid(r(chosen) - r(rejected))`` of a sequence-classification reward model."""
    texts = [p["prompt"] + p["chosen"] for p in pairs] + [p["prompt"] + p["rejected"] for p in pairs]
    batch = tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=max_length)
    batch = batch.to(next(model.parameters()).device)
    rewards = model(**batch).logits[:, 0].float()
    chosen, rejected = rewards[: len(pairs)], rewards[len(pairs) :]
    return -torch.nn.functional.logsigmoid(chosen - rejected).mean()
