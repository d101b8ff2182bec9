# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Exact expectations for answer equivalence (:func:`is_equivalent`, :func:`parse_number`) and for
:func:`grade` / :func:`grade_batch` (extraction + comparison + :class:`GradeResult`)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from trl_dsm.grading import (
    GradeResult,
    compare_answers,
    extract_gold,
    grade,
    grade_batch,
    is_equivalent,
    normalize_answer,
    parse_choice,
    parse_number,
)


FAST_METHODS = {"string", "choice", "numeric"}


# ----------------------------------------------------------------------------------------------------
# Numbers (in-process fast path)
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        # thousands separators
        ("1,000", "1000", True),
        ("1000", "1,000", True),
        ("1,000,000", "1000000", True),
        ("1{,}000", "1000", True),
        (r"1\!000", "1000", True),
        (r"1,\!000", "1000", True),
        (r"1\,000", "1000", True),
        ("1 000", "1000", True),
        ("1\u2009000", "1000", True),
        ("1,000", "1", False),
        ("1,234", "1.234", False),  # thousands, not a decimal comma
        # decimal comma
        ("1,22", "1.22", True),
        ("1,22", "122", False),
        ("0,5", "0.5", True),
        ("12,5", "12.5", True),
        ("0,111", "0.111", True),
        # currency
        ("$18", "18", True),
        (r"\$18", "18", True),
        ("$18.00", "18", True),
        ("18.5", "$18.50", True),
        (r"\$1,000", "1000", True),
        ("€5", "5", True),
        ("-$5", "-5", True),
        ("18 dollars", "18", True),
        ("$18", "19", False),
        # units
        ("5 apples", "5", True),
        ("5 apples", "6", False),
        (r"15\text{ cm}^2", "15", True),
        ("5cm", "5", True),
        ("5 m", "5", True),
        # percent
        (r"28\%", "28", True),
        (r"28\%", "0.28", True),
        ("28%", "0.28", True),
        ("0.28", r"28\%", True),
        ("28", r"28\%", True),
        ("28 percent", "28", True),
        (r"50\%", r"\frac12", True),
        (r"\frac{1}{2}", r"50\%", True),
        ("28", "0.28", False),  # without a percent sign these differ
        ("0.28", "28", False),
        (r"28\%", "2800", False),
        # degrees
        (r"90^\circ", "90", True),
        (r"90^{\circ}", "90", True),
        ("90°", "90", True),
        ("90 degrees", "90", True),
        (r"90^\circ", "91", False),
        # scientific notation
        (r"1.5\times10^{3}", "1500", True),
        (r"1.5 \times 10^3", "1500", True),
        ("1e3", "1000", True),
        ("1.5e3", "1500", True),
        ("1e-3", "0.001", True),
        (r"2\times10^{-3}", "0.002", True),
        (r"1.5\times10^{3}", "1501", False),
        # fractions and decimals
        (r"\frac{1}{2}", "0.5", True),
        ("0.5", r"\frac{1}{2}", True),
        ("1/2", "0.5", True),
        (r"\frac{2}{4}", "0.5", True),
        (r"-\frac{1}{2}", "-0.5", True),
        (r"\frac{-1}{2}", "-0.5", True),
        (r"\frac{1}{2}", r"\frac{2}{4}", True),
        ("3.5", r"\frac{7}{2}", True),
        ("0.33", r"\frac{1}{3}", False),
        ("0.333333", r"\frac13", True),
        (r"\frac13", "0.333333", True),
        ("0.3333333", r"\frac13", True),
        ("0.33333", r"\frac13", False),
        ("1/3", "0.333333", True),
        # plain numbers
        ("72", "72.0", True),
        ("1.0", "1", True),
        ("1", "1.0000001", True),  # equal after rounding to 6 places
        ("1", "1.000001", False),
        ("-0", "0", True),
        ("007", "7", True),
        (".5", "0.5", True),
        ("5.", "5", True),
        ("+5", "5", True),
        ("−5", "-5", True),  # unicode minus
        ("-5", "5", False),
        ("", "1", False),
        ("1", "", False),
    ],
)
def test_numbers(pred, gold, expected):
    assert is_equivalent(pred, gold) is expected


