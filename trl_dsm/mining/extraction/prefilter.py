# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Stage one of the two-stage extraction: a raw-HTML test for pages that may hold mathematics (DeepSeekMath §2.1
keeps math pages of Common Crawl; most pages hold none and need no careful extraction).

:func:`looks_like_math` lower-cases the page bytes once and runs plain substring tests (C speed, no parsing): math
markup (MathJax/KaTeX/MathML, TeX-image URLs), TeX commands written with their brace (``\\frac{``) and a few math
words. It is tuned to pass nearly every math page; pages it passes still go through the classifier.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import islice


# Markup that a page holds only to show formulas: MathJax/KaTeX/MathML sources and the TeX-image services.
MARKUP = (
    b"math/tex",
    b"math/asciimath",
    b"math/mml",
    b"<math",
    b"application/x-tex",
    b'class="katex',
    b"mathjax",
    b"katex.min",
    b"mwe-math-element",
    b"mimetex.cgi",
    b"mathtex.cgi",
    b"latex.codecogs.com",
    b"cht=tx",
    b"latex.php?",
    b"/math/render/",
    b"asciimathml",
)
# TeX commands with their opening brace (or a following space for the brace-less ones): in page text they are
# formulas; in page code they are rare (``$$``, ``\\(`` and ``\\[`` are not tested: JavaScript is full of them).
TEX = (
    b"\\frac{",
    b"\\dfrac{",
    b"\\sqrt{",
    b"\\mathbb{",
    b"\\mathrm{",
    b"\\begin{align",
    b"\\begin{equation",
    b"\\begin{pmatrix",
    b"\\left(",
    b"\\sum_",
    b"\\int_",
    b"\\alpha",
    b"\\lambda",
    b"\\infty",
    b"\\cdot ",
    b"\\times ",
    b"\\leq ",
    b"\\pm ",
    b"\\boxed{",
    b"\\sqrt[",
    b"\\text{",
    b"\\hat{",
    b"\\int{",
    b"\\binom{",
    b"\\mathcal{",
    b"\\overline{",
    b"\\vec{",
    b"\\pi",
    b"\\quad",
    b"\\geq",
    b"\\partial",
    b"\\cdots",
    b"\\ldots",
    b"\\bigl",
    b"\\theta",
    b"\\sigma",
    b"\\epsilon",
    b"\\varepsilon",
)
# Words of mathematics, in English, French, Spanish, German, Russian and Chinese; one is not enough (``theorem``
# appears in film reviews). UTF-8 bytes: ``bytes.lower`` folds ASCII only, so the others are written lower-case.
WORDS = tuple(
    w.encode()
    for w in (
        "theorem",
        "lemma",
        "equation",
        "integral",
        "derivative",
        "polynomial",
        "matrix",
        "eigenvalue",
        "probability",
        "proof",
        "algebra",
        "calculus",
        "geometry",
        "logarithm",
        "quadratic",
        "fraction",
        "théorème",
        "équation",
        "dérivée",
        "ecuación",
        "teorema",
        "demostración",
        "gleichung",
        "ableitung",
        "beweis",
        "уравнени",
        "теорем",
        "доказательств",
        "производн",
        "方程",
        "证明",
        "定理",
        "已知",
        "求证",
        "解得",
        "导数",
        "积分",
        "矩阵",
        "多项式",
        "概率",
    )
)
MIN_WORDS = 3
# Words grouped by their first non-ASCII byte (accented Latin, Cyrillic, CJK): a group is looked for only in a page
# that holds its byte.
_WORD_GROUPS: dict[bytes, list[bytes]] = {}
for _w in WORDS:
    _WORD_GROUPS.setdefault(next((bytes([c]) for c in _w if c >= 0x80), b""), []).append(_w)
WORDS_BYTES = 65_536  # math words are looked for in the page's first 64 KiB (title, description, first text)
# Formulas written as plain text, looked for in the page without its scripts and styles (code is full of ``a = 1``
# and ``x^y``): an operation with its result (``x^2 + 3x = 10``, ``3/4 * 12 = 9``), a power (``x^2``, ``3^6``),
# a mathematical symbol (integral, sum, root, inequalities, partial derivative, set membership, quantifiers).
_OPERAND = rb"(?:\d+(?:[.,]\d+)?[a-z]?|\b[a-z])(?:\^\d+)?\)?"
_OPERATOR = rb"(?:[-+*/^]|\xc3\x97|\xc3\xb7|\xe2\x88\x92|\xe2\x8b\x85)"  # ASCII, U+00D7, U+00F7, U+2212, U+22C5
# Each pattern starts with a literal byte, so the scan jumps between candidates; the left side of an equation is
# matched backwards (one anchored match on the reversed bytes before each ``=``).
_EQUALS = re.compile(rb"=[ \t]*\(?-?(?:\d|[a-z](?![a-z]))")
_LEFT = re.compile(_OPERAND + rb"\s*" + _OPERATOR + rb"\s*\(?" + _OPERAND + rb"\s*\Z")  # what _LEFT_REVERSED matches
_OPERAND_REVERSED = rb"\)?(?:\d+\^)?(?:[a-z]?\d+(?:[.,]\d+)?|[a-z](?![a-z0-9_]))"
_OPERATOR_REVERSED = rb"(?:[-+*/^]|\x97\xc3|\xb7\xc3|\x92\x88\xe2|\x85\x8b\xe2)"
_LEFT_REVERSED = re.compile(
    rb"\s*" + _OPERAND_REVERSED + rb"\(?\s*" + _OPERATOR_REVERSED + rb"\s*" + _OPERAND_REVERSED
)
_LEFT_BYTES = 48
_POWER_BASE_END = {bytes([c]) for c in b"0123456789)"}
_POWER = re.compile(rb"\^\(?-?[\da-z]")
_SYMBOL = re.compile(rb"\xe2(?:\x88[\xab\x91\x9a\x82\x88\x80\x83]|\x89[\xa4\xa5\xa0])")  # ∫ ∑ √ ∂ ∈ ∀ ∃, ≤ ≥ ≠
MIN_FORMULAS = 2  # formulas that pass a page alone; one formula passes it with one math word
# The MARKUP strings with ``math`` in one pattern (``Math.floor`` puts ``math`` in most pages' scripts, so a scan
# per string would read most pages in full sixteen times); the others are looked for only in pages holding their
# anchor (tests/test_extraction.py checks that every MARKUP string is found).
_MATH_MARKUP = re.compile(rb"math(?:/tex|/asciimath|/mml|jax|ml|-element|tex\.cgi|/render/)")
_OTHER_MARKUP = tuple(
    (anchor, tuple(m for m in MARKUP if anchor in m and b"math" not in m))
    for anchor in (b"latex", b"x-tex", b"katex", b"mimetex", b"cht=tx")
)
# A command ending in a letter must end there: ``\\pi`` but not ``\\pixel``.
_TEX = re.compile(
    rb"\\(?:" + b"|".join(re.escape(t[1:]) + (rb"(?![a-z])" if t[-1:].isalpha() else b"") for t in TEX) + rb")"
)


def _without_code(page: bytes) -> bytes:
    """``page`` without its ``<script>`` and ``<style>`` elements (an unclosed one runs to the end)."""
    parts, pos = [], 0
    starts = {tag: page.find(b"<" + tag) for tag in (b"script", b"style")}
    while True:
        for tag, start in starts.items():
            if 0 <= start < pos:
                starts[tag] = page.find(b"<" + tag, pos)
        found = [(start, tag) for tag, start in starts.items() if start >= 0]
        if not found:
            break
        start, tag = min(found)
        parts.append(page[pos:start])
        end = page.find(b"</" + tag, start)
        pos = len(page) if end < 0 else end
    parts.append(page[pos:])
    return b" ".join(parts)


def _formulas(text: bytes) -> Iterator[None]:
    """One item per formula written as plain text in ``text`` (lower-cased, without code): equations with an
    operation on their left, powers, mathematical symbols."""
    for m in _EQUALS.finditer(text):
        if _LEFT_REVERSED.match(text[max(0, m.start() - _LEFT_BYTES) : m.start()][::-1]) is not None:
            yield None
    for m in _POWER.finditer(text):
        before = text[max(0, m.start() - 2) : m.start()]
        if before[-1:] in _POWER_BASE_END or (
            before[-1:].isalpha() and not (before[:-1].isalnum() or before[:-1] == b"_")
        ):
            yield None
    for _ in _SYMBOL.finditer(text):
        yield None


def looks_like_math(html: bytes | str) -> bool:
    """Whether a raw HTML page may hold mathematics (the page is lower-cased first): math markup, a TeX command, at
    least ``MIN_WORDS`` different math words in its first ``WORDS_BYTES`` bytes, or formulas written as plain text
    outside its scripts and styles (``MIN_FORMULAS`` of them, or one and a math word).

    >>> looks_like_math(b'<p>Roots: <script type="math/tex">x^2</script></p>')
    True
    >>> looks_like_math("<p>Solve x^2 + 3x = 10: the roots are 2 and -5.</p>")
    True
    >>> looks_like_math("<p>Today's weather: sunny, 24 degrees.</p>")
    False
    """
    page = html.lower() if isinstance(html, bytes) else html.lower().encode("utf-8", "ignore")
    if b"<math" in page or _MATH_MARKUP.search(page) is not None:
        return True
    if any(anchor in page and any(m in page for m in group) for anchor, group in _OTHER_MARKUP):
        return True
    if b"\\" in page and _TEX.search(page) is not None:
        return True
    head = page[:WORDS_BYTES]
    words = 0
    for lead, group in _WORD_GROUPS.items():
        if lead and lead not in head:
            continue
        for w in group:
            if w in head:
                words += 1
                if words >= MIN_WORDS:
                    return True
    needed = MIN_FORMULAS - min(words, 1)
    return sum(1 for _ in islice(_formulas(_without_code(page)), needed)) == needed
