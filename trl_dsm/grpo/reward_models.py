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
    prompts: Sequence[str],
    completions: Sequence[str],
    golds: Sequence[str],
    max_pairs_per_prompt: int = 4,
    correct: Sequence[bool] | None = None,
) -> list[dict[str, str]]:
    """``{"prompt", "chosen", "rejected"}`` pairs for TRL's ``RewardTrainer``: each correct completion of a prompt
    paired with an incorrect one (correctness from the trl-dsm grader, or the verdicts given as ``correct``, e.g.
    graded on several ranks), at most ``max_pairs_per_prompt`` each."""
    if not len(prompts) == len(completions) == len(golds):
        raise ValueError(f"got {len(prompts)} prompts, {len(completions)} completions and {len(golds)} golds")
    if correct is None:
        correct = [r.correct for r in grade_batch(list(completions), list(golds))]
    elif len(correct) != len(completions):
        raise ValueError(f"got {len(correct)} verdicts for {len(completions)} completions")
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
    prefixes: Sequence[str] | None = None,
) -> list[bool]:
    """Hard-estimation step labels (Math-Shepherd): step ``j`` is good if any of ``num_rollouts`` continuations
    of ``prompt + steps[:j+1]`` sampled by ``rollout`` reaches the gold answer (graded by trl-dsm).

    ``rollout(prefixes, k)`` returns ``k`` continuations per prefix (wrap ``model.generate`` or vLLM). Once a step
    is bad, the later ones are bad too (a solution cannot recover from a wrong step).

    ``prefixes`` (one per step) are the exact texts the policy continues from, when the caller has them: its
    prompt as the policy saw it (chat template applied) followed by its own completion up to the end of step ``j``
    (:func:`build_prm_dataset` builds them from a sample's ``completion``). Without them, the prefix of step ``j``
    is ``prompt``, a newline and the steps joined by ``step_joiner``. Only the solution part of each rollout (the
    text after ``prompt``) is graded, so a number in the question is never taken for an answer.
    """
    return _label_batch([(prompt, steps, gold, prefixes)], rollout, num_rollouts, step_joiner)[0]


def _label_batch(
    items: Sequence[tuple[str, Sequence[str], str, Sequence[str] | None]],
    rollout: Callable[[list[str], int], list[list[str]]],
    num_rollouts: int,
    step_joiner: str = "\n",
) -> list[list[bool]]:
    """:func:`math_shepherd_labels` of many ``(prompt, steps, gold, prefixes)`` with one ``rollout`` call and one
    ``grade_batch`` call for all of them (a generator or vLLM fills its batches; one sample's few prefixes do not)."""
    all_prefixes, heads, joiners, spans = [], [], [], []
    for prompt, steps, _gold, prefixes in items:
        if prefixes is None:
            head, joiner = prompt.rstrip() + "\n", step_joiner
            prefixes = [head + step_joiner.join(s.strip() for s in steps[: j + 1]) for j in range(len(steps))]
        else:
            head, joiner, prefixes = prompt, "", list(prefixes)
            if len(prefixes) != len(steps):
                raise ValueError(f"{len(prefixes)} prefixes for {len(steps)} steps: give one per step")
            if not all(p.startswith(prompt) for p in prefixes):
                raise ValueError("every prefix must start with the prompt it continues")
        spans.append((len(all_prefixes), len(prefixes)))
        all_prefixes += prefixes
        heads.append(head)
        joiners.append(joiner)
    continuations = rollout(all_prefixes, num_rollouts) if all_prefixes else []
    if len(continuations) != len(all_prefixes) or any(len(c) != num_rollouts for c in continuations):
        raise ValueError(
            f"rollout must return {num_rollouts} continuations for each of the {len(all_prefixes)} prefixes"
        )
    texts, golds = [], []
    for (start, n), head, joiner, (_, _, gold, _) in zip(spans, heads, joiners, items):
        for prefix, conts in zip(all_prefixes[start : start + n], continuations[start : start + n]):
            texts += [prefix[len(head) :] + joiner + c for c in conts]  # the solution part only
            golds += [gold] * len(conts)
    results = grade_batch(texts, golds)
    out = []
    for start, n in spans:
        labels, alive = [], True
        for j in range(start, start + n):
            reached = any(r.correct for r in results[j * num_rollouts : (j + 1) * num_rollouts])
            alive = alive and reached
            labels.append(alive)
        out.append(labels)
    return out


