# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Exact expectations for final-answer extraction (:func:`trl_dsm.grading.extract_answer`)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trl_dsm.grading import extract_answer, last_boxed, last_number


# ----------------------------------------------------------------------------------------------------
# \boxed{} and \fbox{}
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"so $\boxed{\frac{1}{\sqrt{2}}}$", r"\frac{1}{\sqrt{2}}"),  # nested braces
        (r"$x = \boxed{\frac{1}{2}}$.", r"\frac{1}{2}"),
        (r"\boxed{\{1,2\}}", r"\{1,2\}"),  # escaped braces do not close the box
        (r"\boxed{\}}", r"\}"),
        (r"\boxed{a}{b}", "a"),
        (r"\fbox{7}", "7"),
        (r"\boxed 5", "5"),  # no braces
        (r"so $\boxed 5$.", "5"),
        (r"\boxed {7}", "7"),
        ("\\boxed\t{7}", "7"),
        (r"\boxed{\text{(A)}}", r"\text{(A)}"),
        (r"We get \boxed{3}, then \boxed{4}. Finally \boxed{5}", "5"),  # the last box wins
        (r"The final answer is $\boxed{3}$.", "3"),
        (r"\boxed{3}. Hence the answer is positive.", "3"),  # a non-mathematical restatement loses
        (r"\boxed{5}. The answer is correct.", "5"),
        ("\\boxed{3}\nFinal Answer: 4", "4"),  # a later marker with a number wins
    ],
)
def test_boxed(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"\boxed{1} and \boxed{2}", "1, 2"),
        (r"\boxed{1} and \boxed{2}.", "1, 2"),
        (r"\boxed{1} or \boxed{2}", "1, 2"),
        (r"\boxed{1}, \boxed{2}", "1, 2"),
        (r"$\boxed{1}$, $\boxed{2}$", "1, 2"),
        (r"\boxed{1}, \boxed{2}, and \boxed{3}", "1, 2, 3"),
        (r"\boxed{1} \quad\text{and}\quad \boxed{2}", "1, 2"),
        (r"\boxed{1}\quad\text{and}\quad\boxed{2}", "1, 2"),
        (r"\boxed{1} \text{ and } \boxed{2}", "1, 2"),
        (r"$x=\boxed{1}$ and $y = \boxed{2}$", "1, 2"),  # "y =" labels the second box
        (r"\fbox{3} and \boxed{4}", "3, 4"),
    ],
)
def test_adjacent_boxes_are_joined(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        r"First \boxed{1}. Then \boxed{2}",  # sentence end
        r"\boxed{1}! \boxed{2}",
        r"\boxed{1}? \boxed{2}",
        "\\boxed{1}\n\n\\boxed{2}",  # paragraph break
        r"\boxed{1} + \boxed{2}",  # operators
        r"\boxed{1} - \boxed{2}",
        r"\boxed{1} = \boxed{2}",
        r"\boxed{1} < \boxed{2}",
        r"\boxed{1} \cdot \boxed{2}",
        r"\boxed{1} and then we multiply by 3 to get \boxed{2}",  # too many words between
    ],
)
def test_boxes_not_joined_across_sentences_paragraphs_or_operators(text):
    assert extract_answer(text) == "2"


def test_times_between_boxes_is_an_operator():
    assert extract_answer(r"\boxed{2} \times \boxed{3}") == "3"


@pytest.mark.parametrize("text", [r"\boxed{}", r"\boxed{a", r"\boxedx", r"\boxed{   }"])
def test_empty_or_unclosed_boxes_give_nothing(text):
    assert extract_answer(text) is None


def test_last_boxed_reports_position_and_joined_content():
    assert last_boxed(r"ab \boxed{1} and \boxed{2}") == (3, "1, 2")
    assert last_boxed("no box") is None


