# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Supervised fine-tuning (DeepSeekMath §3.3): CoT / PoT / TIR formats, chat templates, completion-only loss.

The prompt formats themselves live in :mod:`trl_dsm.prompts` (shared with RL and evaluation).
"""

from trl_dsm.sft.chat_templates import DEEPSEEK_MATH_CHAT_TEMPLATE, ensure_chat_template, resolve_chat_template


__all__ = [
    "DEEPSEEK_MATH_CHAT_TEMPLATE",
    "build_question_dataset",
    "build_sft_dataset",
    "ensure_chat_template",
    "format_response",
    "format_sft_dataset",
    "load_math_dataset",
    "resolve_chat_template",
    "to_prompt_completion",
    "tokenize_sft_example",
]

_DATA = ("build_sft_dataset", "format_response", "format_sft_dataset", "to_prompt_completion", "tokenize_sft_example")
_QUESTIONS = ("build_question_dataset", "load_math_dataset")


def __getattr__(name: str):  # `datasets` is imported only when asked for
    if name in _DATA:
        from trl_dsm.sft import data

        return getattr(data, name)
    if name in _QUESTIONS:
        from trl_dsm.sft import questions

        return getattr(questions, name)
    raise AttributeError(f"module 'trl_dsm.sft' has no attribute {name!r}")
