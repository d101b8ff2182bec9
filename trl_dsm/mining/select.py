# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Which scored pages are collected (DeepSeekMath §2.1): "to avoid saving web pages with a low score, we ...
rank by their classifier score and preserve only the top-ranking ones", by a score threshold or by a token
budget ("we use the top 40B tokens" in the first iteration)."""

from __future__ import annotations

from collections.abc import Sequence
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


def count_tokens(texts: Sequence[str], tokenizer=None) -> np.ndarray:
    """Tokens per text: whitespace-separated words, or ``len(tokenizer(text).input_ids)``."""
    if tokenizer is None or tokenizer == "whitespace":
        return np.fromiter((len((t or "").split()) for t in texts), dtype=np.int64, count=len(texts))
    if isinstance(tokenizer, str):
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tokenizer)
    ids = tokenizer([t or "" for t in texts], add_special_tokens=False)["input_ids"]
    return np.array([len(i) for i in ids], dtype=np.int64)


def select_threshold(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Pages with score >= ``threshold`` (NaN scores, i.e. unscored rows, are never selected)."""
    scores = np.asarray(scores, dtype=np.float64)
    return np.nan_to_num(scores, nan=-np.inf) >= threshold


def select_top_tokens(scores: np.ndarray, tokens: np.ndarray, budget: int) -> np.ndarray:
    """The longest prefix of the ranking (score descending, ties by row) whose token total is <= ``budget``."""
    scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf)
    tokens = np.asarray(tokens, dtype=np.int64)
    order = np.argsort(-scores, kind="stable")
    order = order[np.isfinite(scores[order])]
    cumulative = np.cumsum(tokens[order])
    take = int(np.searchsorted(cumulative, budget, side="right"))
    mask = np.zeros(len(scores), dtype=bool)
    mask[order[:take]] = True
    return mask


def select(scores: np.ndarray, tokens: np.ndarray | None, config: SelectionConfig) -> np.ndarray:
    if config.method == "threshold":
        return select_threshold(scores, config.threshold)
    if tokens is None:
        raise ValueError("top_tokens selection needs token counts")
    return select_top_tokens(scores, tokens, int(config.token_budget))
