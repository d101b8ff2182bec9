# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""A plain-Python reference decontaminator (test and benchmark code, not shipped): a set of n-gram tuples, one
segment at a time.

Same rules as :class:`~trl_dsm.decontamination.Decontaminator` (same grams, same guards), written the obvious
way. It is the baseline of ``benchmarks/decontam.py`` and the oracle of the tests; do not use it on corpora.
"""

from __future__ import annotations

from collections.abc import Sequence

from trl_dsm.benchmarks import BenchmarkText
from trl_dsm.decontamination.decontaminate import MIN_INFORMATIVE, SegmentBy, split_segments
from trl_dsm.decontamination.ngrams import MIN_EXACT_GRAMS, NGRAM_SIZE, is_informative, tokenize


class SetDecontaminator:
    def __init__(
        self,
        texts: Sequence[BenchmarkText],
        n: int = NGRAM_SIZE,
        min_exact: int = MIN_EXACT_GRAMS,
        min_informative: int = MIN_INFORMATIVE,
        formula_span: int | None = None,
    ) -> None:
        self.n, self.min_exact, self.min_informative = n, min_exact, min_informative
        self.formula_span = 2 * n if formula_span is None else formula_span
        self.ngrams: set[tuple[str, ...]] = set()
        self.exact: set[tuple[str, ...]] = set()
        for text in texts:
            tokens = tokenize(text.text)
            if len(tokens) >= n:
                self.ngrams.update(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
            elif len(tokens) >= min_exact:
                self.exact.add(tuple(tokens))

    def contaminated_segments(self, text: str, segment_by: SegmentBy = "paragraph") -> set[int]:
        segments, _ = split_segments(text, segment_by)
        tokens: list[str] = []
        owner: list[int] = []  # segment of each gram
        for s, segment in enumerate(segments):
            grams = tokenize(segment)
            tokens += grams
            owner += [s] * len(grams)
        n, run = self.n, self.formula_span - self.n + 1
        hits = [tuple(tokens[i : i + n]) in self.ngrams for i in range(len(tokens) - n + 1)]
        bad: set[int] = set()
        for i, hit in enumerate(hits):
            if not hit:
                continue
            worded = sum(map(is_informative, tokens[i : i + n])) >= self.min_informative
            in_long_run = any(
                len(hits[j : j + run]) == run and all(hits[j : j + run]) for j in range(max(i - run + 1, 0), i + 1)
            )
            if worded or in_long_run:
                bad.update(range(owner[i], owner[i + n - 1] + 1))
        for s, segment in enumerate(segments):
            if s in bad:
                continue
            for candidate in [tokenize(segment), *(tokenize(line) for line in segment.split("\n"))]:
                if (
                    self.min_exact <= len(candidate) < self.n
                    and tuple(candidate) in self.exact
                    and any(map(is_informative, candidate))
                ):
                    bad.add(s)
                    break
        return bad