# ----------------------------------------------------------------------------------------------------
# Answer markers
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The answer is 72.", "72"),
        ("the answer is 72", "72"),
        ("The final answer is 72", "72"),
        ("So the answer should be 12.", "12"),
        ("The answer is: 7", "7"),
        ("The answer is 3.5.", "3.5"),  # the decimal point is not a sentence end
        ("The answer is 1,000.", "1,000"),
        ("The answer is $1,000$.", "1,000"),
        (r"The answer is $\frac{1}{2}$.", r"\frac{1}{2}"),
        ("The answer is\n\n$$ 5 $$", "5"),
        ("The answer is:\n\n$$\n\\frac{1}{2}\n$$", r"\frac{1}{2}"),
        ("So the answer is 18 dollars.", "18 dollars"),
        ("The largest $n$ is 34, so the answer is $34$.", "34"),
        ("The answer is x = 5.", "x = 5"),
        ("The answer is 5 because 2+3=5.", "5"),
        ("The answer is 5 since that is what we computed", "5"),
        ("The final answer is 7, as computed above.", "7"),
        ("The answer is 5<|im_end|>", "5"),
        ("The answer is 5 <|endoftext|>junk 9", "5"),
        ("Final Answer: The final answer is $x$. I hope it is correct.", "x"),
        ("Final Answer: The final answer is $10,455$. I hope it is correct.", "10,455"),
        ("Final Answer: The final answer is 7. I hope it is correct.", "7"),
        ("Final answer: 7", "7"),
        ("**Final Answer:** 7", "7"),
        ("Final Answer\n\\boxed{7}", "7"),
        ("Answer: 42", "42"),
        ("**Answer:** 42", "42"),
        ("Answer: (C)", "(C)"),
        # GSM8K
        ("Natalia sold 24.\n#### 1,234", "1,234"),
        ("Natalia sold 48+24 = 72 clips.\n#### 72", "72"),
        ("#### 1,234\n", "1,234"),
        ("####72", "72"),
        # few-shot "A:"
        ("Q: blah\nA: 26", "26"),
        ("A: The answer is 26.", "26"),
        ("Q: What?\nA: 26\n\nQ: Next?\nA:", "26"),  # an empty final "A:" states nothing
        # Chinese benchmarks
        ("答案是 12。", "12"),
        ("所以答案是 12。", "12"),
        ("所以答案是12", "12"),
        ("最终答案是：$\\frac{1}{2}$。", r"\frac{1}{2}"),
        ("答案：B", "B"),
        ("答案：B。", "B"),
        ("答案为 B", "B"),
        ("答案: (B)", "(B)"),
        ("故答案为 (C)", "(C)"),
        ("故答案为 (C)。", "(C)"),
        # multiple choice
        ("The answer is (B).", "(B)"),
        ("The answer is (B)", "(B)"),
        ("The answer is B.", "B"),
    ],
)
def test_answer_markers(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I think the answer is correct.", None),
        ("Therefore the answer is not 5.", None),
        ("The answer is 5. I checked, the answer is correct.", "5"),
        ("Let me check that the answer is reasonable.\nThe answer is 9.", "9"),
        ("The answer is 9.\nWe verify that the answer is consistent with the data.", "9"),
    ],
)
def test_remarks_about_the_answer_are_not_answers(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("The answer is 5, which is correct.", "5"), ("So the answer is 12, which is even.", "12")],
)
def test_remark_after_stated_answer_keeps_the_answer(text, expected):
    assert extract_answer(text) == expected


# ----------------------------------------------------------------------------------------------------
# Program-of-thought output blocks
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("```output\n42\n```", "42"),
        ("```python\nprint(42)\n```\n```output\n42\n```", "42"),
        ("```output\nx = 3\n42\n```", "42"),  # the last printed line
        ("```output\n1\n2\n```", "2"),
        ("The answer is 41.\n```output\n42\n```", "42"),  # the later of marker and output block
        ("```output\n42\n```\nThe answer is 43.", "43"),
        ("```output\n\n```", None),
    ],
)
def test_output_blocks(text, expected):
    assert extract_answer(text) == expected


