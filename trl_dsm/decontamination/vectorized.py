# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Tokenizing a whole batch of documents in numpy, without one Python object per gram.

The grams are those of :func:`trl_dsm.decontamination.ngrams.tokenize` (runs of letters and digits, one gram
per CJK character), found by classifying every code point of the normalized batch text with lookup tables.
Each gram is hashed in place (``sum(cp[k] * B**k)`` over its code points, via ``np.add.reduceat``) and mapped
to its vocabulary id by binary search in the sorted hashes of the vocabulary.
"""

from __future__ import annotations

import functools

import numpy as np

from trl_dsm.decontamination.ngrams import _CJK, CJK_RE, DOCUMENT_BREAK, HASH_BASE, LINE_BREAK, PARAGRAPH_BREAK


_BMP = 0x10000
_PARAGRAPH_CP, _LINE_CP = ord(PARAGRAPH_BREAK), ord(LINE_BREAK)


def _tables() -> tuple[np.ndarray, np.ndarray]:
    """(word, single) flags for every BMP code point: part of a letter/digit run; a gram of its own."""
    chars = [chr(c) if not 0xD800 <= c <= 0xDFFF else " " for c in range(_BMP)]
    word = np.fromiter((ch.isalnum() for ch in chars), dtype=bool, count=_BMP)
    single = np.zeros(_BMP, dtype=bool)
    for start, end in _cjk_ranges():
        single[start : end + 1] = True
    word &= ~single
    single[_PARAGRAPH_CP] = single[_LINE_CP] = single[ord(DOCUMENT_BREAK)] = True
    return word, single


def _cjk_ranges() -> list[tuple[int, int]]:
    ranges, i = [], 0
    while i < len(_CJK):
        start = ord(_CJK[i])
        if i + 2 < len(_CJK) and _CJK[i + 1] == "-":
            ranges.append((start, ord(_CJK[i + 2])))
            i += 3
        else:
            ranges.append((start, start))
            i += 1
    return ranges


_WORD, _SINGLE = _tables()


def token_hash(token: str) -> int:
    """The hash :func:`batch_grams` gives ``token`` (``sum(ord(token[k]) * B**k)`` modulo 2**64)."""
    h, power = 0, 1
    for ch in token:
        h = (h + ord(ch) * power) & 0xFFFFFFFFFFFFFFFF
        power = (power * int(HASH_BASE)) & 0xFFFFFFFFFFFFFFFF
    return h


def _classify(cps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bmp = cps < _BMP
    if bmp.all():
        return _WORD[cps], _SINGLE[cps]
    word = np.zeros(len(cps), dtype=bool)
    single = np.zeros(len(cps), dtype=bool)
    word[bmp], single[bmp] = _WORD[cps[bmp]], _SINGLE[cps[bmp]]
    astral = np.flatnonzero(~bmp)
    for cp in np.unique(cps[astral]).tolist():  # few: emoji, rare CJK
        ch = chr(cp)
        is_single = CJK_RE.match(ch) is not None
        at = astral[cps[astral] == cp]
        single[at] = is_single
        word[at] = ch.isalnum() and not is_single
    return word, single


def batch_grams(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hashes, starts, ends) of the grams of an already normalized (lower-cased) ``text``; the break
    markers :data:`PARAGRAPH_BREAK` / :data:`LINE_BREAK` come out as grams of their own."""
    if text.isascii():
        cps = np.frombuffer(text.encode("ascii"), dtype=np.uint8).astype(np.int64)
    else:
        cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    if len(cps) == 0:
        empty = np.empty(0, dtype=np.int64)
        return np.empty(0, dtype=np.uint64), empty, empty
    word, single = _classify(cps)
    in_gram = word | single
    prev_word = np.concatenate(([False], word[:-1]))
    next_word = np.concatenate((word[1:], [False]))
    starts = np.flatnonzero((word & ~prev_word) | single)
    ends = np.flatnonzero((word & ~next_word) | single) + 1
    # Position of every code point inside its gram, then sum(cp * B**position) per gram.
    gram_start = np.zeros(len(cps), dtype=np.int64)
    gram_start[starts] = starts
    np.maximum.accumulate(gram_start, out=gram_start)
    offset = np.arange(len(cps), dtype=np.int64) - gram_start
    inside = np.flatnonzero(in_gram)
    longest = int(offset[inside].max()) + 1 if len(inside) else 1
    powers = np.ones(longest, dtype=np.uint64)
    with np.errstate(over="ignore"):
        if longest > 1:
            powers[1:] = HASH_BASE
            powers = np.cumprod(powers, dtype=np.uint64)
        terms = cps[inside].astype(np.uint64) * powers[offset[inside]]
    # reduceat over the in-gram code points: each gram's code points are contiguous in `inside`.
    first = np.searchsorted(inside, starts)
    hashes = np.add.reduceat(terms, first) if len(first) else np.empty(0, dtype=np.uint64)
    return hashes.astype(np.uint64), starts, ends


@functools.cache
def _gram_ids_kernel():
    """The numba kernel (:mod:`trl_dsm.decontamination._gram_kernel`), imported on first use; None without numba."""
    try:
        from trl_dsm.decontamination._gram_kernel import _gram_ids_kernel as kernel
    except ImportError:  # pragma: no cover - numba is a dependency; the numpy path keeps working without it
        return None
    return kernel


def batch_gram_ids(text: str, vocabulary: VocabularyHashes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vocabulary ids, starts, ends) of the grams of a normalized ``text`` (0 for unknown grams)."""
    kernel = _gram_ids_kernel()
    if kernel is None:
        hashes, starts, ends = batch_grams(text)
        return vocabulary.lookup(hashes), starts, ends
    if text.isascii():
        cps = np.frombuffer(text.encode("ascii"), dtype=np.uint8).astype(np.uint32)
    else:
        cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    astral = np.unique(cps[cps >= _BMP]) if not text.isascii() else np.empty(0, dtype=np.uint32)
    astral_single = np.array([CJK_RE.match(chr(c)) is not None for c in astral.tolist()], dtype=bool)
    astral_word = np.array([chr(c).isalnum() for c in astral.tolist()], dtype=bool) & ~astral_single
    return kernel(
        cps, _WORD, _SINGLE, astral, astral_word, astral_single, vocabulary.hashes, vocabulary.ids, HASH_BASE
    )


class VocabularyHashes:
    """Vocabulary ids by gram hash: a sorted array and a binary search replace a dict of strings."""

    def __init__(self, vocab: dict[str, int], specials: dict[str, int]) -> None:
        items = [(token_hash(t), i) for t, i in vocab.items()] + [(token_hash(t), i) for t, i in specials.items()]
        hashes = np.array([h for h, _ in items], dtype=np.uint64)
        ids = np.array([i for _, i in items], dtype=np.int64)
        order = np.argsort(hashes)
        self.hashes, self.ids = hashes[order], ids[order]
        if len(np.unique(self.hashes)) != len(self.hashes):  # pragma: no cover - 64-bit collision
            raise ValueError("two vocabulary grams share a 64-bit hash; rebuild the index with another HASH_BASE")

    def lookup(self, hashes: np.ndarray) -> np.ndarray:
        """Ids of the grams with these hashes; 0 for grams outside the vocabulary."""
        if len(self.hashes) == 0 or len(hashes) == 0:
            return np.zeros(len(hashes), dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        return np.where(self.hashes[pos] == hashes, self.ids[pos], 0)
