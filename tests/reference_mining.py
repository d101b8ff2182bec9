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