# ----------------------------------------------------------------------------------------------------
# Fallbacks
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "fallback", "expected"),
    [
        ("He has 5 apples.", "none", None),
        ("He has 5 apples.", "last_number", "5"),
        ("He has 5 apples.", "last_math", "5"),
        ("no numbers", "none", None),
        ("no numbers", "last_number", None),
        ("no numbers", "last_math", None),
        ("We have 1,000 apples and more", "last_number", "1,000"),
        ("We have 1,000 apples and more", "last_math", "1,000"),
        ("It went from 3 to -3/4 overall", "last_number", "-3/4"),
        ("So $x = 3$ and 5 apples.", "last_number", "5"),
        ("So $x = 3$ and 5 apples.", "last_math", "5"),  # the number ends later than the math
        (r"We have 5 apples and $x=\frac12$.", "last_number", "5"),
        (r"We have 5 apples and $x=\frac12$.", "last_math", r"x=\frac12"),  # the math ends later
        ("Here we compute $x$ and then 7 more", "last_math", "7"),
        (r"so the value is \(y+1\) here", "last_math", "y+1"),
        (r"$\frac{1}{2}$", "last_math", r"\frac{1}{2}"),  # a bare formula
        (r"$\frac{1}{2}$", "last_number", "2"),
        (r"$\frac{1}{2}$", "none", None),
        ("x^2 + 1", "last_math", "x^2 + 1"),
    ],
)
def test_fallbacks(text, fallback, expected):
    assert extract_answer(text, fallback=fallback) == expected


def test_marked_answer_beats_fallback():
    for fallback in ("none", "last_number", "last_math"):
        assert extract_answer("The answer is 12. Then 99 more words.", fallback=fallback) == "12"


@pytest.mark.parametrize("text", ["It is 7.", "So $x$ is 7."])
def test_last_math_on_a_short_sentence(text):
    assert extract_answer(text, fallback="last_math") == "7"


def test_unknown_fallback_is_rejected():
    with pytest.raises(ValueError, match="fallback"):
        extract_answer("He has 5 apples.", fallback="bogus")


def test_last_number():
    assert last_number("between 1,000.5 and 12% of it") == "12%"
    assert last_number("version2 only") is None  # part of a word
    assert last_number("") is None


# ----------------------------------------------------------------------------------------------------
# Input types and odd characters
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [None, 5, 5.0, b"\\boxed{5}", ["\\boxed{5}"]])
def test_non_string_input_raises_type_error(bad):
    with pytest.raises(TypeError):
        extract_answer(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\\boxed{4\x005}", "45"),
        ("x\x00y \\boxed{4\x005}", "45"),
        ("The answer\x00 is 5.", "5"),
        ("\x00" * 1000, None),
    ],
)
def test_nul_bytes_are_ignored(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize("text", ["", " ", "\n\n", "$", "$$", "{", "}", "\\", "####", "答案是", "The answer is"])
def test_degenerate_inputs_give_nothing(text):
    assert extract_answer(text) is None


# ----------------------------------------------------------------------------------------------------
# Properties
# ----------------------------------------------------------------------------------------------------
_BOX_CONTENT = st.text(alphabet="abcxyz0123456789 +-*/=,.()", max_size=40)


@settings(max_examples=200, deadline=None, database=None)
@given(prefix=st.text(alphabet="abc 0123456789.,\n", max_size=40), content=_BOX_CONTENT)
def test_box_content_is_returned_verbatim(prefix, content):
    expected = content.strip() or None
    assert extract_answer(f"{prefix} \\boxed{{{content}}}") == expected


@settings(max_examples=200, deadline=None, database=None)
@given(n=st.integers(min_value=-(10**12), max_value=10**12))
def test_gsm8k_and_marker_numbers_round_trip(n):
    assert extract_answer(f"Some reasoning 3 + 4 = 7.\n#### {n:,}") == f"{n:,}"
    assert extract_answer(f"Some reasoning. The answer is {n}.") == str(n)
    assert extract_answer(f"所以答案是 {n}。") == str(n)
