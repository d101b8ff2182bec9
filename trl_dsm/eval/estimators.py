# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Pass@k and Maj@k from n samples per problem (DeepSeekMath §5.2.2, Figure 7: "RL improves Maj@K but not Pass@K").

Both are *expected* values over the C(n, k) subsets of k of the n samples, computed exactly (no Monte Carlo, no
dependence on sample order):

- :func:`pass_at_k`: the unbiased estimator of Chen et al. (2021), ``1 - C(n-c, k) / C(n, k)`` for ``c`` correct
  samples, evaluated as a product so that it stays exact in floating point for large ``n``.
- :func:`maj_at_k`: the probability that a majority vote over a uniformly random k-subset picks a correct answer.
  Samples vote with their answer's equivalence class (:func:`answer_classes`: the trl-dsm grader's equivalence,
  so ``0.5`` and ``\\frac12`` vote together); samples without an answer do not vote; a subset where no sample
  answers scores 0. A tie between ``t`` classes scores ``1/t`` (the expectation of a uniformly random tie-break),
  which makes the number independent of sample order and gives ``maj@1 == pass@1``. With ``k == n`` it is the
  vote over all samples, a tie again scoring ``1/t``.

:func:`majority_vote` is the concrete vote over a list of samples, with a deterministic tie-break (the tied class
that appears first), used for the per-sample "voted answer" of the evaluation output.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from fractions import Fraction

import numpy as np


def _check_nck(n: int, c: int, k: int) -> None:
    if not (isinstance(n, int) and isinstance(c, int) and isinstance(k, int)):
        raise TypeError(f"n, c and k must be integers, got {n!r}, {c!r}, {k!r}")
    if n < 1 or not 0 <= c <= n:
        raise ValueError(f"need n >= 1 and 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and the number of samples n={n}, got k={k}")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples of which ``c`` are correct: ``1 - C(n-c, k) / C(n, k)``.

    Computed as ``1 - prod_{i=n-c+1}^{n} (1 - k/i)`` (no huge binomials).

    >>> pass_at_k(4, 1, 1), pass_at_k(4, 1, 2), pass_at_k(4, 0, 4), pass_at_k(4, 2, 3)
    (0.25, 0.5, 0.0, 1.0)
    """
    _check_nck(n, c, k)
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1, dtype=np.float64)))


def _merged_counts(classes: Sequence[Hashable | None], correct: Sequence[bool]) -> tuple[int, list[int], int]:
    """(correct votes, wrong class sizes, samples without an answer); all correct classes are merged (every
    correct answer equals the gold, so they are one answer)."""
    if len(classes) != len(correct):
        raise ValueError(f"got {len(classes)} answer classes but {len(correct)} correctness flags")
    wrong: Counter = Counter()
    wrong_correct = set()
    n_correct = n_none = 0
    for cls, ok in zip(classes, correct):
        if ok:
            if cls is None:
                raise ValueError("a sample without an answer cannot be correct")
            n_correct += 1
            wrong_correct.add(cls)
        elif cls is None:
            n_none += 1
        else:
            wrong[cls] += 1
    mixed = wrong_correct.intersection(wrong)
    if mixed:
        raise ValueError(f"answer class {next(iter(mixed))!r} has both correct and incorrect samples")
    return n_correct, list(wrong.values()), n_none


def maj_at_k(
    classes: Sequence[Hashable | None], correct: Sequence[bool], k: int, *, exact: bool = False
) -> float | Fraction:
    """Expected majority-vote accuracy over all k-subsets of the samples (see the module docstring).

    Args:
        classes: the answer class of each sample (hashable; ``None`` = no answer). Use :func:`answer_classes` to
            get classes under the grader's equivalence.
        correct: whether each sample is correct. All correct samples vote together.
        k: subset size, ``1 <= k <= len(classes)``.
        exact: return a :class:`fractions.Fraction` instead of a float.

    The count is a polynomial product: for each number ``x`` of correct samples drawn, the wrong classes with
    fewer than ``x`` samples cannot win and are drawn freely, and each class with at least ``x`` samples contributes
    ``sum_{y<x} C(w, y) z^y + C(w, x) z^x t`` (``t`` marks a tie); the tie-weighted coefficient of ``z^(k-x)``
    counts the winning subsets. Exact integer arithmetic; O(n k^2 log k) at worst.

    >>> maj_at_k(["a", "b", "b"], [True, False, False], 3)  # "b" wins the full vote
    0.0
    >>> maj_at_k(["a", "b", "b"], [True, False, False], 2)  # {a,b} twice (tie: 1/2), {b,b} once
    0.3333333333333333
    """
    n = len(classes)
    n_correct, wrong_sizes, n_none = _merged_counts(classes, correct)
    _check_nck(n, n_correct, k)
    total = 0
    for x in range(1, min(n_correct, k) + 1):
        free = n_none + sum(w for w in wrong_sizes if w < x)
        heavy = [w for w in wrong_sizes if w >= x]
        rest = k - x
        # poly[z, s]: ways to draw z wrong/no-answer samples with s wrong classes tied at x votes, none above x.
        poly = np.zeros((rest + 1, len(heavy) + 1), dtype=object)
        poly[:, 0] = [math.comb(free, z) for z in range(rest + 1)]
        for s_max, w in enumerate(heavy, start=1):
            new = np.zeros_like(poly)
            for y in range(min(x, rest + 1)):
                new[y:, :s_max] += math.comb(w, y) * poly[: rest + 1 - y, :s_max]
            if x <= rest:
                new[x:, 1 : s_max + 1] += math.comb(w, x) * poly[: rest + 1 - x, :s_max]
            poly = new
        row = poly[rest]
        weighted = sum(Fraction(int(row[s]), s + 1) for s in range(len(row)) if row[s])
        total += math.comb(n_correct, x) * weighted
    value = Fraction(total) / math.comb(n, k)
    return value if exact else float(value)


def majority_vote(classes: Sequence[Hashable | None], correct: Sequence[bool]) -> tuple[int | None, bool]:
    """The concrete vote over all samples: (index of the first sample of the winning class, whether it is correct).

    Correct samples vote together; ties go to the class that appears first; ``(None, False)`` when no sample
    answers.

    >>> majority_vote(["b", "a", "a", "b", None], [False, True, True, False, False])  # 2-2 tie: "b" came first
    (0, False)
    """
    if len(classes) != len(correct):
        raise ValueError(f"got {len(classes)} answer classes but {len(correct)} correctness flags")
    votes: Counter = Counter()
    first: dict = {}
    for i, (cls, ok) in enumerate(zip(classes, correct)):
        if cls is None:
            continue
        key = ("correct",) if ok else ("wrong", cls)
        votes[key] += 1
        first.setdefault(key, i)
    if not votes:
        return None, False
    best = max(votes.values())
    winner = min((key for key, count in votes.items() if count == best), key=first.__getitem__)
    return first[winner], winner == ("correct",)


def k_values(n: int) -> list[int]:
    """Powers of two up to ``n``, and ``n`` itself: the k of the Pass@K / Maj@K curves.

    >>> k_values(1), k_values(64), k_values(12)
    ([1], [1, 2, 4, 8, 16, 32, 64], [1, 2, 4, 8, 12])
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    ks = [2**i for i in range(n.bit_length()) if 2**i <= n]
    return ks if ks[-1] == n else [*ks, n]


