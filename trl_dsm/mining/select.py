# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Which scored pages are collected (DeepSeekMath §2.1): "to avoid saving web pages with a low score, we ...
rank by their classifier score and preserve only the top-ranking ones", by a score threshold or by a token
budget ("we use the top 40B tokens" in the first iteration)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class SelectionConfig:
    """``method='threshold'`` keeps pages with score >= ``threshold``; ``method='top_tokens'`` keeps the
    best-scored pages whose tokens add up to at most ``token_budget``."""

    method: str = "threshold"
    threshold: float = 0.5
    token_budget: int | None = None
    #: How tokens are counted for the budget: ``whitespace`` words, or a tokenizer name/path
    #: (``AutoTokenizer.from_pretrained``), e.g. the model that will be pretrained on the corpus.
    tokenizer: str = "whitespace"

    def __post_init__(self):
        if self.method not in ("threshold", "top_tokens"):
            raise ValueError(f"selection.method must be 'threshold' or 'top_tokens', got {self.method!r}")
        if self.method == "top_tokens" and (self.token_budget is None or self.token_budget <= 0):
            raise ValueError("selection.method 'top_tokens' needs a positive selection.token_budget")


@functools.lru_cache(maxsize=4)
def counting_tokenizer(name: str):
    """The tokenizer ``name`` (``AutoTokenizer.from_pretrained``), loaded once per process: the mining tasks count
    tokens batch by batch, shard after shard, in a persistent worker pool."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name)


def count_tokens(texts: Sequence[str], tokenizer=None) -> np.ndarray:
    """Tokens per text: whitespace-separated words, or ``len(tokenizer(text).input_ids)`` (a name or path is loaded
    by :func:`counting_tokenizer`)."""
    if tokenizer is None or tokenizer == "whitespace":
        return np.fromiter((len((t or "").split()) for t in texts), dtype=np.int64, count=len(texts))
    if isinstance(tokenizer, str):
        tokenizer = counting_tokenizer(tokenizer)
    ids = tokenizer([t or "" for t in texts], add_special_tokens=False)["input_ids"]
    return np.array([len(i) for i in ids], dtype=np.int64)


def select_threshold(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Pages with score >= ``threshold`` (NaN scores, i.e. unscored rows, are never selected)."""
    scores = np.asarray(scores, dtype=np.float64)
    return np.nan_to_num(scores, nan=-np.inf) >= threshold


def select_top_tokens(scores: np.ndarray, tokens: np.ndarray, budget: int) -> np.ndarray:
    """The longest prefix of the ranking (score descending, ties by row) whose token total is <= ``budget``: the
    token-budget cut of one task's partial histogram (:func:`budget_partial`, :func:`budget_cut`), the same code that
    cuts a budget over many tasks."""
    hist, ranked = budget_partial(scores, tokens)
    cut = budget_cut(lambda rank: hist, lambda rank, start, stop: ranked[start:stop], 1, int(budget))
    return cut.mask(scores, 0)


def select(scores: np.ndarray, tokens: np.ndarray | None, config: SelectionConfig) -> np.ndarray:
    """The selection mask of ``scores`` by ``config.method`` (§2.1): a threshold, or the top pages within
    ``token_budget`` tokens (``tokens`` required)."""
    if config.method == "threshold":
        return select_threshold(scores, config.threshold)
    if tokens is None:
        raise ValueError("top_tokens selection needs token counts")
    return select_top_tokens(scores, tokens, int(config.token_budget))


# -- token-budget selection in tasks: per-task partial histograms, a small merge, a per-task filter

#: Score bins of the partial histograms over [0, 1] (scores outside fall in the edge bins).
BUDGET_BINS = 1 << 16
#: One finite-scored page of a task's ranking: its score, its position in the task, its tokens.
RANKED_DTYPE = np.dtype([("score", "<f8"), ("position", "<i8"), ("tokens", "<i8")])


def score_bins(scores: np.ndarray, bins: int = BUDGET_BINS) -> np.ndarray:
    """The histogram bin of each score, ``floor(score * bins)`` clipped to ``[0, bins)`` (monotone in the score:
    a higher bin never holds a lower score); -1 for NaN/inf (never selected)."""
    scores = np.asarray(scores, dtype=np.float64)
    out = np.full(len(scores), -1, dtype=np.int64)
    finite = np.isfinite(scores)
    out[finite] = np.clip(np.floor(scores[finite] * bins), 0, bins - 1).astype(np.int64)
    return out


