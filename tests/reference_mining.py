# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""The classifier's text normalization written the obvious way (test and benchmark code, not shipped): one
``str.translate`` table. :func:`trl_dsm.mining.classifier.normalize_text` (a numba pass over UTF-8 bytes) must equal
it on every input; ``benchmarks/mining.py`` measures both."""

from __future__ import annotations

import string

from trl_dsm.mining.classifier import _CJK_RANGES


_TABLE = str.maketrans(
    {
        **{c: f" {c} " for c in string.punctuation},
        **{chr(cp): f" {chr(cp)} " for lo, hi in _CJK_RANGES for cp in range(lo, hi + 1)},  # one token per CJK char
        **{c: " " for c in "\n\r\t\x0b\x0c\x00"},
    }
)


def normalize_text_reference(text: str, max_chars: int | None = None) -> str:
    """Lower-cased, on one line, ASCII punctuation and each CJK character split into tokens."""
    if max_chars is not None:
        text = text[:max_chars]
    return text.lower().translate(_TABLE)


def select_top_tokens_reference(scores, tokens, budget: int):
    """The token-budget selection by one sort over all pages: the longest prefix of the ranking (score descending,
    ties by row, NaN never) whose tokens add up to at most ``budget``."""
    import numpy as np

    scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf)
    order = np.argsort(-scores, kind="stable")
    order = order[np.isfinite(scores[order])]
    take = int(np.searchsorted(np.cumsum(np.asarray(tokens, dtype=np.int64)[order]), budget, side="right"))
    mask = np.zeros(len(scores), dtype=bool)
    mask[order[:take]] = True
    return mask


def url_dedup_mask_reference(urls):
    """Exact URL dedup in one pass over all rows: the first row of each normalized URL is kept (rows without a URL
    all are)."""
    import numpy as np

    from trl_dsm.mining.urls import normalize_url

    seen: set[str] = set()
    keep = np.ones(len(urls), dtype=bool)
    for i, url in enumerate(urls):
        key = normalize_url(url)
        if key and key in seen:
            keep[i] = False
        seen.add(key)
    return keep
