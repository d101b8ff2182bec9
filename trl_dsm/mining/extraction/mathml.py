# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
r"""Presentation MathML -> TeX, for ``<math>`` elements that carry no TeX of their own (no ``alttext``, no
``application/x-tex`` annotation): MathJax 3's assistive MathML, hand-written MathML pages, EPUB-style exports.

The output is plain TeX a reader (or a model) can parse: ``\frac{a}{b}``, ``{x}^{2}`` (a script's base in braces,
so a multi-token base stays one group), ``\sqrt[n]{x}``, ``\sum_{i=1}^{n}``, accents (``\hat``, ``\bar``,
``\vec``, ``\dot``, ``\tilde``), fences as ``\left(`` ... ``\right)``, tables as ``\begin{array}``. Unicode letters
and operators become TeX commands (:mod:`~trl_dsm.mining.extraction.symbols`). Elements nested deeper than
``MAX_DEPTH`` are written as their text.
"""

from __future__ import annotations

from trl_dsm.mining.extraction.symbols import BIG_OPERATORS, FUNCTIONS, join, to_tex


MAX_DEPTH = 64

ACCENTS = {
    "^": "\\hat", "ˆ": "\\hat", "\u0302": "\\hat", "¯": "\\bar", "‾": "\\overline", "\u0304": "\\bar",
    "_": "\\underline", "→": "\\vec", "⃗": "\\vec", "~": "\\tilde", "˜": "\\tilde",
    "\u0303": "\\tilde", "˙": "\\dot", "\u0307": "\\dot", "¨": "\\ddot", "\u0308": "\\ddot", "ˇ": "\\check",
    "˘": "\\breve", "⏞": "\\overbrace", "⏟": "\\underbrace", "︷": "\\overbrace", "︸": "\\underbrace",
}  # fmt: skip
VARIANTS = {
    "bold": "\\mathbf", "double-struck": "\\mathbb", "script": "\\mathcal", "fraktur": "\\mathfrak",
    "italic": "\\mathit", "bold-italic": "\\boldsymbol", "sans-serif": "\\mathsf", "monospace": "\\mathtt",
    "normal": "\\mathrm",
}  # fmt: skip
FENCES = {"(": "(", ")": ")", "[": "[", "]": "]", "{": "\\{", "}": "\\}", "|": "|", "‖": "\\|", "∥": "\\|",
          "⟨": "\\langle", "⟩": "\\rangle", "〈": "\\langle", "〉": "\\rangle", "⌊": "\\lfloor", "⌋": "\\rfloor",
          "⌈": "\\lceil", "⌉": "\\rceil", "": "."}  # fmt: skip
_OPEN = {"(": ")", "[": "]", "{": "}", "⟨": "⟩", "〈": "〉", "⌊": "⌋", "⌈": "⌉"}
_CLOSE = frozenset(_OPEN.values())
_SKIP = frozenset(["annotation", "annotation-xml", "none", "mprescripts", "mphantom"])


def mathml_to_tex(math) -> str:
    r"""TeX of a ``<math>`` element (a selectolax node); its ``application/x-tex`` annotation when it has one.

    >>> from selectolax.lexbor import LexborHTMLParser
    >>> page = LexborHTMLParser("<math><mfrac><mi>a</mi><msup><mi>b</mi><mn>2</mn></msup></mfrac></math>")
    >>> print(mathml_to_tex(page.css_first("math")))
    \frac{a}{{b}^{2}}
    """
    for ann in math.css("annotation"):
        if (ann.attrs.get("encoding") or "").lower() in ("application/x-tex", "tex", "latex"):
            return (ann.text(deep=True) or "").strip()
    return _row(_children(math), 0).strip()


def _children(node) -> list:
    """Element children of ``node``."""
    return [c for c in node.iter(include_text=False) if c.tag and c.tag[0] != "-"]


def _group(tex: str) -> str:
    """``tex`` in braces."""
    return "{" + tex + "}"


