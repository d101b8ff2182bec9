# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""HTML page -> main text with its math kept as TeX (DeepSeekMath §2.1 mines math pages from Common Crawl HTML).

:func:`math_to_tex` rewrites math markup into TeX that survives text extraction: MathJax ``<script
type="math/tex">`` (display mode as ``$$``), KaTeX and MathML ``application/x-tex`` annotations, MathML ``alttext``
and the LaTeX ``alt`` text of formula images; rendered MathJax copies are dropped. :func:`html_to_text` then takes
the main content with trafilatura (tables and comments kept). Raw ``$...$`` in the page text is kept as is.
:func:`decode_html` decodes the page bytes by declared charset before detection.
"""

from __future__ import annotations

import re


_CLASS = 'contains(concat(" ", normalize-space(@class), " "), " {} ")'
_MATHJAX_RENDERED = " or ".join(
    _CLASS.format(c) for c in ("MathJax", "MathJax_Preview", "MathJax_Display", "MathJax_SVG", "MathJax_CHTML")
)
_LATEX_IMG = (
    '//img[@alt and ({} or contains(@src, "latex") or contains(@src, "codecogs") or contains(@src, "mathtex")'
    ' or contains(@src, "tex.cgi") or contains(@src, "/math/render"))]'.format(_CLASS.format("latex"))
)


def _tex(tex: str, display: bool) -> str:
    """``tex`` wrapped in ``$...$`` (``$$...$$`` when ``display``) unless it is delimited already."""
    tex = tex.strip()
    if tex.startswith("$") or tex.startswith("\\(") or tex.startswith("\\["):
        return tex
    return f"$${tex}$$" if display else f"${tex}$"


def _replace(el, text: str) -> None:
    """Replace ``el`` by a span holding ``text``, keeping the text that followed it."""
    from lxml import html

    parent = el.getparent()
    if parent is None:
        return
    span = html.Element("span")
    span.text = text
    span.tail = el.tail
    parent.replace(el, span)


def math_to_tex(tree) -> int:
    """Rewrite math markup in an lxml HTML tree into ``$...$`` / ``$$...$$`` text in place; returns how many
    formulas were rewritten."""
    n = 0
    scripts = tree.xpath('//script[starts-with(@type, "math/tex")]')
    if scripts:  # MathJax 2: the rendered copies duplicate the script sources
        for el in tree.xpath(f"//*[{_MATHJAX_RENDERED}]"):
            if el.getparent() is not None:
                el.drop_tree()
    for el in scripts:
        _replace(el, _tex(el.text or "", "mode=display" in (el.get("type") or "")))
        n += 1
    for el in tree.xpath('//script[starts-with(@type, "math/asciimath")]'):
        _replace(el, f"`{(el.text or '').strip()}`")
        n += 1
    for el in tree.xpath(f"//*[{_CLASS.format('katex')}]"):
        ann = el.xpath('.//*[local-name()="annotation"][@encoding="application/x-tex"]')
        if ann and el.getparent() is not None:
            display = bool(el.xpath(f"ancestor::*[{_CLASS.format('katex-display')}]"))
            _replace(el, _tex(ann[0].text or "", display))
            n += 1
    for el in tree.xpath('//*[local-name()="math"]'):
        if el.getparent() is None:
            continue
        ann = el.xpath('.//*[local-name()="annotation"][@encoding="application/x-tex"]')
        tex = el.get("alttext") or (ann[0].text if ann else None)
        display = el.get("display") == "block" or el.get("mode") == "display"
        if tex:
            _replace(el, _tex(tex, display))
        else:  # presentation MathML only: keep its symbols in reading order
            _replace(el, " ".join(t.strip() for t in el.itertext() if t.strip()))
        n += 1
    for el in tree.xpath(_LATEX_IMG):
        _replace(el, _tex(el.get("alt") or "", False))
        n += 1
    return n


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
