# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The SymPy half of the grader: math-verify's LaTeX→SymPy parsing and comparison.

This module runs inside the worker processes of :mod:`trl_dsm.grading.bounded` (never call it on an
untrusted pair in your own process: it has no time bound of its own). It receives two answer strings
that the in-process fast paths of :mod:`trl_dsm.grading.compare` could not decide, already canonicalized by
:func:`trl_dsm.grading.canonical.symbolic_pair`.
"""

from __future__ import annotations

from functools import lru_cache

from latex2sympy2_extended import NormalizationConfig
from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify


# math-verify's defaults, except units: trailing units are dropped by trl_dsm.grading.canonical, which tells a unit
# from a variable (math-verify drops "s", "t", "c", "ab"... after any digit, brace or space).
_NORMALIZATION = NormalizationConfig(
    basic_latex=True, units=False, malformed_operators=True, nits=True, boxed="all", equations=False
)
_EXTRACTION = (LatexExtractionConfig(normalization_config=_NORMALIZATION), ExprExtractionConfig())


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
