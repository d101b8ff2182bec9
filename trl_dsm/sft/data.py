# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""SFT data (DeepSeekMath §3.3): chain-of-thought, program-of-thought and tool-integrated solutions as chat
prompt-completion examples, tokenized with a completion-only loss mask that also masks tool outputs.

The instruction strings and fences come from :mod:`trl_dsm.prompts` (shared with RL and evaluation). A
tool-integrated solution interleaves text, ```` ```python ```` blocks and ```` ```output ```` blocks; the text the
executor inserts (:func:`trl_dsm.prompts.tool_output_spans`) is masked from the loss like the prompt, so the model
learns to write programs and read their results, never to predict them.
"""

from __future__ import annotations

import logging
from typing import Any

from datasets import Dataset, IterableDataset

from trl_dsm.errors import UsageError
from trl_dsm.prompts import CODE_FENCE, FORMATS, code_block, format_question, tool_output_spans


logger = logging.getLogger(__name__)


def format_response(response: str, fmt: str) -> str:
    """The assistant turn of one solution: PoT code without a fence is put in a ```` ```python ```` block."""
    if fmt == "pot" and CODE_FENCE not in response:
        return code_block(response)
    return response


def to_prompt_completion(
    example: dict[str, Any],
    fmt: str = "cot",
    question_column: str = "question",
    response_column: str = "response",
    format_column: str | None = None,
    add_instruction: bool = True,
    system_prompt: str | None = None,
) -> dict[str, list[dict[str, str]]]:
    """One row as a conversational prompt-completion example (TRL's format).

    A row with a ``messages`` conversation keeps it: the last message (the assistant's) is the completion. Otherwise
    the user turn is ``question`` plus the format's instruction (:func:`trl_dsm.prompts.format_question`) and the
    completion is ``response``. ``format_column`` gives a per-row format (mixed CoT/PoT/TIR data as in §3.3).
    """
    fmt = (example.get(format_column) or fmt) if format_column else fmt
    if fmt not in FORMATS:
        raise UsageError(f"unknown SFT format {fmt!r}; expected one of {FORMATS}")
    if "messages" in example and example["messages"]:
        messages = list(example["messages"])
        if messages[-1].get("role") != "assistant":
            raise UsageError("a `messages` example must end with the assistant's message (the completion)")
        return {"prompt": messages[:-1], "completion": [messages[-1]]}
    for column in (question_column, response_column):
        if not isinstance(example.get(column), str):
            raise UsageError(
                f"SFT example: column {column!r} must be a string (columns: {sorted(example)}); "
                "set question_column / response_column"
            )
    question = example[question_column]
    user = format_question(question, fmt) if add_instruction else question
    prompt = [{"role": "system", "content": system_prompt}] if system_prompt else []
    prompt.append({"role": "user", "content": user})
    return {
        "prompt": prompt,
        "completion": [{"role": "assistant", "content": format_response(example[response_column], fmt)}],
    }


def format_sft_dataset(
    dataset: Dataset | IterableDataset,
    fmt: str = "cot",
    question_column: str = "question",
    response_column: str = "response",
    format_column: str | None = None,
    add_instruction: bool = True,
    system_prompt: str | None = None,
    num_proc: int | None = None,
) -> Dataset | IterableDataset:
    """:func:`to_prompt_completion` over a dataset; the result has exactly ``prompt`` and ``completion``."""
    kwargs: dict[str, Any] = dict(
        fn_kwargs=dict(
            fmt=fmt,
            question_column=question_column,
            response_column=response_column,
            format_column=format_column,
            add_instruction=add_instruction,
            system_prompt=system_prompt,
        ),
        remove_columns=[c for c in (dataset.column_names or []) if c not in ("prompt", "completion")],
    )
    if isinstance(dataset, Dataset):
        kwargs.update(num_proc=num_proc, desc=f"Formatting SFT examples ({fmt})")
    return dataset.map(to_prompt_completion, **kwargs)


def tokenize_sft_example(
    example: dict[str, Any], tokenizer, mask_tool_outputs: bool = True, max_length: int | None = None
) -> dict[str, list[int]]:
    """``input_ids`` of the chat-templated conversation and its ``completion_mask``: 1 on the assistant's tokens,
    0 on the prompt's and, with ``mask_tool_outputs``, on tool-output text (TRL's SFTTrainer turns the mask into
    ``labels`` when ``completion_only_loss=True``). Needs a fast tokenizer (character offsets)."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("tokenize_sft_example needs a fast tokenizer (for character offsets)")
    prompt, completion = example["prompt"], example["completion"]
    prompt_text = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    full_text = tokenizer.apply_chat_template(prompt + completion, tokenize=False)
    prompt_chars = len(prompt_text)
    if not full_text.startswith(prompt_text):
        prompt_chars = next(
            (i for i, (a, b) in enumerate(zip(prompt_text, full_text)) if a != b),
            min(len(prompt_text), len(full_text)),
        )
        logger.warning(
            "the chat template renders the prompt with a generation prompt differently from the conversation; the "
            "completion starts where they diverge (character %d)",
            prompt_chars,
        )
    spans: list[tuple[int, int]] = []
    if mask_tool_outputs:
        content = completion[-1]["content"]
        local = tool_output_spans(content)
        if local:
            offset = full_text.rfind(content)
            if offset < prompt_chars:
                raise ValueError(
                    "cannot locate the assistant's text in the chat-templated conversation (the template changes "
                    "it), so its tool outputs cannot be masked; use a template that writes the content verbatim"
                )
            spans = [(offset + a, offset + b) for a, b in local]
    encoding = tokenizer(full_text, add_special_tokens=False, return_offsets_mapping=True)
    input_ids, mask = encoding["input_ids"], []
    for start, end in encoding["offset_mapping"]:
        end = max(end, start + 1)
        trained = start >= prompt_chars and not any(start < b and end > a for a, b in spans)
        mask.append(int(trained))
    if max_length is not None:
        input_ids, mask = input_ids[:max_length], mask[:max_length]
    return {"input_ids": input_ids, "completion_mask": mask}


def build_sft_dataset(
    dataset: Dataset | IterableDataset,
    tokenizer,
    fmt: str = "cot",
    question_column: str = "question",
    response_column: str = "response",
    format_column: str | None = None,
    add_instruction: bool = True,
    system_prompt: str | None = None,
    mask_tool_outputs: bool = True,
    num_proc: int | None = None,
) -> Dataset | IterableDataset:
    """Formatted (:func:`format_sft_dataset`) and tokenized (:func:`tokenize_sft_example`) SFT data: ``input_ids`` and
    ``completion_mask``, ready for ``trl.SFTTrainer`` (truncation and packing are the trainer's)."""
    formatted = format_sft_dataset(
        dataset, fmt, question_column, response_column, format_column, add_instruction, system_prompt, num_proc
    )
    kwargs: dict[str, Any] = dict(
        fn_kwargs=dict(tokenizer=tokenizer, mask_tool_outputs=mask_tool_outputs),
        remove_columns=["prompt", "completion"],
    )
    if isinstance(formatted, Dataset):
        kwargs.update(num_proc=num_proc, desc="Tokenizing SFT examples")
    tokenized = formatted.map(tokenize_sft_example, **kwargs)
    if isinstance(tokenized, Dataset):
        tokenized = tokenized.filter(lambda ex: any(ex["completion_mask"]), num_proc=num_proc)
    return tokenized
