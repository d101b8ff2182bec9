# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Answer extraction and grading (the decision behind every reward, evaluation number and demo result)."""

from trl_dsm.grading.choices import choice_from_text, choice_letters
from trl_dsm.grading.compare import (
    DEFAULT_TIMEOUT,
    GradeResult,
    compare_answers,
    extract_gold,
    grade,
    grade_batch,
    is_equivalent,
    normalize_answer,
    options_from_math_verify,
    parse_choice,
    parse_number,
)
from trl_dsm.grading.extract import extract_answer, last_boxed, last_number


__all__ = [
    "DEFAULT_TIMEOUT",
    "GradeResult",
    "choice_from_text",
    "choice_letters",
    "compare_answers",
    "extract_answer",
    "extract_gold",
    "grade",
    "grade_batch",
    "is_equivalent",
    "last_boxed",
    "last_number",
    "normalize_answer",
    "options_from_math_verify",
    "parse_choice",
    "parse_number",
]