def budget_partial(scores: np.ndarray, tokens: np.ndarray, bins: int = BUDGET_BINS) -> tuple[np.ndarray, np.ndarray]:
    """One task's share of a token-budget selection: ``hist``, rows ``(bin, tokens, pages)`` of its non-empty bins,
    bin descending; ``ranked``, its finite-scored pages (:data:`RANKED_DTYPE`) by score descending, then position
    (the global order of :func:`select_top_tokens` when tasks are contiguous slices in order), so the pages of a bin
    are one contiguous slice that starts after the pages of the higher bins."""
    scores = np.asarray(scores, dtype=np.float64)
    tokens = np.asarray(tokens, dtype=np.int64)
    if len(scores) != len(tokens):
        raise ValueError(f"scores and tokens differ in length: {len(scores)} != {len(tokens)}")
    b = score_bins(scores, bins)
    rows = np.flatnonzero(b >= 0)
    order = rows[np.lexsort((rows, -scores[rows]))]
    ranked = np.empty(len(order), dtype=RANKED_DTYPE)
    ranked["score"], ranked["position"], ranked["tokens"] = scores[order], order, tokens[order]
    used, inverse = np.unique(b[rows], return_inverse=True)
    sums = np.zeros(len(used), dtype=np.int64)
    np.add.at(sums, inverse, tokens[rows])
    hist = np.stack([used, sums, np.bincount(inverse, minlength=len(used))], axis=1).astype(np.int64)[::-1]
    return np.ascontiguousarray(hist), ranked


@dataclass(frozen=True)
class BudgetCut:
    """Where a token budget cuts the global ranking: every page of a bin above ``bin`` is selected (``bin`` -1:
    every finite-scored page fits); in ``bin``, the pages up to and including ``(score, rank, position)`` in the
    order score descending, then task rank, then position (``score`` None: none of them)."""

    bin: int
    score: float | None = None
    rank: int | None = None
    position: int | None = None
    pages: int = 0
    tokens: int = 0
    bins: int = BUDGET_BINS

    def mask(self, scores: np.ndarray, rank: int, positions: np.ndarray | None = None) -> np.ndarray:
        """The selected pages among task ``rank``'s ``scores`` (at ``positions``, default ``0..n-1``)."""
        scores = np.asarray(scores, dtype=np.float64)
        b = score_bins(scores, self.bins)
        if self.bin < 0:
            return b >= 0
        mask = b > self.bin
        if self.score is not None:
            positions = np.arange(len(scores)) if positions is None else np.asarray(positions)
            if rank < self.rank:
                tie = np.ones(len(scores), dtype=bool)
            elif rank == self.rank:
                tie = positions <= self.position
            else:
                tie = np.zeros(len(scores), dtype=bool)
            mask |= (b == self.bin) & ((scores > self.score) | ((scores == self.score) & tie))
        return mask

    def to_dict(self) -> dict:
        """The cut's fields as a JSON-able dict (``BudgetCut(**cut.to_dict())`` rebuilds it)."""
        return {k: getattr(self, k) for k in ("bin", "score", "rank", "position", "pages", "tokens", "bins")}


def budget_cut(
    hist_of: Callable[[int], np.ndarray],
    ranked_slice: Callable[[int, int, int], np.ndarray],
    ranks: int,
    budget: int,
    bins: int = BUDGET_BINS,
) -> BudgetCut:
    """Merge the ``ranks`` tasks' partial histograms (``hist_of(rank)``) into the cut of ``budget``; the cut bin's
    pages (``ranked_slice(rank, start, stop)`` of each task's ranking) are ordered exactly, so the selection equals
    :func:`select_top_tokens` on all pages. Memory: one dense histogram plus the cut bin's pages."""
    tokens = np.zeros(bins, dtype=np.int64)
    pages = np.zeros(bins, dtype=np.int64)
    for rank in range(ranks):
        hist = hist_of(rank)
        np.add.at(tokens, hist[:, 0], hist[:, 1])
        np.add.at(pages, hist[:, 0], hist[:, 2])
    from_top = np.cumsum(tokens[::-1])
    over = np.flatnonzero(from_top > budget)
    if not len(over):
        return BudgetCut(-1, pages=int(pages.sum()), tokens=int(tokens.sum()), bins=bins)
    cut = bins - 1 - int(over[0])
    above_tokens = int(tokens[cut + 1 :].sum())
    above_pages = int(pages[cut + 1 :].sum())
    parts = []
    for rank in range(ranks):
        hist = hist_of(rank)
        start = int(hist[hist[:, 0] > cut, 2].sum())
        count = int(hist[hist[:, 0] == cut, 2].sum())
        if count:
            part = ranked_slice(rank, start, start + count)
            parts.append((np.full(count, rank, dtype=np.int64), part))
    ranks_at = np.concatenate([r for r, _ in parts])
    entries = np.concatenate([p for _, p in parts])
    order = np.lexsort((entries["position"], ranks_at, -entries["score"]))
    cumulative = np.cumsum(entries["tokens"][order])
    take = int(np.searchsorted(cumulative, budget - above_tokens, side="right"))
    if take == 0:
        return BudgetCut(cut, pages=above_pages, tokens=above_tokens, bins=bins)
    last = order[take - 1]
    return BudgetCut(
        cut,
        float(entries["score"][last]),
        int(ranks_at[last]),
        int(entries["position"][last]),
        pages=above_pages + take,
        tokens=above_tokens + int(cumulative[take - 1]),
        bins=bins,
    )
