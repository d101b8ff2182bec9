# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Chat templates for SFT (§3.3). DeepSeekMath-Instruct's conversation format is ``User: {q}\\n\\nAssistant: {a}<eos>``;
this module writes it as a Jinja template with ``{% generation %}`` markers (so TRL's ``assistant_only_loss`` works
with it too) and installs it on tokenizers that have none (base models)."""

from __future__ import annotations

from pathlib import Path


#: DeepSeekMath-Instruct's format: "User: ...\n\nAssistant: ...<eos>", system text first, generation prompt
#: "Assistant:" (the rendered prompt is a prefix of the rendered conversation).
DEEPSEEK_MATH_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] + '\n\n' }}"
    "{% elif message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\n\n' }}"
    "{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' }}"
    "{% generation %}{{ message['content'] + eos_token }}{% endgeneration %}"
    "{% if not loop.last %}{{ '\n\n' }}{% endif %}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)

CHAT_TEMPLATES = {"deepseek-math": DEEPSEEK_MATH_CHAT_TEMPLATE}


def resolve_chat_template(spec: str) -> str:
    """A template by name (``"deepseek-math"``), from a ``.jinja`` file, or from a tokenizer path / Hub id."""
    if spec in CHAT_TEMPLATES:
        return CHAT_TEMPLATES[spec]
    path = Path(spec)
    if path.is_file():
        return path.read_text(encoding="utf-8")
    from transformers import AutoTokenizer

    template = AutoTokenizer.from_pretrained(spec).chat_template
    if not template:
        raise ValueError(f"chat template {spec!r}: the tokenizer found there has no chat_template")
    return template


def ensure_chat_template(tokenizer, chat_template: str | None = None):
    """Set ``chat_template`` (a name, file or tokenizer, see :func:`resolve_chat_template`) on ``tokenizer``; with
    ``None``, install DeepSeekMath's only where the tokenizer has no template. Returns the tokenizer."""
    if chat_template is not None:
        tokenizer.chat_template = resolve_chat_template(chat_template)
    elif not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = DEEPSEEK_MATH_CHAT_TEMPLATE
    return tokenizer
