# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Evaluation prompts (DeepSeekMath §5.1/§5.2): zero- and few-shot, English and Chinese, for chain-of-thought (CoT),
program-of-thought (PoT) and tool-integrated reasoning (TIR).

The instruction strings come from :mod:`trl_dsm.prompts` (one place for SFT, RL and evaluation). Chat models get
the exemplars as earlier user/assistant turns of their chat template; base models a plain text prompt,
``Question: ...\\nAnswer: ...`` blocks (``问题：`` / ``解答：`` in Chinese), and generation stops at the next
``Question:``.

Few-shot CoT exemplars are drawn from the benchmark's train split (its worked solutions, GSM8K's ``<<...>>``
calculator annotations removed and its ``#### N`` turned into a boxed answer), or from the hand-written exemplars
below where a benchmark has no worked solutions (CMATH, MGSM-zh). PoT and TIR exemplars are always the hand-written
ones: no benchmark ships programs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from trl_dsm.eval.benchmarks import EvalItem
from trl_dsm.prompts import FENCE_END, OUTPUT_FENCE, code_block, format_question


#: Added after the question of multiple-choice benchmarks.
CHOICE_HINT = {"en": "Answer with the letter of the correct option.", "zh": "请给出正确选项的字母。"}
#: Added after the question of fill-in-the-blank benchmarks (Gaokao MathCloze): several blanks, one answer each.
CLOZE_HINT = {"en": "If there are several blanks, give their answers in order, separated by commas.",
              "zh": "如有多个空，请按顺序给出各空的答案，用逗号分隔。"}  # fmt: skip
#: Headers of the plain (no chat template) prompt format.
PLAIN_HEADERS = {"en": ("Question: ", "Answer:"), "zh": ("问题：", "解答：")}


@dataclass(frozen=True)
class Exemplar:
    """One few-shot example (§5: few-shot chain-of-thought, program-of-thought and tool-integrated prompts):
    the ``question``, its ``solution`` in the mode's format, and the final ``answer`` it reaches (tests check it)."""

    question: str
    solution: str  # in the format of the mode: reasoning, a program, or reasoning with programs and outputs
    answer: str | None = None  # the final answer the solution reaches (checked by the tests)


def _out(output: str) -> str:
    return f"{OUTPUT_FENCE}\n{output.strip()}\n{FENCE_END}"


