# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Stage one of the two-stage extraction: a raw-HTML test for pages that may hold mathematics (DeepSeekMath §2.1
keeps math pages of Common Crawl; most pages hold none and need no careful extraction).

:func:`looks_like_math` lower-cases the page bytes once and runs plain substring tests (C speed, no parsing): math
markup (MathJax/KaTeX/MathML, TeX-image URLs), TeX commands written with their brace (``\\frac{``) and a few math
words. It is tuned to pass nearly every math page; pages it passes still go through the classifier.
"""

from __future__ import annotations

import re


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
)
# Words of mathematics in English text; one is not enough (``theorem`` appears in film reviews).
WORDS = (
    b"theorem",
    b"lemma",
    b"equation",
    b"integral",
    b"derivative",
    b"polynomial",
    b"matrix",
    b"eigenvalue",
    b"probability",
    b"proof",
    b"algebra",
    b"calculus",
    b"geometry",
    b"logarithm",
    b"quadratic",
    b"fraction",
)
MIN_WORDS = 3
WORDS_BYTES = 65_536  # math words are looked for in the page's first 64 KiB (title, description, first text)
# Every MARKUP string contains one of these: six scans rule markup out on most pages.
_ANCHORS = (b"math", b"latex", b"x-tex", b"katex", b"mimetex", b"cht=tx")
_TEX = re.compile(rb"\\(?:" + b"|".join(re.escape(t[1:]) for t in TEX) + rb")")


def looks_like_math(html: bytes | str) -> bool:
    """Whether a raw HTML page may hold mathematics: math markup, a TeX command with its brace, or at least
    ``MIN_WORDS`` different math words in its first ``WORDS_BYTES`` bytes (the page is lower-cased first).

    >>> looks_like_math(b'<p>Roots: <script type="math/tex">x^2</script></p>')
    True
    >>> looks_like_math("<p>Today's weather: sunny, 24 degrees.</p>")
    False
    """
    page = html.lower() if isinstance(html, bytes) else html.lower().encode("utf-8", "ignore")
    if any(a in page for a in _ANCHORS) and any(m in page for m in MARKUP):
        return True
    if b"\\" in page and _TEX.search(page) is not None:
        return True
    head = page[:WORDS_BYTES]
    found = 0
    for w in WORDS:
        if w in head:
            found += 1
            if found >= MIN_WORDS:
                return True
    return False
