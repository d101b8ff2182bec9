# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Stage one of the two-stage extraction: fast plain text of a page for the math classifier (DeepSeekMath §2.1
scores every candidate page with fastText before the careful extraction of the pages it keeps).

:func:`fast_text` is resiliparse's C extractor (main content, no link lists, alt texts kept) on the page decoded by
the declared charset (else detection, :func:`~trl_dsm.mining.html_text.decode_html`); formulas keep whatever text their markup has. Its bound is stage two's
(:mod:`~trl_dsm.mining.extraction.bound`): the first ``MAX_CHARS`` characters are parsed, and a page nested
deeper than ``MAX_NESTING`` raises :class:`~trl_dsm.mining.extraction.bound.ExtractionTimeout`.
"""

from __future__ import annotations

from trl_dsm.mining.extraction.bound import MAX_CHARS, check_nesting


def fast_text(html: bytes | str) -> tuple[str, str]:
    """``(title, text)`` of a page by resiliparse's main-content extraction; empty strings for an empty page.

    >>> fast_text(b"<html><head><title>T</title></head><body><main><p>Hello world.</p></main></body></html>")
    ('T', 'Hello world.')
    """
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    from trl_dsm.mining.html_text import decode_html

    if isinstance(html, bytes):
        html = decode_html(html[:MAX_CHARS])
    html = html[:MAX_CHARS]
    if not html.strip():
        return "", ""
    check_nesting(html)
    tree = HTMLTree.parse(html)
    title = (tree.title or "").strip()
    text = extract_plain_text(tree, main_content=True, alt_texts=True, links=False, list_bullets=True)
    return title, text.strip()