@pytest.mark.parametrize(
    ("pred", "gold"),
    [("1,000", "1000"), ("$18", "18"), (r"15\text{ cm}^2", "15"), (r"28\%", "0.28"), ("0.33", r"\frac{1}{3}")],
)
def test_numbers_are_decided_in_process(pred, gold):
    (result,) = compare_answers([pred], [gold])
    assert result.method in FAST_METHODS
    assert result.status == "ok"


@pytest.mark.parametrize(("pred", "gold"), [("2k", "2"), ("2k", "2000"), ("2x", "2"), (r"2\pi", "2")])
def test_number_with_a_non_unit_suffix_is_not_that_number(pred, gold):
    assert is_equivalent(pred, gold) is False


@pytest.mark.parametrize(
    ("pred", "gold", "rounding", "expected"),
    [
        ("0.33", r"\frac{1}{3}", 2, True),
        ("0.333", r"\frac{1}{3}", 2, True),
        ("0.34", r"\frac{1}{3}", 2, False),
        ("0.33", r"\frac{1}{3}", 6, False),
        ("3.14", r"3.14159", 2, True),
        ("3.14", r"3.14159", 3, False),
    ],
)
def test_float_rounding(pred, gold, rounding, expected):
    assert is_equivalent(pred, gold, float_rounding=rounding) is expected


@pytest.mark.parametrize(
    ("text", "value", "decimal", "percent"),
    [
        ("1,000", Fraction(1000), False, False),
        ("1{,}000", Fraction(1000), False, False),
        (r"1\!000", Fraction(1000), False, False),
        (r"1\,000", Fraction(1000), False, False),
        ("1 000", Fraction(1000), False, False),
        ("$1{,}000.50", Fraction(2001, 2), True, False),
        ("1,22", Fraction(122, 100), True, False),
        ("0,5", Fraction(1, 2), True, False),
        ("$18", Fraction(18), False, False),
        ("5 apples", Fraction(5), False, False),
        (r"15\text{ cm}^2", Fraction(15), False, False),
        (r"28\%", Fraction(28), False, True),
        (r"28 \%", Fraction(28), False, True),
        ("28 percent", Fraction(28), False, True),
        (r"90^\circ", Fraction(90), False, False),
        (r"1.5\times10^{3}", Fraction(1500), True, False),
        ("1e3", Fraction(1000), False, False),
        (r"\frac{1}{2}", Fraction(1, 2), False, False),
        (r"\frac13", Fraction(1, 3), False, False),
        (r"-\frac{3}{4}", Fraction(-3, 4), False, False),
        ("3/4", Fraction(3, 4), False, False),
        ("$-0.5$", Fraction(-1, 2), True, False),
    ],
)
def test_parse_number(text, value, decimal, percent):
    parsed = parse_number(text)
    assert parsed is not None
    assert (parsed.value, parsed.decimal, parsed.percent) == (value, decimal, percent)


@pytest.mark.parametrize(
    "text", ["2k", "x", "", "abc", r"\frac{1}{0}", "1/0", "1,2,3", "1, 2", "32, 349", "1e999", "x+1", "(1,2)"]
)
def test_parse_number_rejects_non_numbers(text):
    assert parse_number(text) is None


# ----------------------------------------------------------------------------------------------------
# Multiple choice and text
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("(B)", "B", True),
        ("B", "(B)", True),
        ("(B)", "C", False),
        ("B", "C", False),
        ("B.", "B", True),
        (r"\text{(B)}", "B", True),
        (r"\text{(B)}", "(B)", True),
        ("(b)", "B", True),
        ("(B) 12", "B", True),
        ("A", "(A)", True),
        ("(C)", "(D)", False),
    ],
)
def test_multiple_choice(pred, gold, expected):
    assert is_equivalent(pred, gold) is expected


