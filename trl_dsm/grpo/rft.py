# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Rejection-sampling fine-tuning (RFT), the offline method of DeepSeekMath's unified paradigm (§5.2.1): sample
``K`` completions per question from a fixed model (the SFT model), keep those the rule reward marks correct, and
fine-tune on them. Its gradient coefficient is the same indicator as Online RFT's; only the data source differs
(a fixed model instead of the current policy). :func:`rft_dataset` builds the dataset; ``trl.SFTTrainer`` trains
on it (prompt-completion format: the loss is on the completion only).

    from trl import SFTConfig, SFTTrainer
    from trl_dsm.eval.generation import HFGenerator, load_model_and_tokenizer
    from trl_dsm.grpo.rft import rft_dataset

    model, tokenizer = load_model_and_tokenizer("my-sft-model")
    data = rft_dataset(HFGenerator(model, tokenizer, max_new_tokens=512), questions, tokenizer=tokenizer, k=64)
    SFTTrainer(model=model, args=SFTConfig("rft"), train_dataset=data, processing_class=tokenizer).train()
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from trl_dsm.grading import DEFAULT_TIMEOUT, extract_gold, grade_batch
from trl_dsm.rewards.math import DEFAULT_GOLD_COLUMNS


logger = logging.getLogger(__name__)


def rft_dataset(
    generator: Any,
    dataset,
    *,
    tokenizer: Any = None,
    k: int = 8,
    temperature: float = 1.0,
    gold_column: str | None = None,
    prompt_column: str = "prompt",
    deduplicate: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    num_workers: int | None = None,
):
    """The RFT training set: for each question, the distinct correct completions among ``k`` samples.

    Args:
        generator: anything with ``generate(prompts, *, n, temperature, stop) -> list[list[str]]``
            (:class:`~trl_dsm.eval.generation.HFGenerator`, :class:`~trl_dsm.eval.generation.VLLMGenerator`).
        dataset: a ``datasets.Dataset`` (or list of dicts) with the prompt and the gold answer, in the format
            ``GRPOMathTrainer`` trains on: ``prompt`` a string, or a list of chat messages rendered with
            ``tokenizer``'s chat template and a generation prompt, as TRL renders them.
        k: samples per question (``n`` of the generator).
        gold_column: the gold's column; default ``answer``, else ``solution`` (as the rewards).
        deduplicate: keep one copy of completions that are identical once surrounding whitespace is stripped.

    Returns a ``datasets.Dataset`` with the input's columns plus ``completion`` (a string, or an assistant message
    list for conversational prompts), one row per kept completion. Rows whose gold has no answer are skipped with a
    warning; questions with no correct sample contribute nothing (counted in the log).
    """
    from datasets import Dataset

    rows = dataset.to_list() if hasattr(dataset, "to_list") else list(dataset)
    if not rows:
        return Dataset.from_list([])
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if prompt_column not in rows[0]:
        raise ValueError(f"the dataset has no {prompt_column!r} column (columns: {sorted(rows[0])})")
    column = gold_column or next((c for c in DEFAULT_GOLD_COLUMNS if c in rows[0]), None)
    if column is None or column not in rows[0]:
        raise ValueError(f"no gold column: pass gold_column= (columns: {sorted(rows[0])})")
    if "completion" in rows[0]:
        raise ValueError("the dataset already has a 'completion' column, which rft_dataset would overwrite")
    conversational = not isinstance(rows[0][prompt_column], str)
    if conversational and tokenizer is None:
        raise ValueError("conversational prompts need tokenizer= to render them with its chat template")
    prompts = [_render(r[prompt_column], tokenizer) for r in rows]
    samples = generator.generate(prompts, n=k, temperature=temperature)
    if len(samples) != len(rows) or any(len(s) != k for s in samples):
        raise ValueError(f"the generator returned {[len(s) for s in samples]} samples for {len(rows)} prompts x {k}")
    golds = [str(r[column]) for r in rows]
    results = grade_batch(
        [s for group in samples for s in group],
        [g for g in golds for _ in range(k)],
        timeout=timeout,
        num_workers=num_workers,
    )
    out, unanswerable, solved = [], 0, 0
    for i, row in enumerate(rows):
        if extract_gold(golds[i]) is None:
            unanswerable += 1
            continue
        seen: set[str] = set()
        kept = 0
        for j, text in enumerate(samples[i]):
            if not results[i * k + j].correct:
                continue
            key = text.strip()
            if deduplicate and key in seen:
                continue
            seen.add(key)
            kept += 1
            completion = [{"role": "assistant", "content": text}] if conversational else text
            out.append({**row, "completion": completion})
        solved += kept > 0
    if unanswerable:
        logger.warning("rft_dataset: %d rows whose gold (%r) has no answer were skipped", unanswerable, column)
    logger.info(
        "rft_dataset: %d completions kept from %d questions x %d samples (%d questions with a correct sample)",
        len(out), len(rows), k, solved,
    )  # fmt: skip
    return Dataset.from_list(out)


def _render(prompt: Any, tokenizer: Any) -> str:
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, Sequence):
        return tokenizer.apply_chat_template(list(prompt), tokenize=False, add_generation_prompt=True)
    raise TypeError(f"a prompt must be a string or a list of chat messages, got {type(prompt).__name__}")
