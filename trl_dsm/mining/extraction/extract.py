# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Stage two of the extraction: the careful, math-preserving main text of a page, within a hard CPU bound.

:func:`extract_main_text` parses the page with lexbor (selectolax), rewrites every formula as TeX
(:mod:`~trl_dsm.mining.extraction.math`), removes boilerplate and picks the main content
(:mod:`~trl_dsm.mining.extraction.content`), and writes its text (:mod:`~trl_dsm.mining.extraction.text`).

The bound (:mod:`~trl_dsm.mining.extraction.bound`): a page longer than ``MAX_CHARS`` characters is cut to that
length before parsing; a page nested deeper than ``MAX_NESTING`` is refused before parsing, and the work after
parsing checks the CPU time it has used: both raise :class:`ExtractionTimeout`, a ``TimeoutError`` that the
datatrove extractor step counts as ``timeout`` and skips, so the run goes on.
"""

from __future__ import annotations

import re

from trl_dsm.mining.extraction.bound import CPU_LIMIT_S, MAX_CHARS, ExtractionTimeout, budget, check_nesting
from trl_dsm.mining.extraction.content import content_root, main_heading, remove_boilerplate
from trl_dsm.mining.extraction.math import rewrite_math
from trl_dsm.mining.extraction.text import subtree_text, tidy


__all__ = ["CPU_LIMIT_S", "MAX_CHARS", "ExtractionTimeout", "extract_main_text", "page_title", "tidy_math"]

# A formula that only defines macros renders as nothing (MathJax preambles written into the page).
_MACRO_DEFS = re.compile(
    r"(?:\\\(|\$\$?|\\\[)\s*(?:\\(?:re)?newcommand|\\DeclareMathOperator|\\def\\)[^\n]*?(?:\\\)|\$\$?|\\\])"
)
# Forum markup for math typed as text: [itex]..[/itex] inline, [tex]/[latex]/[math]..[/..] display.
_BBCODE_MATH = re.compile(r"\[(itex|tex|latex|math)\](.+?)\[/\1\]", re.IGNORECASE | re.DOTALL)
# A formula is written with a space either side; none before the punctuation that follows it.
_SPACE_BEFORE_PUNCT = re.compile(r"\$ (?=[.,;:!?)])")
_ASCIIMATH = re.compile(r"asciimath|ASCIIMathML|math/asciimath", re.IGNORECASE)


def page_title(tree) -> str:
    """The ``<title>`` of a page, else its ``og:title``, else its first ``<h1>``."""
    node = tree.css_first("title")
    if node is not None and (node.text() or "").strip():
        return " ".join(node.text().split())
    meta = tree.css_first('meta[property="og:title"]')
    if meta is not None and meta.attrs.get("content"):
        return " ".join((meta.attrs.get("content") or "").split())
    h1 = tree.css_first("h1")
    return " ".join((h1.text() or "").split()) if h1 is not None else ""


def extract_main_text(html: str, cpu_limit: float = CPU_LIMIT_S) -> tuple[str, str]:
    """``(title, main text)`` of a decoded HTML page with its formulas as ``$TeX$``/``$$TeX$$``; empty strings
    for an empty page. Raises :class:`ExtractionTimeout` past ``cpu_limit`` seconds of CPU (module docstring).

    >>> print(extract_main_text('<title>T</title><p>Since <script type="math/tex">x^2\\ge0</script> holds.</p>')[1])
    Since $x^2\\ge0$ holds.
    """
    from selectolax.lexbor import LexborHTMLParser

    check = budget(cpu_limit)
    html = html[:MAX_CHARS]
    if not html.strip():
        return "", ""
    check_nesting(html)
    tree = LexborHTMLParser(html)
    title = page_title(tree)
    check()
    rewrite_math(tree, asciimath=_ASCIIMATH.search(html[:200_000]) is not None)
    check()
    remove_boilerplate(tree, check)
    check()
    root = content_root(tree, check)
    text = subtree_text(root, check)
    heading = main_heading(tree, root)
    if heading and not text.startswith(heading):
        text = heading + "\n\n" + text
    check()
    return title, tidy_math(text)


def tidy_math(text: str) -> str:
    r"""Drop formulas that only define macros; write forum math markup (``[itex]``, ``[tex]``, ``[latex]``,
    ``[math]``) as ``$``/``$$`` TeX; no space between a formula and the punctuation after it.

    >>> print(tidy_math("\\( \\newcommand{\\R}{\\mathbb R} \\)\nLet [itex]x>0[/itex]."))
    Let $x>0$.
    """
    if "newcommand" in text or "\\def\\" in text or "DeclareMathOperator" in text:
        text = tidy(_MACRO_DEFS.sub("", text))
    if "[/" in text:
        text = _BBCODE_MATH.sub(_bbcode_tex, text)
    return _SPACE_BEFORE_PUNCT.sub("$", text)


def _bbcode_tex(match: re.Match) -> str:
    """``$..$`` for ``[itex]``, ``$$..$$`` for the display tags."""
    mark = "$" if match.group(1).lower() == "itex" else "$$"
    return mark + match.group(2).strip() + mark
