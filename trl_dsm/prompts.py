# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Prompt formats shared by SFT (§3), RL (§4) and evaluation (§5): ONE place for the instruction strings and the
code / tool-output fences of the chain-of-thought, program-of-thought and tool-integrated formats.

The chain-of-thought and tool-integrated instructions are DeepSeekMath's own (the instruct model's card and the
``evaluation/`` code of deepseek-ai/DeepSeek-Math); the tool-output block, ``"\\n```output\\n{result}\\n```\\n"`` as its
tool-integrated evaluation inserts it, is written by :func:`trl_dsm.sandbox.tir.continue_tir`. The program-of-thought
instruction is ours: the paper does not publish the zero-shot one (its PoT evaluation is few-shot, PAL style).
"""

from __future__ import annotations

import re
from typing import Literal


Format = Literal["cot", "pot", "tir"]
Language = Literal["en", "zh"]

#: The three solution formats of the SFT data (§3.3): chain-of-thought, program-of-thought, tool-integrated.
FORMATS: tuple[str, ...] = ("cot", "pot", "tir")

COT_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
COT_INSTRUCTION_ZH = "请通过逐步推理来解答问题，并把最终答案放置于\\boxed{}中。"
TIR_INSTRUCTION = (
    "Please integrate natural language reasoning with programs to solve the problem above, "
    "and put your final answer within \\boxed{}."
)
TIR_INSTRUCTION_ZH = "请结合自然语言和Python程序语言来解答问题，并把最终答案放置于\\boxed{}中。"
# Assumption (not published by the paper): a zero-shot program-of-thought instruction in the same style.
POT_INSTRUCTION = (
    "Please write a Python program to solve the problem above. The program should print the final answer."
)
POT_INSTRUCTION_ZH = "请编写一个Python程序来解答上述问题，程序应打印出最终答案。"

#: Instruction appended to a question, by format and language.
INSTRUCTIONS: dict[tuple[str, str], str] = {
    ("cot", "en"): COT_INSTRUCTION,
    ("cot", "zh"): COT_INSTRUCTION_ZH,
    ("pot", "en"): POT_INSTRUCTION,
    ("pot", "zh"): POT_INSTRUCTION_ZH,
    ("tir", "en"): TIR_INSTRUCTION,
    ("tir", "zh"): TIR_INSTRUCTION_ZH,
}

#: Fences of a program block and of the tool's output block in PoT and TIR solutions, defined here once. The output
#: fence is also the TIR stop string (the model asks for execution by opening an output block:
#: :data:`trl_dsm.sandbox.tir.TIR_OUTPUT_STOP`); the block the executor appends is
#: :func:`trl_dsm.sandbox.tir.format_output`'s.
CODE_FENCE = "```python"
OUTPUT_FENCE = "```output"
FENCE_END = "```"

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def detect_language(text: str) -> str:
    """``"zh"`` if ``text`` contains a CJK ideograph, else ``"en"`` (picks the instruction language)."""
    return "zh" if _CJK.search(text) else "en"


def instruction(fmt: str = "cot", language: str | None = None, question: str = "") -> str:
    """The instruction for format ``fmt`` in ``language`` (detected from ``question`` when ``None``)."""
    language = language or detect_language(question)
    try:
        return INSTRUCTIONS[(fmt, language)]
    except KeyError:
        raise ValueError(
            f"unknown prompt format/language {fmt!r}/{language!r}: formats are {FORMATS}, languages 'en' and 'zh'"
        ) from None


def format_question(question: str, fmt: str = "cot", language: str | None = None) -> str:
    """``"{question}\\n{instruction}"``: the user turn of DeepSeekMath's SFT, RL and evaluation prompts."""
    return f"{question.strip()}\n{instruction(fmt, language, question)}"


def code_block(code: str) -> str:
    """A program block as the PoT and TIR formats write it."""
    return f"{CODE_FENCE}\n{code.strip()}\n{FENCE_END}"


def tool_output_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of tool-produced text in a TIR solution: masked from the SFT loss like prompts.

    The model writes the ```` ```output ```` fence (it is the stop string that asks for execution); everything the
    executor inserts after it, the result and the closing fence with its newline, is a span. An output block left
    open runs to the end of the text.
    """
    spans = []
    start = 0
    while (fence := text.find(OUTPUT_FENCE, start)) != -1:
        begin = fence + len(OUTPUT_FENCE)
        close = text.find(FENCE_END, begin)
        if close == -1:
            spans.append((begin, len(text)))
            break
        end = close + len(FENCE_END)
        if text.startswith("\n", end):
            end += 1
        spans.append((begin, end))
        start = end
    return spans
