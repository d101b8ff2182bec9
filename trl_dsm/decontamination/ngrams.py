# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Tokens and hashed n-grams for benchmark decontamination (DeepSeekMath §2.1).

The paper removes "any text segment containing a 10-gram string that matches exactly with any sub-string from
the evaluation benchmarks"; benchmark texts shorter than 10 grams but with at least 3 are matched exactly.

* Tokens: NFKC-normalized, lower-cased runs of letters and digits (digits are kept: numbers are what tell
  benchmark items apart); each CJK character is one gram.
* Token ids come from the benchmark vocabulary; a token that no benchmark text contains gets id 0, and an
  n-gram containing a 0 can match nothing, so it is dropped before any lookup.
* An n-gram's hash is the polynomial ``sum(id[k] * B**(n-1-k))`` modulo 2**64 (:func:`ngram_hashes`),
  computed for all positions at once with numpy.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import numpy as np


#: The paper's n-gram length (§2.1).
NGRAM_SIZE = 10
#: Benchmark texts with fewer grams than NGRAM_SIZE but at least this many are matched exactly (§2.1).
MIN_EXACT_GRAMS = 3
#: Multiplier of the polynomial hash (odd, 64-bit).
HASH_BASE = np.uint64(0x9E3779B97F4A7C15)

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
TOKEN_RE = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]++")
CJK_RE = re.compile(rf"[{_CJK}]")
#: Sentinel tokens for line and paragraph breaks (private-use characters; never in real text's grams).
LINE_BREAK, PARAGRAPH_BREAK, DOCUMENT_BREAK = "\ue001", "\ue000", "\ue002"
#: LaTeX command names: alphabetic grams that carry no wording of their own.
LATEX_WORDS = frozenset(
    [
        "frac",
        "dfrac",
        "tfrac",
        "cfrac",
        "sqrt",
        "cdot",
        "cdots",
        "ldots",
        "dots",
        "times",
        "div",
        "left",
        "right",
        "text",
        "textbf",
        "textit",
        "mathrm",
        "mathbf",
        "mathbb",
        "mathcal",
        "begin",
        "end",
        "align",
        "aligned",
        "array",
        "pmatrix",
        "bmatrix",
        "vmatrix",
        "matrix",
        "cases",
        "leq",
        "geq",
        "neq",
        "quad",
        "qquad",
        "infty",
        "sum",
        "prod",
        "int",
        "iint",
        "oint",
        "lim",
        "log",
        "sin",
        "cos",
        "tan",
        "sec",
        "csc",
        "cot",
        "arcsin",
        "arccos",
        "arctan",
        "sinh",
        "cosh",
        "tanh",
        "exp",
        "theta",
        "alpha",
        "beta",
        "gamma",
        "delta",
        "epsilon",
        "varepsilon",
        "lambda",
        "sigma",
        "omega",
        "phi",
        "varphi",
        "angle",
        "circ",
        "triangle",
        "overline",
        "underline",
        "overrightarrow",
        "widehat",
        "hat",
        "vec",
        "boxed",
        "displaystyle",
        "binom",
        "choose",
        "pmod",
        "bmod",
        "equiv",
        "approx",
        "cup",
        "cap",
        "subset",
        "subseteq",
        "notin",
        "forall",
        "exists",
        "partial",
        "nabla",
        "emph",
        "label",
        "tag",
        "nonumber",
        "hline",
        "mbox",
        "operatorname",
        "rightarrow",
        "leftarrow",
        "implies",
        "iff",
        "cdotp",
        "mid",
    ]
)


# Characters whose NFKC form changes the grams of a text: full-width letters and digits (common in Chinese
# pages), super- and subscript digits ("x²" → "x2", as MATH writes x^2), ligatures, circled and fraction forms.
# Other compatibility characters (full-width punctuation, ideographic space) separate grams either way.
_COMPAT_RE = re.compile(
    "[\u00aa\u00b2\u00b3\u00b9\u00ba\u00bc-\u00be\u2070-\u209f\u2150-\u218f"
    "\u2460-\u24ff\u3280-\u32ff\ufb00-\ufb06\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\uff66-\uff9f]"
)


def normalize_text(text: str) -> str:
    """NFKC (full-width digits and letters to ASCII, ``²`` to ``2``) and lower case. NFKC runs only on texts
    that contain such characters, which leaves the grams of every other text unchanged and saves its cost."""
    if not text.isascii() and _COMPAT_RE.search(text) is not None:
        text = unicodedata.normalize("NFKC", text)
    return text.lower()


def tokenize(text: str) -> list[str]:
    """Grams of ``text``: words and numbers, one gram per CJK character.

    >>> tokenize("Janet's ducks lay 16 eggs. 妈咪买了3盒")
    ['janet', 's', 'ducks', 'lay', '16', 'eggs', '妈', '咪', '买', '了', '3', '盒']
    """
    return TOKEN_RE.findall(normalize_text(text))


_TWO_LETTER_WORDS = frozenset(
    [
        "if",
        "is",
        "of",
        "to",
        "in",
        "on",
        "at",
        "be",
        "by",
        "as",
        "an",
        "or",
        "it",
        "we",
        "he",
        "so",
        "no",
        "do",
        "up",
        "my",
        "me",
        "us",
        "am",
        "go",
    ]
)


def is_informative(token: str) -> bool:
    """Whether a gram carries wording: a CJK character, a common two-letter English word, or a word of 3+
    letters that is not a LaTeX command.
    Formula pieces ("a", "2", "frac") are grams too, but ten of them are a tiny formula, not a quotation."""
    if CJK_RE.match(token):
        return True
    if len(token) == 2:
        return token in _TWO_LETTER_WORDS
    return len(token) >= 3 and token.isalpha() and token not in LATEX_WORDS


def window_counts(flags: np.ndarray, n: int) -> np.ndarray:
    """For each n-gram position, how many of its ``n`` entries are True (vectorized prefix sums)."""
    count = len(flags) - n + 1
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    prefix = np.concatenate(([0], np.cumsum(flags, dtype=np.int64)))
    return prefix[n : n + count] - prefix[:count]


def ngram_hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """Hashes of all ``n``-grams of ``ids`` (int array); position ``i`` hashes ``ids[i:i+n]``.

    >>> ngram_hashes(np.array([1, 2, 3]), 2).tolist() == [sequence_hash([1, 2]), sequence_hash([2, 3])]
    True
    """
    ids = np.asarray(ids, dtype=np.uint64)
    count = len(ids) - n + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    h = ids[:count].copy()
    with np.errstate(over="ignore"):
        for k in range(1, n):
            h *= HASH_BASE
            h += ids[k : k + count]
    return h


def hashes_at(ids: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Hashes of the ``length``-grams starting at ``starts`` only (same values as :func:`ngram_hashes`)."""
    ids = np.asarray(ids, dtype=np.uint64)
    h = ids[starts].copy()
    with np.errstate(over="ignore"):
        for k in range(1, length):
            h *= HASH_BASE
            h += ids[starts + k]
    return h


def sequence_hash(ids: Iterable[int]) -> int:
    """The hash of one whole sequence (equal to :func:`ngram_hashes` with ``n = len(ids)``)."""
    h = 0
    for i in ids:
        h = (h * int(HASH_BASE) + int(i)) & 0xFFFFFFFFFFFFFFFF
    return h