# -- hand-written exemplars (ours) ------------------------------------------------------------------------------
BUILTIN_EXEMPLARS: dict[tuple[str, str], tuple[Exemplar, ...]] = {
    ("cot", "en"): (
        Exemplar(
            "A baker makes 48 muffins and sells them in boxes of 6. Each box costs $5. How much money does the "
            "baker earn if every box is sold?",
            "The baker fills 48 / 6 = 8 boxes. Each box costs $5, so the baker earns 8 * 5 = 40 dollars.\n"
            "The answer is $\\boxed{40}$.",
            answer="40",
        ),
        Exemplar(
            "What is the value of $x$ if $3x - 7 = 11$?",
            "Adding 7 to both sides gives $3x = 18$, and dividing by 3 gives $x = 6$.\nThe answer is $\\boxed{6}$.",
            answer="6",
        ),
        Exemplar(
            "Tom reads 12 pages on Monday and twice as many on Tuesday. How many pages does he read in total?",
            "On Tuesday Tom reads 2 * 12 = 24 pages. In total he reads 12 + 24 = 36 pages.\n"
            "The answer is $\\boxed{36}$.",
            answer="36",
        ),
    ),
    ("cot", "zh"): (
        Exemplar(
            "小明有 15 支铅笔，送给同学 6 支，又买了 8 支。小明现在有多少支铅笔？",
            "送出 6 支后，小明还有 15 - 6 = 9 支。又买了 8 支，所以现在有 9 + 8 = 17 支。\n答案是 $\\boxed{17}$。",
            answer="17",
        ),
        Exemplar(
            "一本书有 120 页，小红第一天看了全书的 $\\frac{1}{4}$，第二天看了 35 页。还剩多少页没有看？",
            "第一天看了 120 × $\\frac{1}{4}$ = 30 页。两天共看了 30 + 35 = 65 页，还剩 120 - 65 = 55 页。\n"
            "答案是 $\\boxed{55}$。",
            answer="55",
        ),
        Exemplar(
            "每箱苹果重 25 千克，4 箱苹果一共卖了 300 元。每千克苹果卖多少元？",
            "4 箱苹果共重 25 × 4 = 100 千克。每千克卖 300 ÷ 100 = 3 元。\n答案是 $\\boxed{3}$。",
            answer="3",
        ),
        Exemplar(
            "一个长方形的长是 9 厘米，宽比长短 4 厘米。这个长方形的周长是多少厘米？",
            "宽是 9 - 4 = 5 厘米。周长是 (9 + 5) × 2 = 28 厘米。\n答案是 $\\boxed{28}$。",
            answer="28",
        ),
    ),
    ("pot", "en"): (
        Exemplar(
            "A baker makes 48 muffins and sells them in boxes of 6. Each box costs $5. How much money does the "
            "baker earn if every box is sold?",
            code_block("muffins = 48\nper_box = 6\nprice = 5\nboxes = muffins // per_box\nprint(boxes * price)"),
            answer="40",
        ),
        Exemplar(
            "What is the value of $x$ if $3x - 7 = 11$?",
            code_block("from sympy import symbols, solve\n\nx = symbols('x')\nprint(solve(3 * x - 7 - 11, x)[0])"),
            answer="6",
        ),
        Exemplar(
            "What is the sum of all positive divisors of 36?",
            code_block("print(sum(d for d in range(1, 37) if 36 % d == 0))"),
            answer="91",
        ),
    ),
    ("pot", "zh"): (
        Exemplar(
            "小明有 15 支铅笔，送给同学 6 支，又买了 8 支。小明现在有多少支铅笔？",
            code_block("pencils = 15\npencils -= 6\npencils += 8\nprint(pencils)"),
            answer="17",
        ),
        Exemplar(
            "每箱苹果重 25 千克，4 箱苹果一共卖了 300 元。每千克苹果卖多少元？",
            code_block("weight = 25 * 4\nprint(300 // weight)"),
            answer="3",
        ),
    ),
    ("tir", "en"): (
        Exemplar(
            "What is the sum of all positive divisors of 36?",
            "I will list the divisors of 36 with a program and add them.\n"
            + code_block("divisors = [d for d in range(1, 37) if 36 % d == 0]\nprint(divisors, sum(divisors))")
            + "\n"
            + _out("[1, 2, 3, 4, 6, 9, 12, 18, 36] 91")
            + "\nThe divisors of 36 add up to 91, so the answer is $\\boxed{91}$.",
            answer="91",
        ),
        Exemplar(
            "What is the value of $x$ if $3x - 7 = 11$?",
            "Let me solve the linear equation with SymPy.\n"
            + code_block("from sympy import symbols, solve\n\nx = symbols('x')\nprint(solve(3 * x - 7 - 11, x))")
            + "\n"
            + _out("[6]")
            + "\nThe equation has the single solution $x = 6$. The answer is $\\boxed{6}$.",
            answer="6",
        ),
    ),
    ("tir", "zh"): (
        Exemplar(
            "每箱苹果重 25 千克，4 箱苹果一共卖了 300 元。每千克苹果卖多少元？",
            "先算出苹果的总重量，再用总价除以总重量。\n"
            + code_block("weight = 25 * 4\nprint(weight, 300 / weight)")
            + "\n"
            + _out("100 3.0")
            + "\n4 箱苹果共重 100 千克，每千克卖 3 元。答案是 $\\boxed{3}$。",
            answer="3",
        ),
        Exemplar(
            "36 的所有正因数之和是多少？",
            "用程序列出 36 的正因数并求和。\n"
            + code_block("divisors = [d for d in range(1, 37) if 36 % d == 0]\nprint(sum(divisors))")
            + "\n"
            + _out("91")
            + "\n36 的所有正因数之和是 91。答案是 $\\boxed{91}$。",
            answer="91",
        ),
    ),
}


