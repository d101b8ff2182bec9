# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Text of a (cleaned) HTML subtree: block elements start new lines (paragraphs, headings, lists, tables and
preformatted blocks are set apart by a blank line), list items get ``- ``, table cells `` | ``, inline text keeps
its order with whitespace collapsed. The walk is iterative (no recursion limit on deep pages) and checks the CPU
budget as it goes.
"""

from __future__ import annotations

import re


SKIP = frozenset(
    [
        "script",
        "style",
        "noscript",
        "template",
        "head",
        "title",
        "meta",
        "link",
        "svg",
        "button",
        "select",
        "option",
        "input",
        "textarea",
        "iframe",
        "object",
        "embed",
        "canvas",
        "map",
        "audio",
        "video",
        "source",
        "track",
        "datalist",
    ]
)
PARAGRAPH = frozenset(
    ["p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "table", "ul", "ol", "dl", "figure", "hr"]
)
LINE = frozenset(
    [
        "div",
        "section",
        "article",
        "main",
        "aside",
        "header",
        "footer",
        "nav",
        "li",
        "dt",
        "dd",
        "tr",
        "br",
        "caption",
        "figcaption",
        "form",
        "fieldset",
        "legend",
        "address",
        "details",
        "summary",
        "center",
        "tbody",
        "thead",
        "tfoot",
        "body",
        "html",
    ]
)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_BLANKS = re.compile(r"\n{3,}")
CHECK_EVERY = 256


def subtree_text(root, check=None) -> str:
    """Text of ``root`` (a selectolax node); ``check()`` is called every ``CHECK_EVERY`` nodes (the CPU budget).

    >>> from selectolax.lexbor import LexborHTMLParser
    >>> page = LexborHTMLParser("<body><h1>Title</h1><p>One <b>bold</b> word.</p><ul><li>a</li><li>b</li></ul>")
    >>> print(subtree_text(page.body))
    Title
    <BLANKLINE>
    One bold word.
    <BLANKLINE>
    - a
    - b
    """
    out: list[str] = []
    # (node, closing marker or None); a closing marker is pushed before the children so it comes out after them
    stack: list = [(root, None)]
    seen = 0
    pre = 0
    while stack:
        node, closing = stack.pop()
        if closing is not None:
            if closing == "/pre":
                pre -= 1
                closing = "\n\n"
            _newlines(out, len(closing))
            continue
        seen += 1
        if check is not None and seen % CHECK_EVERY == 0:
            check()
        tag = node.tag
        if tag == "-text":
            text = node.text_content or ""
            out.append(text if pre else _SPACES.sub(" ", text.replace("\n", " ")))
            continue
        if tag is None or tag[0] == "-" or tag in SKIP:
            continue
        if tag == "br":
            out.append("\n")
            continue
        if tag in PARAGRAPH:
            _newlines(out, 2)
            if tag == "pre":
                pre += 1
                stack.append((node, "/pre"))
            else:
                stack.append((node, "\n\n"))
        elif tag in LINE:
            _newlines(out, 1)
            if tag == "li":
                out.append("- ")
            stack.append((node, "\n"))
        elif tag in ("td", "th"):
            out.append(" | ")
        children = list(node.iter(include_text=True))
        for child in reversed(children):
            stack.append((child, None))
    return tidy("".join(out))


def _newlines(out: list[str], k: int) -> None:
    """End the current line with ``k`` newlines in all (1: a line break, 2: a blank line), counting those that
    end ``out`` already."""
    have = 0
    for piece in reversed(out):
        stripped = piece.rstrip(" ")
        have += len(stripped) - len(stripped.rstrip("\n"))
        if stripped.strip("\n"):
            break
        if have >= k:
            return
    if have < k:
        out.append("\n" * (k - have))


def tidy(text: str) -> str:
    """Collapse runs of spaces, strip each line, keep at most one blank line in a row.

    >>> tidy("  a   b \\n\\n\\n\\n c ")
    'a b\\n\\nc'
    """
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    lines = [line.strip(" |") if line.startswith("|") else line for line in lines]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()