@pytest.mark.parametrize(
    ("answer", "letter"),
    [("(B)", "B"), ("B.", "B"), (r"\text{(B)}", "B"), ("(B) 12", "B"), ("(b)", "B"), ("b", "b"), ("12", None)],
)
def test_parse_choice(answer, letter):
    assert parse_choice(answer) == letter


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        (r"\text{Evelyn}", "Evelyn", True),
        ("Evelyn", r"\text{Evelyn}", True),
        (r"\text{Evelyn}", r"\textbf{Evelyn}", True),
        ("Evelyn", "Bob", False),
        (r"\text{yes}", "yes", True),
    ],
)
def test_text_answers(pred, gold, expected):
    assert is_equivalent(pred, gold) is expected


def test_normalize_answer():
    assert normalize_answer(r"$\left( \dfrac{1}{2}, 3 \right)$.") == r"(\frac{1}{2},3)"
    assert normalize_answer(r"\text{\textbf{Evelyn}}") == "Evelyn"
    assert normalize_answer("$1$ and $2$") == "1,2"


# ----------------------------------------------------------------------------------------------------
# Symbolic (worker process)
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        # expressions
        (r"\frac{x+2}{7}", r"\frac{x}{7}+\frac{2}{7}", True),
        (r"\frac{x+2}{7}", r"\frac{x}{7}+\frac{3}{7}", False),
        (r"\sqrt{2}/2", r"\frac{\sqrt{2}}{2}", True),
        (r"2\sqrt{2}", r"\sqrt{8}", True),
        ("x^2+2x+1", "(x+1)^2", True),
        ("x^2", "x^3", False),
        (r"\dfrac{1}{2}", r"\frac12", True),
        (r"10^{3}", "1000", True),
        (r"\pi", "3.14159265", True),
        (r"\pi", "3.14", False),
        # intervals
        ("(1,2]", "(1,2)", False),
        ("(1,2]", "(1,2]", True),
        ("[1,2]", "[1, 2]", True),
        (r"x \in [1,2]", "[1,2]", True),
        # sets
        (r"\{1,2\}", r"\{2,1\}", True),
        (r"\{1,2\}", r"\{1,3\}", False),
        # tuples
        ("(1,2)", "(2,1)", False),
        ("(1,2)", "(1, 2)", True),
        # matrices
        (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", r"\begin{bmatrix}1&2\\3&4\end{bmatrix}", True),
        (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", r"\begin{bmatrix}1&2\\3&5\end{bmatrix}", False),
        # equations
        ("x=3", "3", True),
        ("x = 3", "3", True),
        ("y=4", "3", False),
        ("3", "x=3", True),
        (r"x\le 3", r"x \leq 3", True),
    ],
)
def test_symbolic(pred, gold, expected):
    (result,) = compare_answers([pred], [gold], timeout=10.0)
    assert result.status == "ok", result
    assert result.correct is expected


def test_is_equivalent_returns_a_bool():
    assert is_equivalent("x^2+2x+1", "(x+1)^2") is True
    assert is_equivalent("x^2", "x^3") is False


@pytest.mark.parametrize(("pred", "gold"), [(5, "5"), ("5", 5), (b"5", "5")])
def test_is_equivalent_rejects_non_strings(pred, gold):
    with pytest.raises(TypeError):
        is_equivalent(pred, gold)


def test_compare_answers_length_mismatch():
    with pytest.raises(ValueError):
        compare_answers(["1"], ["1", "2"])


# ----------------------------------------------------------------------------------------------------
# grade / grade_batch
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("gold", "expected_gold"),
    [
        ("72", "72"),
        ("  72 ", "72"),
        (r"$\frac{1}{2}$", r"$\frac{1}{2}$"),
        (r"Hence $x=\boxed{0.5}$", "0.5"),
        ("Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips.\n#### 72", "72"),
        ("Some long solution.\nWe get $x=4$.\nSo that's it", "x=4"),
        ("", None),
        ("   ", None),
    ],
)
def test_extract_gold(gold, expected_gold):
    assert extract_gold(gold) == expected_gold


