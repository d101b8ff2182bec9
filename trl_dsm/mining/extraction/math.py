# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
r"""Every formula of a parsed page rewritten in place as TeX text (``$...$`` inline, ``$$...$$`` display), so that
the text extraction that follows keeps it (DeepSeekMath §2.1 mines math pages; their formulas are the point).

What is read, in this order (each formula once; rendered copies of a formula whose source is kept are dropped):

* MathJax sources: ``<script type="math/tex">`` (``; mode=display`` -> ``$$``), ``math/mml`` (MathML, converted),
  ``math/asciimath`` (converted by :mod:`~trl_dsm.mining.extraction.asciimath`); MathJax 2's rendered copies
  (``MathJax_Preview``, ``MathJax``, ``MathJax_Display``, ``MathJax_SVG``, ``MathJax_CHTML``) are dropped, and
  MathJax 3's ``mjx-container`` is replaced by the TeX of its assistive MathML (or keeps its text when it has none).
* KaTeX: the ``application/x-tex`` annotation of each ``.katex`` element (``.katex-display`` -> ``$$``); its HTML
  rendering is dropped.
* MediaWiki (desktop and mobile Wikipedia): ``.mwe-math-element`` -> the ``alttext`` of its MathML or the ``alt``
  of its fallback image, once.
* Other ``<math>`` elements: ``alttext``, else the ``application/x-tex`` annotation, else presentation MathML
  converted (:mod:`~trl_dsm.mining.extraction.mathml`); ``display="block"`` -> ``$$``.
* Formula images: the TeX in the image URL of the TeX-rendering services (``mimetex.cgi?``/``mathtex.cgi?``,
  ``latex.codecogs.com/...latex?``, Google Chart ``cht=tx&chl=``, WordPress ``latex.php?latex=``, URL-decoded),
  or a TeX-looking ``alt``/``title`` on an image whose class or address says it is a formula.
* AsciiMath between backticks in the text of pages that load an AsciiMath renderer.

Raw TeX in the page text (``$...$``, ``\(...\)``, ``\[...\]``, as StackExchange and forums serve it) is text
already and stays as it is.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote

from trl_dsm.mining.extraction.asciimath import asciimath_to_tex
from trl_dsm.mining.extraction.mathml import mathml_to_tex


MATHJAX_RENDERED = frozenset(
    [
        "MathJax_Preview",
        "MathJax",
        "MathJax_Display",
        "MathJax_SVG",
        "MathJax_SVG_Display",
        "MathJax_CHTML",
        "MathJax_MathML",
        "MJX_Assistive_MathML",
    ]
)  # class names, matched case-sensitively (``class="abstract mathjax"`` is content)
_SOURCE_TYPES = ("math/tex", "math/mml", "math/asciimath")
# Signs that a string is TeX rather than a caption: a command, a script, or braces.
_TEX_LIKE = re.compile(r"\\[A-Za-z]+|[\^_]\{?|[{}=]")
_FORMULA_CLASS = re.compile(r"latex|tex\b|\bmath|equation|formula|wp-smiley-tex", re.IGNORECASE)
_CODECOGS_OPTIONS = re.compile(r"\\(?:dpi\{\d+\}|bg_\w+|bg\{\w+\}|fg_\w+|fn_\w+|inline|large|Large|LARGE|small)\s*")
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)  # forum software leaves line breaks in image URLs
_BACKTICKS = re.compile(r"`([^`\n]{1,400})`")


def delimit(tex: str, display: bool) -> str:
    r"""``tex`` between ``$`` (``$$`` when ``display``), or as it is when it carries its own delimiters.

    >>> delimit(" x^2 ", False), delimit("\\[x\\]", True)
    ('$x^2$', '\\[x\\]')
    """
    tex = " ".join(tex.split())
    if not tex:
        return ""
    if tex.startswith(("$", "\\(", "\\[", "\\begin{equation", "\\begin{align")):
        return tex
    return f"$${tex}$$" if display else f"${tex}$"


def _set(node, text: str) -> None:
    """Replace ``node`` by the text ``text`` (space-padded so it never fuses with neighbouring words)."""
    node.replace_with(f" {text} " if text else " ")


def tex_from_image_url(src: str) -> str | None:
    r"""The TeX in the address of a formula image from a TeX-rendering service, URL-decoded; ``None`` otherwise.

    >>> tex_from_image_url("https://s0.wp.com/latex.php?latex=%5Cfrac%7Ba%7D%7Bb%7D&bg=ffffff")
    '\\frac{a}{b}'
    >>> tex_from_image_url("https://latex.codecogs.com/gif.latex?\\dpi{120}&space;x^2")
    'x^2'
    """
    if not src or "?" not in src:
        return None
    low = src.lower()
    query = src.split("?", 1)[1]
    if "latex.php" in low or "/latex?" in low and "latex=" in low:
        values = parse_qs(query).get("latex")
        return values[0].strip() if values else None
    if "cht=tx" in low:
        values = parse_qs(query).get("chl")
        return values[0].strip() if values else None
    if "codecogs.com" in low or "mimetex" in low or "mathtex" in low or ".latex?" in low:
        tex = unquote(query.replace("&space;", " ").replace("&amp;space;", " "))
        tex = _CODECOGS_OPTIONS.sub("", _HTML_BREAK.sub(" ", tex))
        return tex.strip() or None
    return None


def _looks_like_tex(text: str) -> bool:
    """Whether an ``alt``/``title`` text reads as a TeX formula."""
    return bool(text) and len(text) < 2000 and _TEX_LIKE.search(text) is not None


def rewrite_math(tree, asciimath: bool = False) -> int:
    """Rewrite every formula of ``tree`` (a selectolax ``LexborHTMLParser``) in place as ``$..$``/``$$..$$`` text
    (see the module docstring); ``asciimath`` also converts backtick AsciiMath in the text. Returns the number of
    formulas written.
    """
    n = 0
    scripts = [s for s in tree.css('script[type^="math/"]') if (s.attrs.get("type") or "").startswith(_SOURCE_TYPES)]
    if scripts:
        for node in tree.css('[class*="MathJax" i], [class*="MJX" i]'):
            if not MATHJAX_RENDERED.isdisjoint((node.attrs.get("class") or "").split()):
                node.remove()
        for node in scripts:
            kind = (node.attrs.get("type") or "").lower()
            source = node.text(deep=True) or ""
            if kind.startswith("math/tex"):
                tex = source
            elif kind.startswith("math/mml"):
                from selectolax.lexbor import LexborHTMLParser

                math = LexborHTMLParser(source).css_first("math")
                tex = mathml_to_tex(math) if math is not None else ""
            elif kind.startswith("math/asciimath"):
                tex = asciimath_to_tex(source)
            else:
                continue
            _set(node, delimit(tex, "mode=display" in kind))
            n += 1
    for node in tree.css(".katex"):
        ann = node.css_first('annotation[encoding="application/x-tex"]')
        math = node.css_first("math")
        if ann is not None:
            tex = ann.text(deep=True) or ""
        elif math is not None:
            tex = mathml_to_tex(math)
        else:
            continue
        parent = node.parent
        display = parent is not None and "katex-display" in (parent.attrs.get("class") or "")
        _set(node, delimit(tex, display))
        n += 1
    for node in tree.css(".mwe-math-element"):
        math = node.css_first("math")
        img = node.css_first("img")
        tex = (math.attrs.get("alttext") if math is not None else None) or (
            img.attrs.get("alt") if img is not None else None
        )
        if not tex and math is not None:
            tex = mathml_to_tex(math)
        display = node.css_first(".mwe-math-fallback-image-display, .mwe-math-mathml-display") is not None
        _set(node, delimit(tex or "", display))
        n += 1
    for node in tree.css("mjx-container"):
        math = node.css_first("math")
        if math is not None:
            _set(node, delimit(mathml_to_tex(math), node.attrs.get("display") == "true"))
            n += 1
        else:
            for glyphs in node.css("mjx-math"):
                glyphs.remove()
    for node in tree.css("math"):
        if node.parent is None:
            continue
        tex = node.attrs.get("alttext") or mathml_to_tex(node)
        display = node.attrs.get("display") == "block" or node.attrs.get("mode") == "display"
        _set(node, delimit(tex, display))
        n += 1
    for node in tree.css("img"):
        attrs = node.attrs
        src = attrs.get("src") or attrs.get("data-src") or ""
        alt = (attrs.get("alt") or attrs.get("title") or "").strip()
        from_url = tex_from_image_url(src)
        if from_url is not None:
            tex = alt if _looks_like_tex(alt) else from_url
        elif _looks_like_tex(alt) and _FORMULA_CLASS.search((attrs.get("class") or "") + " " + src):
            tex = alt
        else:
            continue
        _set(node, delimit(tex, False))
        n += 1
    if asciimath:
        n += _rewrite_backticks(tree)
    return n


def _rewrite_backticks(tree) -> int:
    """Backtick AsciiMath in the text nodes of the body (outside ``pre``/``code``) -> ``$TeX$``."""
    body = tree.body
    if body is None:
        return 0
    n = 0
    found = [node for node in body.traverse(include_text=True) if node.tag == "-text"]
    for node in found:  # replaced after the walk: replacing during it would break the traversal
        text = node.text_content or ""
        if "`" not in text or text.count("`") < 2:
            continue
        parent = node.parent
        if parent is not None and parent.tag in ("pre", "code", "textarea", "script", "style"):
            continue
        new, k = _BACKTICKS.subn(lambda m: " " + delimit(asciimath_to_tex(m.group(1)), False) + " ", text)
        if k:
            node.replace_with(new)
            n += k
    return n