def build_prm_dataset(
    samples: Sequence[dict[str, Any]],
    rollout: Callable[[list[str], int], list[list[str]]],
    num_rollouts: int = 8,
    step_separator: str = "\n",
):
    """A step-tag PRM dataset from policy samples ``{"prompt", "completion", "gold"}`` (or with ``"steps"``
    already split): each completion is cut into steps at ``step_separator`` and labelled by
    :func:`math_shepherd_labels`, all samples' prefixes in one ``rollout`` call. Returns a ``datasets.Dataset`` of
    ``{"prompt", "steps", "labels"}``.

    ``"prompt"`` is the text the PRM will score (what :class:`~trl_dsm.grpo.ProcessRewardModel` receives in GRPO:
    a conversation's message contents, :func:`trl_dsm.rewards.math.prompt_text`). A sample may also hold
    ``"rollout_prompt"``, the prompt as the policy saw it (chat template applied); with a ``"completion"``, the
    rollouts then continue the policy's exact text, ``rollout_prompt + completion[:end of step j]``, as Math-Shepherd
    requires (a prompt rendered otherwise than the policy was trained on takes it off its distribution); steps
    given that the completion does not contain in order are continued from ``rollout_prompt``, a newline and the
    steps joined."""
    from datasets import Dataset

    kept, items = [], []
    for i, sample in enumerate(samples):
        missing = [k for k in ("prompt", "gold") if k not in sample]
        if missing or ("steps" not in sample and "completion" not in sample):
            raise KeyError(f"sample {i} needs 'prompt', 'gold' and 'completion' or 'steps'; it has {sorted(sample)}")
        completion = sample.get("completion")
        steps = [s.strip() for s in sample.get("steps") or (completion or "").split(step_separator) if s.strip()]
        if not steps:
            continue
        head, prefixes = sample.get("rollout_prompt") or sample["prompt"], None
        ends = _step_ends(completion, steps) if completion is not None else None
        if ends is not None:  # the policy's exact text up to each step's end
            prefixes = [head + completion[:end] for end in ends]
        kept.append((sample["prompt"], steps))
        items.append((head, steps, sample["gold"], prefixes))
    labels = _label_batch(items, rollout, num_rollouts)
    records = [{"prompt": prompt, "steps": steps, "labels": [int(x) for x in row]}
               for (prompt, steps), row in zip(kept, labels)]  # fmt: skip
    return Dataset.from_list(records) if records else Dataset.from_dict({"prompt": [], "steps": [], "labels": []})


def _step_ends(completion: str, steps: Sequence[str]) -> list[int] | None:
    """Where each step ends in ``completion`` (found in order); None if one is not there."""
    ends, pos = [], 0
    for step in steps:
        start = completion.find(step, pos)
        if start < 0:
            return None
        pos = start + len(step)
        ends.append(pos)
    return ends