def _row(children, depth: int) -> str:
    """TeX of a sequence (an ``mrow`` or an inferred row); an opening fence ``mo`` paired with its closing one in
    the same row is written as ``\\left`` / ``\\right``."""
    parts = [_tex(c, depth + 1) for c in children]
    stack: list[int] = []
    for i, c in enumerate(children):
        if c.tag != "mo":
            continue
        text = (c.text(deep=True) or "").strip()
        if text in _OPEN:
            stack.append(i)
        elif text in _CLOSE and stack and _OPEN[(children[stack[-1]].text(deep=True) or "").strip()] == text:
            j = stack.pop()
            parts[j] = "\\left" + FENCES[(children[j].text(deep=True) or "").strip()]
            parts[i] = "\\right" + FENCES[text]
    return join(parts)


def _token(node, tag: str) -> str:
    """TeX of a token element (``mi``, ``mn``, ``mo``, ``mtext``, ``ms``)."""
    raw = node.text(deep=True) or ""
    text = raw.strip()
    if tag == "mtext":
        return "\\text{" + " ".join(raw.split(" ")) + "}" if text else "\\ "
    if tag == "ms":
        return '\\text{"' + text + '"}'
    if tag == "mi" and len(text) > 1 and text.isalpha():
        tex = "\\" + text if text in FUNCTIONS else "\\mathrm{" + text + "}"
    elif tag == "mo" and text in FUNCTIONS or tag == "mo" and text in ("{", "}"):
        tex = "\\" + text
    else:
        tex = to_tex(text)
    variant = node.attrs.get("mathvariant")
    keep = (tag == "mi" and variant == "italic") or (variant == "normal" and tex.startswith("\\mathrm"))
    if variant and variant in VARIANTS and tex and not keep:
        tex = VARIANTS[variant] + _group(tex)
    return tex


def _script_base(node, depth: int) -> str:
    """A script's base in braces, a large operator bare (``\\sum_{i}``)."""
    base = _tex(node, depth)
    return base if base in BIG_OPERATORS or base.startswith("\\lim") else _group(base)


def _tex(node, depth: int) -> str:
    """TeX of one MathML element."""
    tag = node.tag
    if depth > MAX_DEPTH:
        return to_tex(node.text(deep=True) or "")
    if tag in ("mi", "mn", "mo", "mtext", "ms"):
        return _token(node, tag)
    if tag in _SKIP:
        return ""
    kids = _children(node)
    if tag == "mfrac" and len(kids) == 2:
        num, den = _tex(kids[0], depth + 1), _tex(kids[1], depth + 1)
        if (node.attrs.get("linethickness") or "").strip() in ("0", "0px", "0pt", "0em"):
            return "\\genfrac{}{}{0}{}" + _group(num) + _group(den)
        return "\\frac" + _group(num) + _group(den)
    if tag == "msqrt":
        return "\\sqrt" + _group(_row(kids, depth))
    if tag == "mroot" and len(kids) == 2:
        return "\\sqrt[" + _tex(kids[1], depth + 1) + "]" + _group(_tex(kids[0], depth + 1))
    if tag in ("msup", "msub") and len(kids) == 2:
        mark = "^" if tag == "msup" else "_"
        return _script_base(kids[0], depth + 1) + mark + _group(_tex(kids[1], depth + 1))
    if tag == "msubsup" and len(kids) == 3:
        sub, sup = _tex(kids[1], depth + 1), _tex(kids[2], depth + 1)
        return _script_base(kids[0], depth + 1) + "_" + _group(sub) + "^" + _group(sup)
    if tag in ("munder", "mover", "munderover") and len(kids) >= 2:
        return _under_over(node, tag, kids, depth)
    if tag == "mmultiscripts" and kids:
        return _multiscripts(kids, depth)
    if tag == "mtable":
        return _table(node, kids, depth)
    if tag in ("mtr", "mlabeledtr"):
        return " & ".join(_tex(c, depth + 1) for c in kids)
    if tag == "mfenced":
        return _fenced(node, kids, depth)
    if tag == "menclose":
        inner = _row(kids, depth)
        notation = node.attrs.get("notation") or ""
        if "radical" in notation:
            return "\\sqrt" + _group(inner)
        if "box" in notation or "roundedbox" in notation:
            return "\\boxed" + _group(inner)
        return inner
    if tag == "mspace":
        return "\\\\" if node.attrs.get("linebreak") == "newline" else ""
    if tag in ("semantics", "maction") and kids:
        return _tex(kids[0], depth + 1)
    return _row(kids, depth)  # mrow, mstyle, mpadded, merror, math, unknown elements


