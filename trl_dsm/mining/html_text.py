# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""HTML page -> main text with its math kept as TeX (DeepSeekMath §2.1 mines math pages from Common Crawl HTML).

:func:`html_to_text` is the careful, math-preserving extraction (stage two of :mod:`trl_dsm.mining.extraction`):
every formula as ``$TeX$``/``$$TeX$$`` (MathJax, KaTeX, MathML, MediaWiki math, TeX images, AsciiMath), the main
content without boilerplate, within a hard CPU bound. :func:`math_to_tex` is its formula rewriting alone, on a
parsed page. :func:`decode_html` decodes the page bytes by declared charset before detection.
docs/extraction.md has what is kept and the measurements.
"""

from __future__ import annotations

import re

from trl_dsm.mining.extraction.math import rewrite_math


def math_to_tex(tree) -> int:
    """Rewrite every formula of a parsed page (a selectolax ``LexborHTMLParser``) in place as ``$...$``/``$$...$$``
    text; returns how many were rewritten (:func:`trl_dsm.mining.extraction.math.rewrite_math`)."""
    return rewrite_math(tree)


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-]+)""", re.IGNORECASE)


def decode_html(raw: bytes, charset: str | None = None) -> str:
    """HTTP charset, then ``<meta charset>``, then detection (charset_normalizer); GB2312/GBK read as GB18030."""
    candidates = [charset] if charset else []
    match = _META_CHARSET.search(raw[:4096])
    if match:
        candidates.append(match.group(1).decode("ascii"))
    for name in candidates:
        name = {"gb2312": "gb18030", "gbk": "gb18030"}.get(name.lower(), name)
        try:
            return raw.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(raw).best()
        return str(best) if best is not None else raw.decode("utf-8", errors="replace")


def html_to_text(html_content: str | bytes, url: str | None = None, charset: str | None = None) -> tuple[str, str]:
    """``(title, main text)`` of an HTML page, math kept as TeX; empty strings when nothing can be extracted.

    Stage two of the extraction (:func:`trl_dsm.mining.extraction.extract.extract_main_text`): bytes are decoded by
    :func:`decode_html` (``charset`` first); ``url`` is accepted for the callers that pass it and not used. A page
    past its CPU budget raises :class:`~trl_dsm.mining.extraction.extract.ExtractionTimeout` (a ``TimeoutError``).
    """
    from trl_dsm.mining.extraction.extract import MAX_CHARS, extract_main_text

    if isinstance(html_content, bytes):
        html_content = decode_html(html_content[:MAX_CHARS], charset)
    return extract_main_text(html_content)
