# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Main content of a parsed page: boilerplate removed by general rules, nothing keyed to a site.

1. Elements that are never content: ``nav``, ``aside``, ``footer``, ``dialog``, ``menu``, forms' controls,
   embedded media, hidden elements (``hidden``, ``aria-hidden``, inline ``display:none``), ARIA landmarks for
   navigation, search, site banners and footers.
2. Elements whose ``class``/``id`` names them as boilerplate (navigation, menus, breadcrumbs, sidebars, footers,
   cookie/consent banners, ads, share/social buttons, related/recommended lists, newsletter/login boxes, popups,
   pagination, widgets, print-excluded parts) -- unless the element holds most of the page's text (a wrapper
   that happens to carry such a class).
3. Link lists: small blocks whose text is mostly link text.
4. The root of what is left: the page's single ``main`` (or ``role=main``) when it holds most of the text; then
   descend while one child holds nearly all of it. Question-and-answer and forum pages keep every answer and
   comment because they sit side by side under that root.
"""

from __future__ import annotations

import re


NEVER_CONTENT = (
    "script, style, link, meta, nav, aside, footer, dialog, menu, button, select, input, textarea, iframe, object, embed, canvas, video, "
    "audio, svg, noscript, template, [hidden], [aria-hidden=true], [role=navigation], [role=search], "
    "[role=banner], [role=contentinfo], [role=complementary], [role=menubar], [role=menu], [role=dialog], "
    "[role=alertdialog], [role=tablist]"
)
_BOILER = re.compile(
    r"^(?:[a-z0-9]+[-_])*?(?:nav|navbar|navbox|navigation|menu|menubar|submenu|breadcrumbs?|sidebar|side-bar|"
    r"footer|cookies?|consent|gdpr|banner|ads?|advert\w*|adsense|sponsor\w*|share|sharing|sharedaddy|social|"
    r"related|recommend\w*|popular|trending|newsletter|subscribe|subscription|signup|login|register|modal|"
    r"popup|overlay|toolbar|pagination|pager|skip|skiplinks?|widgets?|masthead|topbar|promo\w*|"
    r"comment-?form|respond|noprint|no-print|print-none|hidden-print|editsection|catlinks|jump-link|"
    r"sr-only|screen-reader-text|visually-hidden|copyright|dropdown|tooltip|lang-?list|language-?selector|"
    r"author-?bio|about-?author|tag-?cloud|post-?tags|share-?buttons)(?:[-_][a-z0-9-_]*)?$"
)
_DISPLAY_NONE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden")
WRAPPER_SHARE = 0.5
LINK_DENSITY = 0.5
LINK_BLOCK_MAX_CHARS = 3000
DESCEND_SHARE = 0.85


def text_size(node) -> int:
    """Characters of text under ``node``, whitespace not counted."""
    text = node.text(deep=True) or ""
    return len(text) - text.count(" ") - text.count("\n") - text.count("\t") - text.count("\r")


def is_boilerplate_name(value: str) -> bool:
    """Whether a ``class``/``id`` value names a boilerplate element (any of its tokens does).

    >>> is_boilerplate_name("site-footer dark"), is_boilerplate_name("post-content"), is_boilerplate_name("footnote")
    (True, False, False)
    """
    return any(_BOILER.match(token) for token in value.lower().split())


def remove_boilerplate(tree, check=None) -> None:
    """Steps 1-3 of the module docstring, in place on ``tree`` (a selectolax ``LexborHTMLParser``)."""
    body = tree.body
    if body is None:
        return
    for node in tree.css(NEVER_CONTENT):
        node.remove()
    for node in tree.css("[style]"):
        if _DISPLAY_NONE.search(node.attrs.get("style") or ""):
            node.remove()
    if check is not None:
        check()
    total = max(text_size(body), 1)
    for i, node in enumerate(tree.css("body [class], body [id]")):
        if check is not None and i % 256 == 255:
            check()
        attrs = node.attrs
        name = (attrs.get("class") or "") + " " + (attrs.get("id") or "")
        if node.tag in ("html", "body", "main", "article") or not is_boilerplate_name(name):
            continue
        if text_size(node) > WRAPPER_SHARE * total:
            continue
        node.remove()
    blocks = tree.css("body ul, body ol, body dl, body table, body div, body section, body p, body header")
    for i, node in enumerate(reversed(blocks)):
        if check is not None and i % 128 == 127:
            check()
        size = text_size(node)
        if size == 0 or size > LINK_BLOCK_MAX_CHARS:
            continue
        links = node.css("a")
        if not links:
            continue
        linked = sum(text_size(a) for a in links)
        if linked > LINK_DENSITY * size:
            node.remove()


def content_root(tree):
    """Step 4 of the module docstring: the node whose text is the page's main content."""
    body = tree.body
    if body is None:
        return tree.root
    total = text_size(body)
    if total == 0:
        return body
    mains = tree.css("main, [role=main]")
    root = body
    if len(mains) == 1 and text_size(mains[0]) >= 0.5 * total:
        root = mains[0]
    while True:
        size = text_size(root)
        best, best_size = None, 0
        for child in root.iter(include_text=False):
            s = text_size(child)
            if s > best_size:
                best, best_size = child, s
        if best is None or best_size < DESCEND_SHARE * size or best.tag in ("p", "pre", "table", "ul", "ol"):
            return root
        root = best
