# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Multiple-choice answers (DeepSeekMath §5: SAT, MMLU-STEM, AGIEval's Gaokao MathQA): the option letters of an
extracted answer, and the letter a solution states in words. Part of the one grader, beside the extractor."""

from __future__ import annotations

import re


_TEXT_WRAPPER_RE = re.compile(r"\\(?:text|textbf|mathrm|mathbf)\s*\{([^{}]*)\}")
_LETTERS_RE = re.compile(r"[\s(]*([A-J])[\s).]*(?:(?:,|，|、|;|and|和|与|\s)+[\s(]*([A-J])[\s).]*)*")


def choice_letters(answer: str | None) -> str | None:
    """A multiple-choice answer as its option letters (``"(B)"`` -> ``"B"``, ``"A, D"`` -> ``"AD"``); other answers
    unchanged (the grader still reads ``"(B) 12"``)."""
    if answer is None:
        return None
    text = _TEXT_WRAPPER_RE.sub(r"\1", answer).strip().strip("$")
    if _LETTERS_RE.fullmatch(text):
        return "".join(sorted(set(re.findall(r"[A-J]", text))))
    return answer


_LETTER = r"\$?\s*(?:\\(?:mathbf|text|textbf|mathrm)\s*\{)?\s*\(?([A-J])\)?\s*\}?\s*\$?"
_CHOICE_STATEMENT_RE = re.compile(
    rf"\b(?:choice|option)\s*{_LETTER}\s*is\s+(?:the\s+)?(?:correct|right|best)"  # "Choice $\mathbf{B}$ is correct"
    rf"|\banswer\s+is\s*:?\s*(?:option\s*|choice\s*)?{_LETTER}(?![\w])"  # "the answer is (C)"
    rf"|(?:答案(?:是|为|：|:)|故选|应选|选)\s*{_LETTER}",  # "答案是 C", "故选 B"
    re.IGNORECASE,
)


def choice_from_text(text: str) -> str | None:
    """The option letter a multiple-choice solution states in words ("Choice $\\mathbf{B}$ is correct", "答案是 C"):
    the last such statement, or None."""
    letters = [next(g for g in m.groups() if g).upper() for m in _CHOICE_STATEMENT_RE.finditer(text)]
    return letters[-1] if letters else None