def _under_over(node, tag: str, kids, depth: int) -> str:
    """``munder`` / ``mover`` / ``munderover``: limits of a large operator, accents, or ``\\underset``/
    ``\\overset``."""
    base = _tex(kids[0], depth + 1)
    under = _tex(kids[1], depth + 1) if tag != "mover" else ""
    over = _tex(kids[-1], depth + 1) if tag != "munder" and (tag == "mover" or len(kids) >= 3) else ""
    if base in BIG_OPERATORS or base in ("\\lim", "\\max", "\\min", "\\sup", "\\inf") or base.startswith("\\lim"):
        out = base + ("_" + _group(under) if under else "") + ("^" + _group(over) if over else "")
        return out
    if tag == "mover":
        accent = ACCENTS.get((kids[1].text(deep=True) or "").strip())
        if accent:
            return accent + _group(base)
        return "\\overset" + _group(over) + _group(base)
    if tag == "munder":
        accent = ACCENTS.get((kids[1].text(deep=True) or "").strip())
        if accent in ("\\underline", "\\underbrace"):
            return accent + _group(base)
        return "\\underset" + _group(under) + _group(base)
    return "\\underset" + _group(under) + _group("\\overset" + _group(over) + _group(base))


def _multiscripts(kids, depth: int) -> str:
    """``mmultiscripts``: post-scripts on the base, pre-scripts before it (``{}_{a}^{b}X``)."""
    pre = post = ""
    items = kids[1:]
    split = next((i for i, c in enumerate(items) if c.tag == "mprescripts"), len(items))
    for scripts, is_pre in ((items[:split], False), (items[split + 1 :], True)):
        text = ""
        for i in range(0, len(scripts) - 1, 2):
            sub, sup = _tex(scripts[i], depth + 1), _tex(scripts[i + 1], depth + 1)
            text += ("_" + _group(sub) if sub else "") + ("^" + _group(sup) if sup else "")
        if is_pre:
            pre = "{}" + text if text else ""
        else:
            post = text
    return pre + _group(_tex(kids[0], depth + 1)) + post


def _table(node, rows, depth: int) -> str:
    """``mtable`` as ``\\begin{array}{..}`` with the column alignments it declares (centred by default)."""
    body = [_tex(r, depth + 1) for r in rows if r.tag in ("mtr", "mlabeledtr")]
    ncols = max((len(_children(r)) for r in rows), default=1)
    align = (node.attrs.get("columnalign") or "").split()
    cols = "".join({"left": "l", "right": "r"}.get(align[min(i, len(align) - 1)], "c") if align else "c"
                   for i in range(ncols))  # fmt: skip
    return "\\begin{array}{" + cols + "}" + " \\\\ ".join(body) + "\\end{array}"


def _fenced(node, kids, depth: int) -> str:
    """``mfenced``: its children between ``open``/``close`` (default parentheses), separated by commas."""
    attrs = node.attrs
    open_, close = attrs.get("open"), attrs.get("close")
    open_ = "(" if open_ is None else open_.strip()
    close = ")" if close is None else close.strip()
    seps = (attrs.get("separators") if attrs.get("separators") is not None else ",").replace(" ", "")
    parts = []
    for i, c in enumerate(kids):
        if i and seps:
            parts.append(seps[min(i - 1, len(seps) - 1)])
        parts.append(_tex(c, depth + 1))
    return "\\left" + FENCES.get(open_, open_) + join(parts) + "\\right" + FENCES.get(close, close)
