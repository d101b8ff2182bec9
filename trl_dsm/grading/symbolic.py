# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The SymPy half of the grader: math-verify's LaTeX→SymPy parsing and comparison.

This module runs inside the worker processes of :mod:`trl_dsm.grading.bounded` (never call it on an
untrusted pair in your own process: it has no time bound of its own). It receives two answer strings
that the in-process fast paths of :mod:`trl_dsm.grading.compare` could not decide.
"""

from __future__ import annotations

from functools import lru_cache

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify


_EXTRACTION = (LatexExtractionConfig(), ExprExtractionConfig())


@lru_cache(maxsize=4096)
def _parse(answer: str) -> tuple:
    """Parse one answer string; math delimiters are added so math-verify's LaTeX extractor sees math."""
    text = answer if "$" in answer or "\\(" in answer or "\\[" in answer else f"${answer}$"
    parsed = parse(text, extraction_config=_EXTRACTION, parsing_timeout=None)
    if not parsed and text != answer:
        parsed = parse(answer, extraction_config=_EXTRACTION, parsing_timeout=None)
    return tuple(parsed)


def symbolic_equal(
    pred: str,
    gold: str,
    float_rounding: int = 6,
    strict: bool = True,
    allow_set_relation_comp: bool = False,
) -> bool:
    """True when math-verify shows ``pred`` equal to ``gold`` (asymmetric: ``gold`` is the reference)."""
    gold_parsed = _parse(gold)
    pred_parsed = _parse(pred)
    if not gold_parsed or not pred_parsed:
        return False
    return verify(
        list(gold_parsed),
        list(pred_parsed),
        float_rounding=float_rounding,
        strict=strict,
        allow_set_relation_comp=allow_set_relation_comp,
        timeout_seconds=None,
    )