def hf_rollout(
    model,
    tokenizer,
    max_new_tokens: int = 256,
    temperature: float = 1.0,
    batch_size: int = 16,
    add_special_tokens: bool = True,
    synced: bool = False,
):
    """A ``rollout`` function for :func:`math_shepherd_labels` from a ``transformers`` causal LM. Set
    ``add_special_tokens=False`` when the prefixes already hold them (a prompt rendered by a chat template, or
    decoded from the policy's own prompt ids).

    ``synced=True`` is for a model sharded across the ranks of ``torch.distributed`` (ZeRO-3, FSDP), whose every
    forward is a collective: every rank must call the rollout (with its own prefixes, possibly none), and each makes
    as many ``generate`` calls as the rank with the most batches (extra calls on a one-token input, discarded),
    with ``synced_gpus=True`` so that a rank whose sequences end first keeps joining the others' forwards."""

    @torch.no_grad()
    def rollout(prefixes: list[str], k: int) -> list[list[str]]:
        out: list[list[str]] = []
        calls = -(-len(prefixes) // batch_size)
        extra: dict = {}
        if synced and torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1:
            most = torch.tensor([calls], device=model.device)
            torch.distributed.all_reduce(most, op=torch.distributed.ReduceOp.MAX)
            calls, extra = int(most.item()), {"synced_gpus": True}
        filler = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        for call in range(calls):
            chunk = prefixes[call * batch_size : (call + 1) * batch_size]
            if chunk:
                batch = tokenizer(chunk, return_tensors="pt", padding=True, padding_side="left",
                                  add_special_tokens=add_special_tokens).to(model.device)  # fmt: skip
            else:  # this rank has no prefixes left: join the others' collective forwards, keep nothing
                ids = torch.tensor([[filler]], device=model.device)
                batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
            generated = model.generate(
                **batch, do_sample=True, temperature=temperature, max_new_tokens=max_new_tokens,
                num_return_sequences=k, pad_token_id=tokenizer.pad_token_id, **extra,
            )  # fmt: skip
            if chunk:
                texts = tokenizer.batch_decode(generated[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
                out += [texts[i * k : (i + 1) * k] for i in range(len(texts) // k)]
        return out

    return rollout


def prm_metrics(
    scores: Sequence[Sequence[float]], labels: Sequence[Sequence[int]], prompts: Sequence[str]
) -> dict[str, float]:
    """How well step scores fit held-out Math-Shepherd labels (one row per completion, ``nan`` scores skipped):

    * ``step_accuracy``: steps whose score is on the side of 0.5 that their label says;
    * ``step_auc``: the chance that a good step outscores a bad one (ties count half);
    * ``group_auc``: the same over pairs of completions *of one prompt*, one solved and one not (a completion's
      last label is whether it reaches the gold), compared by their last step's score. GRPO normalizes rewards
      within a group, so this, not the pooled AUC (which a PRM that only tells easy questions from hard ones
      also earns), says whether the PRM can rank a group's completions; 0.5 is chance.

    >>> prm_metrics([[0.9, 0.5], [0.7, 0.2], [0.6]], [[1, 1], [1, 0], [0]], ["p", "p", "q"])
    {'steps': 5, 'step_accuracy': 0.6, 'step_auc': 0.8333..., 'group_pairs': 1, 'group_auc': 1.0}
    """
    if not len(scores) == len(labels) == len(prompts):
        raise ValueError(f"{len(scores)} score rows, {len(labels)} label rows, {len(prompts)} prompts")
    good, bad = [], []
    by_prompt: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for row_scores, row_labels, prompt in zip(scores, labels, prompts):
        if len(row_scores) != len(row_labels):
            raise ValueError(f"{len(row_scores)} scores for {len(row_labels)} labels")
        for score, label in zip(row_scores, row_labels):
            if score == score:  # not nan
                (good if label else bad).append(score)
        if row_labels and row_scores[-1] == row_scores[-1]:
            by_prompt[prompt].append((row_scores[-1], row_labels[-1]))
    steps = len(good) + len(bad)
    accuracy = (sum(s > 0.5 for s in good) + sum(s <= 0.5 for s in bad)) / steps if steps else float("nan")
    pairs, wins = 0, 0.0
    for rows in by_prompt.values():
        for solved, s in rows:
            for other, o in rows:
                if s and not o:
                    pairs += 1
                    wins += 1.0 if solved > other else 0.5 if solved == other else 0.0
    return {"steps": steps, "step_accuracy": accuracy, "step_auc": _auc(good, bad), "group_pairs": pairs,
            "group_auc": wins / pairs if pairs else float("nan")}  # fmt: skip


def _auc(positive: list[float], negative: list[float]) -> float:
    """P(a positive outscores a negative), ties half (Mann-Whitney U / (n+ n-)); nan if a side is empty."""
    if not positive or not negative:
        return float("nan")
    ranked = sorted([(v, 1) for v in positive] + [(v, 0) for v in negative])
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        rank_sum += (i + j + 1) / 2 * sum(label for _, label in ranked[i:j])  # tied values share their mean rank
        i = j
    n_pos, n_neg = len(positive), len(negative)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


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
