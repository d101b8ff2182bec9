# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""pass@k and maj@k against exact combinatorics: every k-subset enumerated for small n."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from fractions import Fraction

import pytest

from trl_dsm.eval.estimators import answer_classes, k_values, maj_at_k, majority_vote, pass_at_k


def _brute_maj(classes, correct, k) -> Fraction:
    """Average over all k-subsets of the vote's score: 1/t when the correct class is among t tied winners."""
    total = Fraction(0)
    subsets = list(itertools.combinations(range(len(classes)), k))
    for subset in subsets:
        votes = Counter("CORRECT" if correct[i] else classes[i] for i in subset if classes[i] is not None)
        if not votes:
            continue
        best = max(votes.values())
        winners = [c for c, v in votes.items() if v == best]
        if "CORRECT" in winners:
            total += Fraction(1, len(winners))
    return total / len(subsets)


def _brute_pass(n, c, k) -> Fraction:
    subsets = list(itertools.combinations([True] * c + [False] * (n - c), k))
    return Fraction(sum(any(s) for s in subsets), len(subsets))


def test_pass_at_k_equals_the_fraction_of_subsets_with_a_correct_sample():
    for n in range(1, 9):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(float(_brute_pass(n, c, k)), abs=1e-12)


def test_pass_at_k_is_stable_for_large_n():
    assert pass_at_k(1000, 1, 1) == pytest.approx(0.001, rel=1e-12)
    exact = 1 - Fraction(math.comb(9000, 64), math.comb(10000, 64))
    assert pass_at_k(10000, 1000, 64) == pytest.approx(float(exact), rel=1e-12)


@pytest.mark.parametrize("n,c,k", [(0, 0, 1), (4, 5, 1), (4, -1, 1), (4, 2, 0), (4, 2, 5)])
def test_pass_at_k_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_maj_at_k_equals_enumeration_over_all_subsets():
    rng = random.Random(0)
    for _ in range(400):
        n = rng.randint(1, 9)
        classes = [rng.choice([None, "gold", "w1", "w2", "w3"]) for _ in range(n)]
        correct = [c == "gold" for c in classes]
        for k in range(1, n + 1):
            assert maj_at_k(classes, correct, k, exact=True) == _brute_maj(classes, correct, k), (classes, k)


def test_maj_at_k_hand_computed():
    # 3 samples: a (correct), b, b. k=2: {a,b} twice -> tie 1/2 each; {b,b} -> 0. (1/2 + 1/2) / 3 = 1/3.
    assert maj_at_k(["a", "b", "b"], [True, False, False], 2, exact=True) == Fraction(1, 3)
    # k=3: b has 2 votes -> 0.
    assert maj_at_k(["a", "b", "b"], [True, False, False], 3) == 0.0
    # A 2-2 tie over all samples scores 1/2; one sample without an answer does not vote.
    assert maj_at_k(["a", "a", "b", "b", None], [True, True, False, False, False], 5) == 0.5
    # Only unanswered samples: nothing to vote for.
    assert maj_at_k([None, None], [False, False], 2) == 0.0


def test_correct_samples_vote_together_and_maj_1_is_pass_1():
    # "0.5" and "1/2" are both correct: they are one answer, 2 votes against 1.
    classes, correct = ["0.5", "1/2", "7"], [True, True, False]
    assert maj_at_k(classes, correct, 3) == 1.0
    rng = random.Random(1)
    for _ in range(50):
        n = rng.randint(1, 12)
        classes = [rng.choice(["g", "x", "y"]) for _ in range(n)]
        correct = [c == "g" for c in classes]
        assert maj_at_k(classes, correct, 1) == pytest.approx(pass_at_k(n, sum(correct), 1))


def test_maj_at_k_is_fast_for_64_samples():
    classes = [i % 9 for i in range(64)]
    correct = [c == 0 for c in classes]
    values = [maj_at_k(classes, correct, k) for k in k_values(64)]
    assert values[-1] == 1.0  # the correct class has 8 of the 64 samples, each wrong class 7
    assert values[0] == pytest.approx(8 / 64)
    assert all(0 <= v <= 1 for v in values)


def test_inconsistent_classes_are_rejected():
    with pytest.raises(ValueError, match="both correct and incorrect"):
        maj_at_k(["a", "a"], [True, False], 1)
    with pytest.raises(ValueError, match="without an answer cannot be correct"):
        maj_at_k([None], [True], 1)
    with pytest.raises(ValueError, match="2 answer classes but 1"):
        maj_at_k(["a", "b"], [True], 1)


def test_majority_vote_breaks_ties_by_first_appearance():
    assert majority_vote(["b", "a", "a", "b"], [False, True, True, False]) == (0, False)
    assert majority_vote(["a", "b", "b", "a"], [True, False, False, True]) == (0, True)
    assert majority_vote(["b", "a", "a"], [False, True, True]) == (1, True)
    assert majority_vote([None, None], [False, False]) == (None, False)


def test_k_values():
    assert k_values(1) == [1]
    assert k_values(64) == [1, 2, 4, 8, 16, 32, 64]
    assert k_values(6) == [1, 2, 4, 6]


def test_answer_classes_use_the_graders_equivalence():
    answers = ["0.5", "\\frac12", "1/2", "3", "3.0", "x", None, "12"]
    correct = [False, False, False, False, False, False, False, True]
    classes = answer_classes(answers, correct, symbolic_pairs=0)
    assert classes[0] == classes[1] == classes[2]  # one value, three spellings
    assert classes[3] == classes[4] != classes[0]
    assert classes[6] is None and classes[7] == 0
    assert len({classes[0], classes[3], classes[5]}) == 3


def test_answer_classes_merge_symbolically_equal_wrong_answers():
    answers = ["(x+1)^2", "x^2+2x+1", "x^2+1"]
    classes = answer_classes(answers, [False, False, False])
    assert classes[0] == classes[1] != classes[2]
    # With no symbolic checks allowed, the two spellings stay apart (documented: maj@k may be overstated).
    apart = answer_classes(answers, [False, False, False], symbolic_pairs=0)
    assert len(set(apart)) == 3
