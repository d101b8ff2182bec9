# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Issue #18's equivalence classes, on examples written for these tests (no rows of any labelled file):
trailing letters that are units vs variables, subscripted symbols (constant letters included), matrices in every
environment and bracket style with scalar factors. The pure rewrites of :mod:`trl_dsm.grading.canonical` are
tested on exact outputs, the grader on exact decisions."""

from __future__ import annotations

import pytest

from trl_dsm.grading import compare_answers, is_equivalent
from trl_dsm.grading.canonical import (
    UNIT_SYMBOLS,
    canonical_matrices,
    canonical_subscripts,
    strip_trailing_unit,
    symbolic_pair,
    variable_letters,
)


def _decide(pairs: list[tuple[str, str, bool]]) -> list[tuple[str, str, bool]]:
    """The pairs the grader decides differently from the expectation (one batch: fast)."""
    results = compare_answers([p for p, _, _ in pairs], [g for _, g, _ in pairs])
    for result in results:
        assert result.status in {"ok", "error"}, result  # never a timeout on these
    return [(p, g, want) for (p, g, want), r in zip(pairs, results) if r.correct is not want]


# ----------------------------------------------------------------------------------------------------
# (1) a letter after a fraction or a number: unit or variable
# ----------------------------------------------------------------------------------------------------
UNIT_OR_VARIABLE = [
    # the letter multiplies a term that has variables of its own
    (r"\frac{3}{m}t", r"\frac{3t}{m}", True),
    (r"\frac{5}{q}s", r"\frac{5s}{q}", True),
    (r"\frac{3}{m}t", r"\frac{3}{m}", False),
    (r"\frac{a}{b}c", r"\frac{ac}{b}", True),
    (r"\frac{p}{4}h", r"\frac{ph}{4}", True),
    # a constant term, but the other answer uses the letter as a variable
    (r"\frac{5}{6}s", r"\frac{5s}{6}", True),
    (r"\frac{2}{9}t", r"\frac{2t}{9}", True),
    (r"\frac{7}{4}m", r"1.75m", True),
    (r"\frac{1}{3}g", r"\frac{g}{3}", True),
    (r"\frac{9}{2} s", r"4.5s", True),
    (r"3\sqrt{5}\,t", r"\sqrt{45}t", True),
    # a constant term and a unit the other answer does not use: dropped
    (r"\frac{\sqrt{3}}{4} m", r"\frac{\sqrt{3}}{4}", True),
    (r"\frac{7\pi}{3}\text{ cm}^2", r"\frac{7\pi}{3}", True),
    (r"5\sqrt{2}\ \mathrm{km}", r"\sqrt{50}", True),
    (r"\frac{\pi}{6}\,\mathrm{rad}", r"\frac{\pi}{6}", True),
    (r"2\sqrt{7} \text{ units}", r"\sqrt{28}", True),
    (r"4\sqrt{3} inches", r"\sqrt{48}", True),
    (r"\frac{11}{3}\ \text{hours}", r"\frac{11}{3}", True),
    # a word unit after a term with variables is still a unit
    (r"(3y+1)\text{ cm}", r"3y+1", True),
    (r"(5n-2) cm", r"5n-2", True),
    # not units: letter runs that are no unit, upright constants, operators before the letter
    (r"\frac{1}{4}ab", r"\frac{1}{4}", False),
    (r"\frac{1}{4}ab", r"\frac{ab}{4}", True),
    (r"\frac{5}{7}c", r"\frac{5}{7}", False),
    (r"3-\mathrm{e}", r"3+\mathrm{e}", False),
    (r"\frac{2}{\mathrm{e}}", r"\frac{2}{e}", True),
    (r"\frac{3}{8}\cdot t", r"\frac{3t}{8}", True),
    (r"\frac{3}{8}\cdot t", r"\frac{3}{8}", False),
]


def test_unit_or_variable_after_a_fraction():
    assert _decide(UNIT_OR_VARIABLE) == []


@pytest.mark.parametrize(
    ("answer", "other", "expected"),
    [
        (r"\frac{3}{m}t", r"\frac{3t}{m}", r"\frac{3}{m}t"),
        (r"\frac{5}{6}s", r"\frac{5s}{6}", r"\frac{5}{6}s"),
        (r"\frac{5}{6}s", "1", r"\frac{5}{6}"),
        (r"\frac{5}{6}\,s", "1", r"\frac{5}{6}"),
        (r"12\sqrt{2}\text{ m}^{2}", "1", r"12\sqrt{2}"),
        (r"12\sqrt{2}\mathrm{m}^2", "1", r"12\sqrt{2}"),
        (r"2\pi \text{ square units}", "1", r"2\pi"),
        (r"(y+2) km", "y", "(y+2)"),
        (r"6\sqrt{3} m/s", "1", r"6\sqrt{3}"),
        (r"x = 4\sqrt{2} s", "x", r"x = 4\sqrt{2}"),
        (r"x = 4\sqrt{2} s", "s", r"x = 4\sqrt{2} s"),
        (r"\frac{1}{4}ab", "1", r"\frac{1}{4}ab"),
        (r"1+\mathrm{e}", "1", r"1+\mathrm{e}"),
        (r"2\cdot s", "1", r"2\cdot s"),
        (r"\text{m}", "1", r"\text{m}"),
        ("s", "1", "s"),
        (r"3 \log", "1", r"3 \log"),
        (r"5\text{ 2 cm}", "1", r"5\text{ 2 cm}"),
        (r"7\ \mathrm{kg}", "1", "7"),
        (r"7\\ \mathrm{kg}", "1", r"7\\ \mathrm{kg}"),
    ],
)
def test_strip_trailing_unit(answer, other, expected):
    assert strip_trailing_unit(answer, other) == expected


def test_unit_symbols_are_the_numeric_paths():
    from trl_dsm.grading.compare import _KNOWN_UNITS

    known = set(_KNOWN_UNITS.split("|"))
    assert {u for u in known if "/" not in u} == UNIT_SYMBOLS
    assert all(part in UNIT_SYMBOLS for u in known if "/" in u for part in u.split("/"))


def test_variable_letters():
    assert variable_letters(r"\frac{x_{n}}{2}+\sqrt{y}\,\text{ cm}\cdot\pi") == {"x", "n", "y"}
    assert variable_letters(r"\begin{pmatrix}a\\b\end{pmatrix}") == {"a", "b"}
    assert variable_letters(r"\operatorname{lcm}(4,6)") == set()


# ----------------------------------------------------------------------------------------------------
# (2) subscripted symbols, with and without braces, constant letters included
# ----------------------------------------------------------------------------------------------------
SUBSCRIPTS = [
    (r"E_{3}+2E_{1}", r"2E_1 + E_3", True),
    (r"E_{3}-E_{1}", r"E_1 - E_3", False),
    (r"E_4", r"E_{5}", False),
    (r"e_{2}-e_{1}", r"-e_1+e_2", True),
    (r"3e_{1}", r"3e", False),
    (r"e_{1}e_{2}", r"e_2 e_1", True),
    (r"I_{1}+I_{2}", r"I_2+I_1", True),
    (r"I_{0}", r"i", False),
    (r"I_1", r"I_2", False),
    (r"i_{3}", r"i_3", True),
    (r"2i_{3}", r"2i", False),
    (r"\pi_{2}", r"\pi_2", True),
    (r"\pi_{1}", r"\pi", False),
    (r"\alpha_{1}+\alpha_{2}", r"\alpha_2+\alpha_1", True),
    (r"x_{n+1}-x_{n}", r"-x_n+x_{n+1}", True),
    (r"x_{n+1}", r"x_{n-1}", False),
    (r"E_{k}^{2}", r"E_k^2", True),
    (r"\frac{E_{2}}{E_{1}}", r"E_2/E_1", True),
    (r"a_{1}+a_{2}+a_{3}", r"a_3+a_2+a_1", True),
]


def test_subscripted_symbols():
    assert _decide(SUBSCRIPTS) == []


def test_canonical_subscripts():
    assert canonical_subscripts("E_{2}-E_{1}", "E_2 - E_1") == (
        r"\variable{E_{2}}-\variable{E_{1}}",
        r"\variable{E_{2}} - \variable{E_{1}}",
    )
    assert canonical_subscripts(r"\pi_{ 1 }", r"\pi_1") == (r"\variable{\pi_{1}}", r"\variable{\pi_{1}}")
    # subscripts that are expressions get a fresh tag, the same on both sides, distinct from every other name
    pred, gold = canonical_subscripts("x_{n+1}+x_{n}", "x_{n + 1}+x_{s1x}")
    assert pred == r"\variable{x_{s2x}}+\variable{x_{n}}"
    assert gold == r"\variable{x_{s2x}}+\variable{x_{s1x}}"
    # commands with subscripts are no symbols; nothing to do without underscores
    assert canonical_subscripts(r"\log_2 8+\sum_{k=1}^n k", "3") == (r"\log_2 8+\sum_{k=1}^n k", "3")
    assert canonical_subscripts("x+1", "1+x") == ("x+1", "1+x")
    # without braces a subscript is one character, as TeX reads it: x_12 is x_{1} times 2
    assert canonical_subscripts("x_12", "x_{12}") == (r"\variable{x_{1}}2", r"\variable{x_{12}}")


# ----------------------------------------------------------------------------------------------------
# (3) matrices: every environment and bracket style, scalar factors, line breaks
# ----------------------------------------------------------------------------------------------------
M = r"\begin{pmatrix}2&0\\1&5\end{pmatrix}"
MATRICES = [
    (
        "\\frac{1}{3}\\left[\\begin{array}{cc} 2 & 0 \\\\\n 1 & 5 \\end{array}\\right]",
        r"\begin{pmatrix}2/3&0\\1/3&5/3\end{pmatrix}",
        True,
    ),
    (
        r"\frac{1}{3}[\begin{pmatrix}2&0\\1&5\end{pmatrix}]",
        "\\frac{1}{3} \\left[\\begin{array}{cc}\n2 & 0\\\\\n1 & 5\n\\end{array}\\right]",
        True,
    ),
    (r"\frac{1}{3}\begin{bmatrix}2&0\\1&5\end{bmatrix}", r"\frac{1}{3}" + M, True),
    (r"3\begin{Bmatrix}2&0\\1&5\end{Bmatrix}", r"\begin{pmatrix}6&0\\3&15\end{pmatrix}", True),
    (r"2\left(\begin{matrix}2&0\\1&5\end{matrix}\right)", r"\begin{bmatrix}4&0\\2&10\end{bmatrix}", True),
    (r"\begin{smallmatrix}2&0\\1&5\end{smallmatrix}", M, True),
    (r"\begin{bmatrix*}[r]2&0\\1&5\end{bmatrix*}", M, True),
    (r"\left[\begin{array}{c|c}2&0\\\hline 1&5\end{array}\right]", M, True),
    (r"\begin{pmatrix}2&0\\[4pt]1&5\\\end{pmatrix}", M, True),
    (r"-\left[\begin{array}{rr}2&0\\1&5\end{array}\right]", r"\begin{pmatrix}-2&0\\-1&-5\end{pmatrix}", True),
    (r"\frac{1}{2}\begin{pmatrix}2&0\\1&5\end{pmatrix}", r"\begin{pmatrix}1&0\\0.5&2.5\end{pmatrix}", True),
    (r"\left[\begin{array}{c}4\\-1\end{array}\right]", r"\begin{pmatrix}4\\-1\end{pmatrix}", True),
    # determinants are numbers, not matrices
    (r"\left|\begin{array}{cc}2&0\\1&5\end{array}\right|", "10", True),
    (r"\begin{vmatrix}2&0\\1&5\end{vmatrix}", M, False),
    # different matrices stay different
    (r"\frac{1}{3}\left[\begin{array}{cc}2&0\\1&5\end{array}\right]", M, False),
    (r"\begin{bmatrix}2&0\\1&5\end{bmatrix}", r"\begin{pmatrix}2&0\\5&1\end{pmatrix}", False),
    (r"\begin{bmatrix}2&0\\1&5\end{bmatrix}", r"\begin{pmatrix}2&1\\0&5\end{pmatrix}", False),
]


def test_matrices():
    assert _decide(MATRICES) == []


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("\\left[\\begin{array}{cc} 1 & 2 \\\\\n 3 & 4 \\end{array}\\right]", r"\begin{pmatrix}1&2\\3&4\end{pmatrix}"),
        (r"[\begin{pmatrix}1\\2\end{pmatrix}]", r"\begin{pmatrix}1\\2\end{pmatrix}"),
        (r"\bigl(\begin{matrix}1&2\end{matrix}\bigr)", r"\begin{pmatrix}1&2\end{pmatrix}"),
        (r"\begin{Bmatrix*}[l]a\\b\\\end{Bmatrix*}", r"\begin{pmatrix}a\\b\end{pmatrix}"),
        (r"|\begin{matrix}1&2\\3&4\end{matrix}|", r"\begin{vmatrix}1&2\\3&4\end{vmatrix}"),
        (r"2\begin{array}{@{}cc@{}}1&2\\\hline 3&4\end{array}", r"2\begin{pmatrix}1&2\\3&4\end{pmatrix}"),
        # a bracket that is not the matrix's own is kept: a tuple holding a matrix
        (r"(\begin{pmatrix}1\end{pmatrix}, 3)", r"(\begin{pmatrix}1\end{pmatrix}, 3)"),
        # norms, unclosed and empty environments are left as written
        (r"\begin{Vmatrix}1&2\end{Vmatrix}", r"\begin{Vmatrix}1&2\end{Vmatrix}"),
        (r"\begin{pmatrix}1&2", r"\begin{pmatrix}1&2"),
        (r"\begin{pmatrix}\end{pmatrix}", r"\begin{pmatrix}\end{pmatrix}"),
    ],
)
def test_canonical_matrices(answer, expected):
    assert canonical_matrices(answer) == expected


def test_symbolic_pair_joins_line_breaks():
    assert symbolic_pair("1 +\n x", "x\t+ 1") == ("1 + x", "x + 1")


def test_issue_examples():
    """The three examples quoted in issue #18."""
    assert is_equivalent(r"\frac{2}{k}s", r"\frac{2s}{k}")
    assert is_equivalent(r"E_{2}-E_{1}", r"E_2 - E_1") and is_equivalent(r"e_{1}+e_{2}", r"e_1+e_2")
    assert is_equivalent(
        r"\frac{1}{7}[\begin{pmatrix}1&2\\3&4\end{pmatrix}]",
        "\\frac{1}{7} \\left[\\begin{array}{cc} 1 & 2 \\\\\n 3 & 4 \\end{array}\\right]",
    )