def answer_classes(
    answers: Sequence[str | None],
    correct: Sequence[bool],
    *,
    symbolic_pairs: int = 64,
    timeout: float | None = None,
) -> list[int | None]:
    """Equivalence classes of a problem's sampled answers for voting, under the trl-dsm grader's equivalence.

    Correct answers (graded equal to the gold) form class 0. Incorrect answers are grouped by the grader's
    normalized form, then by numeric value (``numbers_equal``: ``1/2`` = ``0.5`` = ``50%``), then by
    :func:`trl_dsm.grading.compare_answers` on at most ``symbolic_pairs`` pairs of the remaining non-numeric
    classes, largest classes first (symbolic checks run in the grader's time-bounded workers; unchecked pairs stay
    apart, which can only overstate maj@k slightly). ``None`` answers get class ``None``.
    """
    from trl_dsm.grading.compare import DEFAULT_TIMEOUT, compare_answers, normalize_answer, numbers_equal, parse_number

    if len(answers) != len(correct):
        raise ValueError(f"got {len(answers)} answers but {len(correct)} correctness flags")
    out: list[int | None] = [None] * len(answers)
    by_norm: dict[str, int] = {}
    numeric: list[tuple[int, object]] = []  # (class id, ParsedNumber)
    reps: dict[int, str] = {}  # non-numeric class -> representative answer
    sizes: Counter = Counter()
    next_id = 1
    for i, (answer, ok) in enumerate(zip(answers, correct)):
        if answer is None:
            continue
        if ok:
            out[i] = 0
            continue
        norm = normalize_answer(answer)
        cls = by_norm.get(norm)
        if cls is None:
            try:
                number = parse_number(answer)
            except (ValueError, ArithmeticError, RecursionError):
                number = None
            if number is not None:
                cls = next((c for c, other in numeric if numbers_equal(number, other)), None)
            if cls is None:
                cls, next_id = next_id, next_id + 1
                if number is not None:
                    numeric.append((cls, number))
                else:
                    reps[cls] = answer
            by_norm[norm] = cls
        out[i] = cls
        sizes[cls] += 1
    if symbolic_pairs > 0 and reps:
        all_reps = {**{c: a for c, a in reps.items()}}
        for c, _ in numeric:
            all_reps[c] = answers[out.index(c)]
        order = sorted(all_reps, key=lambda c: (-sizes[c], c))
        pairs = [(a, b) for j, b in enumerate(order) for a in order[:j] if a in reps or b in reps][:symbolic_pairs]
        if pairs:
            results = compare_answers(
                [all_reps[b] for _, b in pairs],
                [all_reps[a] for a, _ in pairs],
                timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
            )
            parent = {c: c for c in all_reps}

            def find(c: int) -> int:
                while parent[c] != c:
                    parent[c] = parent[parent[c]]
                    c = parent[c]
                return c

            for (a, b), result in zip(pairs, results):
                if result.correct:
                    ra, rb = find(a), find(b)
                    parent[max(ra, rb)] = min(ra, rb)
            out = [find(c) if c not in (None, 0) else c for c in out]
    return out
