# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Main content of a parsed page: boilerplate removed by general rules, nothing keyed to a site.

1. Elements that are never content: ``nav``, ``aside``, ``footer``, ``dialog``, ``menu``, forms' controls,
   embedded media, hidden elements (``hidden``, ``aria-hidden``, inline ``display:none``), ARIA landmarks for
   navigation, search, site banners and footers.
2. Elements whose ``class``/``id`` names them as boilerplate: always for cookie/consent banners, breadcrumbs,
   share/social buttons, ads, newsletter/login boxes, comment forms, pagination, print-excluded parts; for
   navigation, menus, sidebars, footers, banners, related/recommended lists, widgets and popups only when they
   hold no paragraph of prose. Never an element that holds half of the page's text (a wrapper that happens to
   carry such a name).
3. The comment section under a blog post (WordPress/Disqus markup: ``.comments-area``, ``.comment-list``,
   ``#disqus_thread``), when the page has other text; answers and per-post comments of
   question-and-answer and forum pages are kept.
4. Link lists: small blocks whose text is mostly link text.
5. The root of what is left: the page's single ``main`` (or ``role=main``) when it holds most of the text; then
   descend while one child holds nearly all of it (and the rest is short). The page's first ``h1`` is kept when it
   lies above the root. Question-and-answer and forum pages keep every answer and comment because they sit side
   by side under that root.
"""

from __future__ import annotations

import re


NEVER_CONTENT = (
    "script, style, link, meta, nav, aside, footer, dialog, menu, button, select, input, textarea, iframe, object, embed, canvas, video, "
    "audio, svg, noscript, template, [hidden], [aria-hidden=true], [role=navigation], [role=search], "
    "[role=banner], [role=contentinfo], [role=complementary], [role=menubar], [role=menu], [role=dialog], "
    "[role=alertdialog], [role=tablist]"
)
_PREFIX = r"^(?:[a-z0-9]+[-_])*?"
_SUFFIX = r"(?:[-_][a-z0-9-_]*)?$"
# Names that mark boilerplate whatever the element holds.
_STRONG = re.compile(
    _PREFIX + r"(?:cookies?|consent|gdpr|breadcrumbs?|newsletter|subscribe|subscription|signup|login|register|"
    r"share|sharing|sharedaddy|social|share-?buttons|advert\w*|adsense|ads|sponsor\w*|comment-?form|respond|"
    r"reply-?form|skip|skiplinks?|jump-link|sr-only|screen-reader-text|visually-hidden|noprint|no-print|"
    r"print-none|hidden-print|editsection|catlinks|pagination|pager|lang-?list|language-?selector)" + _SUFFIX
)
# Names that mark boilerplate unless the element holds a paragraph of prose (a wrapper named after its layout,
# ``has-sidebar``, ``edit-post-popup``).
_WEAK = re.compile(
    _PREFIX + r"(?:nav|navbar|navbox|navigation|menu|menubar|submenu|sidebar|side-bar|footer|banner|ad|related|"
    r"recommend\w*|popular|trending|modal|popup|overlay|toolbar|widgets?|masthead|topbar|promo\w*|dropdown|"
    r"tooltip|author-?bio|about-?author|tag-?cloud|post-?tags|search|searchbar|searchbox|copyright)" + _SUFFIX
)
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")  # topNav -> top-Nav
# The comment section under a blog post (WordPress, Disqus markup); Q&A answers and forum posts are not marked so.
BLOG_COMMENTS = ".comments-area, .comment-list, .commentlist, #disqus_thread, .comment-respond"
BLOG_COMMENTS_MIN_REST = 300
_DISPLAY_NONE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden")
WRAPPER_SHARE = 0.5
PROSE_CHARS = 250
LINK_DENSITY = 0.5
LINK_BLOCK_MAX_CHARS = 3000
DESCEND_SHARE = 0.85
CHECK_EVERY = 8  # CPU budget checks, in blocks measured (a block can be a whole deep subtree)
DESCEND_REST_CHARS = 400


def text_size(node) -> int:
    """Characters of text under ``node``, whitespace not counted."""
    text = node.text(deep=True) or ""
    return len(text) - text.count(" ") - text.count("\n") - text.count("\t") - text.count("\r")


def boilerplate_name(value: str) -> str | None:
    """``"strong"``/``"weak"`` when a ``class``/``id`` value names a boilerplate element (module docstring), else
    ``None``.

    >>> boilerplate_name("cookie-banner"), boilerplate_name("topNav dark"), boilerplate_name("footnote")
    ('strong', 'weak', None)
    """
    tokens = _CAMEL.sub(r"\1-\2", value).lower().split()
    if any(_STRONG.match(t) for t in tokens):
        return "strong"
    if any(_WEAK.match(t) for t in tokens):
        return "weak"
    return None


def has_prose(node) -> bool:
    """Whether ``node`` holds prose: a ``p`` (or the node itself) with at least ``PROSE_CHARS`` characters of text,
    or ``p`` elements with twice that in all; paragraphs more than a fifth link text do not count."""
    total = 0
    for p in node.css("p") or [node]:
        size = text_size(p)
        if size < 20 or sum(text_size(a) for a in p.css("a")) > 0.2 * size:
            continue
        total += size
        if size >= PROSE_CHARS or total >= 2 * PROSE_CHARS:
            return True
    return False


def remove_boilerplate(tree, check=None) -> None:
    """Steps 1-4 of the module docstring, in place on ``tree`` (a selectolax ``LexborHTMLParser``)."""
    body = tree.body
    if body is None:
        return
    for node in tree.css(NEVER_CONTENT):
        node.remove()
    for node in tree.css("[style]"):
        if _DISPLAY_NONE.search(node.attrs.get("style") or ""):
            node.remove()
    comments = list({c.mem_id: c for c in tree.css(BLOG_COMMENTS)}.values())
    if comments:
        size = text_size(body)
        outer = [c for c in comments if not any(o is not c and _contains(o, c) for o in comments)]
        if size - sum(text_size(c) for c in outer) >= BLOG_COMMENTS_MIN_REST:
            for node in outer:
                node.remove()
    if check is not None:
        check()
    total = max(text_size(body), 1)
    for i, node in enumerate(tree.css("body [class], body [id]")):
        if check is not None and i % CHECK_EVERY == 0:
            check()
        attrs = node.attrs
        name = (attrs.get("class") or "") + " " + (attrs.get("id") or "")
        kind = boilerplate_name(name)
        if kind is None or node.tag in ("html", "body", "main", "article"):
            continue
        if text_size(node) > WRAPPER_SHARE * total or (kind == "weak" and has_prose(node)):
            continue
        node.remove()
    blocks = tree.css("body ul, body ol, body dl, body table, body div, body section, body p, body header")
    for i, node in enumerate(reversed(blocks)):
        if check is not None and i % CHECK_EVERY == 0:
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


def _contains(outer, inner) -> bool:
    """Whether ``inner`` lies inside ``outer``."""
    node = inner.parent
    while node is not None:
        if node.mem_id == outer.mem_id:
            return True
        node = node.parent
    return False


def content_root(tree, check=None):
    """Step 5 of the module docstring: the node whose text is the page's main content."""
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
        if check is not None:
            check()
        size = text_size(root)
        best, best_size = None, 0
        for child in root.iter(include_text=False):
            s = text_size(child)
            if s > best_size:
                best, best_size = child, s
        rest = size - best_size
        if best is None or best.tag in ("p", "pre", "table", "ul", "ol"):
            return root
        if best_size < DESCEND_SHARE * size or rest > DESCEND_REST_CHARS:
            return root
        root = best


def main_heading(tree, root) -> str:
    """The text of the page's first ``h1`` when it lies outside ``root`` (the content root is often the article
    body below its heading); empty otherwise."""
    h1 = tree.css_first("h1")
    if h1 is None or h1.mem_id == root.mem_id or _contains(root, h1):
        return ""
    return " ".join((h1.text(deep=True) or "").split())