def builtin_exemplars(mode: str, language: str, k: int) -> list[Exemplar]:
    """The first ``k`` hand-written exemplars of ``mode`` in ``language`` (fewer if fewer exist)."""
    return list(BUILTIN_EXEMPLARS.get((mode, language), ()))[: max(k, 0)]


_CALCULATOR_RE = re.compile(r"<<[^<>]*>>")
_GSM8K_FINAL_RE = re.compile(r"\n?####\s*(.+?)\s*$", re.DOTALL)


def cot_solution(item: EvalItem) -> str:
    """A worked CoT solution for an exemplar: the item's solution with its answer boxed, or just the boxed answer."""
    answer_line = (
        f"答案是 $\\boxed{{{item.gold}}}$。" if item.language == "zh" else f"The answer is $\\boxed{{{item.gold}}}$."
    )
    if not item.solution:
        return answer_line
    text = _CALCULATOR_RE.sub("", item.solution).strip()
    final = _GSM8K_FINAL_RE.search(text)
    if final:
        text = text[: final.start()].rstrip()
    elif "\\boxed" in text:
        return text
    return f"{text}\n{answer_line}"


def question_text(item: EvalItem, answer_type: str | None = None) -> str:
    """The question with the answer-format hint of its benchmark type (choice letters, cloze blanks)."""
    hint = {"choice": CHOICE_HINT, "cloze": CLOZE_HINT}.get(answer_type or "")
    question = item.question.strip()
    return f"{question}\n{hint[item.language]}" if hint else question


def build_messages(
    item: EvalItem, mode: str, exemplars: list[Exemplar] | None = None, answer_type: str | None = None
) -> list[dict]:
    """Chat messages: each exemplar as a user/assistant pair, then the question with the mode's instruction."""
    if item.prompt is not None:  # a ready-made prompt
        if isinstance(item.prompt, str):
            return [{"role": "user", "content": item.prompt}]
        return [dict(m) for m in item.prompt]
    messages = []
    for exemplar in exemplars or []:
        messages.append({"role": "user", "content": format_question(exemplar.question, mode, item.language)})
        messages.append({"role": "assistant", "content": exemplar.solution})
    messages.append(
        {"role": "user", "content": format_question(question_text(item, answer_type), mode, item.language)}
    )
    return messages


def render_plain(messages: list[dict], language: str = "en") -> str:
    """Base-model prompt text: ``Question: ...\\nAnswer: ...`` blocks separated by blank lines, ending at the last
    ``Answer:``. A system message, if any, goes first on its own."""
    question_head, answer_head = PLAIN_HEADERS[language]
    parts, current = [], ""
    for message in messages:
        role, content = message.get("role"), str(message.get("content", "")).strip()
        if role == "system":
            parts.append(content)
        elif role == "user":
            current = f"{question_head}{content}\n{answer_head}"
        elif role == "assistant":
            parts.append(f"{current} {content}")
            current = ""
    if current:
        parts.append(current)
    return "\n\n".join(parts)


def plain_stop_strings(language: str = "en") -> list[str]:
    """Where a base model's answer ends: the start of the next question block."""
    question_head = PLAIN_HEADERS[language][0].strip()
    return [f"\n\n{question_head}", f"\n{question_head}"]


def render_prompt(messages: list[dict], tokenizer=None, chat: bool = False, language: str = "en") -> str:
    """The prompt string: the tokenizer's chat template (``add_generation_prompt=True``) or :func:`render_plain`."""
    if chat:
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ValueError("chat prompts need a tokenizer with a chat template (use chat_template=False)")
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return render_plain(messages, language)