@pytest.mark.parametrize(
    ("completion", "gold", "expected"),
    [
        # gold as a bare answer
        ("Natalia sold 48+24 = 72 clips.\n#### 72", "72", True),
        ("The answer is 72.", "72", True),
        ("The answer is 71.", "72", False),
        (r"So $x = \boxed{\frac{1}{2}}$.", "0.5", True),
        (r"The answer is $\boxed{\frac{1}{2}}$.", r"$\frac{1}{2}$", True),
        ("The answer is (B).", "B", True),
        ("The answer is (B).", "C", False),
        ("所以答案是 12。", "12", True),
        ("故答案为 (C)", "C", True),
        ("```python\nprint(6*7)\n```\n```output\n42\n```", "42", True),
        (r"\boxed{1} and \boxed{2}", r"\{1,2\}", True),
        # gold as a solution with a box
        (r"The answer is $\boxed{\frac{1}{2}}$.", r"Hence $x=\boxed{0.5}$", True),
        ("The answer is 1/3.", r"We find $\boxed{0.5}$.", False),
        # gold as a GSM8K rationale
        ("The answer is 72.", "Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips.\n#### 72", True),
        ("The answer is 1,234.", "Total: 1234 apples.\n#### 1,234", True),
        ("The answer is 71.", "Natalia sold 72 clips.\n#### 72", False),
        # plain-string completions (default fallback "last_math")
        ("72", "72", True),
        ("He has 5 apples.", "5", True),
        (r"$\frac{1}{2}$", "0.5", True),
        ("We get $x = 3$.", "3", True),
        ("no answer here", "3", False),
    ],
)
def test_grade(completion, gold, expected):
    assert grade(completion, gold) is expected


def test_grade_result_fields_ok():
    (result,) = grade_batch(["The answer is $1,000$."], ["Some work.\n#### 1000"])
    assert isinstance(result, GradeResult)
    assert result.correct is True
    assert bool(result) is True
    assert result.pred_answer == "1,000"
    assert result.gold_answer == "1000"
    assert result.status == "ok"
    assert result.method == "numeric"
    assert 0.0 <= result.seconds < 60.0  # wall time on a possibly busy machine: a 'did not hang' check only


def test_grade_result_fields_symbolic_wrong():
    (result,) = grade_batch([r"\boxed{x^2}"], [r"\boxed{x^3}"], timeout=10.0)
    assert (result.correct, result.pred_answer, result.gold_answer) == (False, "x^2", "x^3")
    assert (result.status, result.method) == ("ok", "symbolic")
    assert not result


def test_grade_result_no_answer():
    (result,) = grade_batch(["He has 5 apples."], ["5"], fallback="none")
    assert (result.correct, result.pred_answer, result.gold_answer, result.status) == (False, None, "5", "no_answer")
    (result,) = grade_batch(["He has 5 apples."], ["5"], fallback="last_number")
    assert (result.correct, result.pred_answer, result.status) == (True, "5", "ok")
    assert grade("He has 5 apples.", "5", fallback="none") is False


def test_grade_result_no_gold():
    (result,) = grade_batch(["The answer is 5."], ["   "])
    assert (result.correct, result.pred_answer, result.gold_answer, result.status) == (False, "5", None, "no_gold")


def test_grade_passes_options_through():
    assert grade("The answer is 0.33.", r"\frac{1}{3}") is False
    assert grade("The answer is 0.33.", r"\frac{1}{3}", float_rounding=2) is True


def test_grade_batch_keeps_order():
    completions = ["The answer is 1.", "The answer is 2.", r"\boxed{x+1}", "#### 4", "nothing"]
    golds = ["1", "3", "1+x", "4", "5"]
    results = grade_batch(completions, golds, fallback="none")
    assert [r.correct for r in results] == [True, False, True, True, False]
    assert [r.status for r in results] == ["ok", "ok", "ok", "ok", "no_answer"]
    assert [r.gold_answer for r in results] == golds


def test_grade_batch_empty():
    assert grade_batch([], []) == []


def test_grade_batch_length_mismatch():
    with pytest.raises(ValueError):
        grade_batch(["1"], [])


@pytest.mark.parametrize(("completion", "gold"), [(None, "1"), (1, "1"), ("1", None), ("1", 1)])
def test_grade_rejects_non_strings(completion, gold):
    with pytest.raises(TypeError):
        grade(completion, gold)


def test_grade_short_sentence_completion():
    assert grade("It is 7.", "7") is True


def test_grade_answer_followed_by_remark():
    assert grade("The answer is 5, which is correct.", "5") is True
