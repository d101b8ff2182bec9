# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
r"""AsciiMath -> TeX, for pages rendered by MathJax's or ASCIIMathML.js's AsciiMath input (```1/2 bh```).

A recursive-descent parser of the AsciiMath grammar (asciimath.org): ``E ::= I E | I/I``, ``I ::= S_S | S^S |
S_S^S | S``, ``S ::= v | l E r | u S | b S S``. Symbols are matched longest first; round brackets around a
fraction's, a root's or a script's argument are dropped (``(a+1)/2`` -> ``\frac{a+1}{2}``). A script's base is
written in braces (``{x}^{2}``), as the MathML converter writes it. Input longer than ``MAX_CHARS`` is kept as
``\text{...}``.
"""

from __future__ import annotations

import re

from trl_dsm.mining.extraction.symbols import FUNCTIONS as TEX_OPERATORS


MAX_CHARS = 2000

CONST = {
    "+": "+", "-": "-", "*": "\\cdot", "**": "\\ast", "***": "\\star", "//": "/", "\\\\": "\\backslash",
    "setminus": "\\setminus", "xx": "\\times", "|><": "\\ltimes", "><|": "\\rtimes", "|><|": "\\bowtie",
    "-:": "\\div", "divide": "\\div", "@": "\\circ", "o+": "\\oplus", "ox": "\\otimes", "o.": "\\odot",
    "sum": "\\sum", "prod": "\\prod", "^^": "\\wedge", "^^^": "\\bigwedge", "vv": "\\vee", "vvv": "\\bigvee",
    "nn": "\\cap", "nnn": "\\bigcap", "uu": "\\cup", "uuu": "\\bigcup", "=": "=", "!=": "\\ne", "<": "<",
    "lt": "<", "<=": "\\le", "le": "\\le", ">": ">", "gt": ">", ">=": "\\ge", "ge": "\\ge", "mlt": "\\ll",
    "mgt": "\\gg", "-<": "\\prec", ">-": "\\succ", "-<=": "\\preceq", ">-=": "\\succeq", "in": "\\in",
    "!in": "\\notin", "sub": "\\subset", "sup": "\\supset", "sube": "\\subseteq", "supe": "\\supseteq",
    "-=": "\\equiv", "~=": "\\cong", "~~": "\\approx", "~": "\\sim", "prop": "\\propto", "and": "\\text{ and }",
    "or": "\\text{ or }", "not": "\\neg", "=>": "\\implies", "if": "\\text{ if }", "<=>": "\\iff",
    "AA": "\\forall", "EE": "\\exists", "_|_": "\\bot", "TT": "\\top", "|--": "\\vdash", "|==": "\\models",
    "int": "\\int", "oint": "\\oint", "del": "\\partial", "grad": "\\nabla", "+-": "\\pm", "-+": "\\mp",
    "O/": "\\emptyset", "oo": "\\infty", "aleph": "\\aleph", ":.": "\\therefore", ":'": "\\because",
    "...": "\\ldots", "cdots": "\\cdots", "vdots": "\\vdots", "ddots": "\\ddots", "\\ ": "\\ ",
    "quad": "\\quad", "qquad": "\\qquad", "/_": "\\angle", "/_\\": "\\triangle", "diamond": "\\diamond",
    "square": "\\square", "|__": "\\lfloor", "__|": "\\rfloor", "|~": "\\lceil", "~|": "\\rceil",
    "CC": "\\mathbb{C}", "NN": "\\mathbb{N}", "QQ": "\\mathbb{Q}", "RR": "\\mathbb{R}", "ZZ": "\\mathbb{Z}",
    "uarr": "\\uparrow", "darr": "\\downarrow", "rarr": "\\rightarrow", "->": "\\to", "to": "\\to",
    ">->": "\\rightarrowtail", "->>": "\\twoheadrightarrow", "|->": "\\mapsto", "larr": "\\leftarrow",
    "harr": "\\leftrightarrow", "rArr": "\\Rightarrow", "lArr": "\\Leftarrow", "hArr": "\\Leftrightarrow",
    "lim": "\\lim", "Lim": "\\operatorname{Lim}", "dx": "dx", "dy": "dy", "dt": "dt", "|": "|", "||": "\\|",
    ",": ",", ".": ".", ";": ";", ":": ":", "!": "!", "'": "'", "/": "/",
}  # fmt: skip
GREEK = [
    "alpha",
    "beta",
    "gamma",
    "Gamma",
    "delta",
    "Delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "Theta",
    "vartheta",
    "iota",
    "kappa",
    "lambda",
    "Lambda",
    "mu",
    "nu",
    "xi",
    "Xi",
    "pi",
    "Pi",
    "rho",
    "sigma",
    "Sigma",
    "tau",
    "upsilon",
    "phi",
    "Phi",
    "varphi",
    "chi",
    "psi",
    "Psi",
    "omega",
    "Omega",
]
# AsciiMath's function names; those without a TeX operator (sech, lcm, lub, ...) become \operatorname{...}.
FUNCTIONS = [
    "sin",
    "cos",
    "tan",
    "sec",
    "csc",
    "cot",
    "arcsin",
    "arccos",
    "arctan",
    "sinh",
    "cosh",
    "tanh",
    "sech",
    "csch",
    "coth",
    "exp",
    "log",
    "ln",
    "det",
    "dim",
    "mod",
    "gcd",
    "lcm",
    "lub",
    "glb",
    "min",
    "max",
]
UNARY = {
    "sqrt": "\\sqrt", "hat": "\\hat", "bar": "\\overline", "ul": "\\underline", "vec": "\\vec", "dot": "\\dot",
    "ddot": "\\ddot", "tilde": "\\tilde", "overarc": "\\overparen", "obrace": "\\overbrace",
    "ubrace": "\\underbrace", "cancel": "\\cancel", "bb": "\\mathbf", "bbb": "\\mathbb", "cc": "\\mathcal",
    "tt": "\\mathtt", "fr": "\\mathfrak", "sf": "\\mathsf", "text": "\\text", "mbox": "\\text",
    "abs": "abs", "norm": "norm", "floor": "floor", "ceil": "ceil",
}  # fmt: skip
BINARY = {"frac": "\\frac", "root": "\\sqrt", "stackrel": "\\stackrel", "overset": "\\overset",
          "underset": "\\underset", "color": "\\color"}  # fmt: skip
LEFT = {"(": "(", "[": "[", "{": "\\{", "(:": "\\langle", "<<": "\\langle", "{:": "."}
RIGHT = {")": ")", "]": "]", "}": "\\}", ":)": "\\rangle", ">>": "\\rangle", ":}": "."}
_FENCED = {
    "abs": ("|", "|"),
    "norm": ("\\|", "\\|"),
    "floor": ("\\lfloor", "\\rfloor"),
    "ceil": ("\\lceil", "\\rceil"),
}

SYMBOLS: dict[str, tuple[str, str]] = {}
for _k, _v in CONST.items():
    SYMBOLS[_k] = ("const", _v)
for _k in GREEK:
    SYMBOLS[_k] = ("const", "\\" + _k)
for _k in FUNCTIONS:
    SYMBOLS[_k] = ("const", "\\" + _k if _k in TEX_OPERATORS else "\\operatorname{" + _k + "}")
for _k, _v in UNARY.items():
    SYMBOLS[_k] = ("unary", _v)
for _k, _v in BINARY.items():
    SYMBOLS[_k] = ("binary", _v)
for _k, _v in LEFT.items():
    SYMBOLS[_k] = ("left", _v)
for _k, _v in RIGHT.items():
    SYMBOLS[_k] = ("right", _v)
_BY_LENGTH = sorted(SYMBOLS, key=len, reverse=True)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _tokens(text: str) -> list[tuple[str, str]]:
    """``(kind, tex)`` tokens of an AsciiMath string; kinds: const, unary, binary, left, right, text, sub, sup,
    over (``/``)."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == '"':
            j = text.find('"', i + 1)
            j = n if j < 0 else j
            out.append(("const", "\\text{" + text[i + 1 : j] + "}"))
            i = j + 1
            continue
        m = _NUMBER.match(text, i)
        if m:
            out.append(("const", m.group()))
            i = m.end()
            continue
        for sym in _BY_LENGTH:
            if text.startswith(sym, i):
                kind, tex = SYMBOLS[sym]
                out.append((kind, tex))
                i += len(sym)
                break
        else:
            if ch == "_":
                out.append(("sub", "_"))
            elif ch == "^":
                out.append(("sup", "^"))
            else:
                out.append(("const", "\\" + ch if ch in "#%&$" else ch))
            i += 1
    # "/" alone is a fraction bar
    return [("over", "/") if t == ("const", "/") else t for t in out]


class _Parser:
    """Recursive descent over the tokens; each method returns ``(tex, bracketed_inner)``, where
    ``bracketed_inner`` is the content of a round-bracketed group (for dropping those brackets)."""

    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens, self.pos = tokens, 0

    def peek(self) -> tuple[str, str] | None:
        """The next token."""
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def simple(self) -> tuple[str, str | None]:
        """``S``."""
        tok = self.peek()
        if tok is None:
            return "", None
        self.pos += 1
        kind, tex = tok
        if kind == "left":
            inner = self.expression(closing=True)
            close = self.peek()
            right = ""
            if close is not None and close[0] == "right":
                self.pos += 1
                right = close[1]
            if tex == "(" and right == ")":
                return "\\left(" + inner + "\\right)", inner
            if tex == "." or right == ".":
                return ("\\left" + tex + inner + "\\right" + (right or ".")), None
            return tex + inner + right, None
        if kind == "unary":
            arg, inner = self.simple()
            arg = inner if inner is not None else arg
            if tex in _FENCED:
                left, right = _FENCED[tex]
                return "\\left" + left + arg + "\\right" + right, None
            return tex + "{" + arg + "}", None
        if kind == "binary":
            a, ia = self.simple()
            b, ib = self.simple()
            a, b = ia if ia is not None else a, ib if ib is not None else b
            if tex == "\\sqrt":
                return "\\sqrt[" + a + "]{" + b + "}", None
            return tex + "{" + a + "}{" + b + "}", None
        if kind == "right":
            return tex, None
        return tex, None

    def intermediate(self) -> tuple[str, str | None]:
        """``I``: ``S`` with its sub/superscripts."""
        base, inner = self.simple()
        tok = self.peek()
        if tok is None or tok[0] not in ("sub", "sup"):
            return base, inner
        big = base in ("\\sum", "\\prod", "\\int", "\\oint", "\\lim", "\\bigcup", "\\bigcap")
        out = base if big else "{" + base + "}"
        for mark in ("sub", "sup"):
            tok = self.peek()
            if tok is not None and tok[0] == mark:
                self.pos += 1
                arg, ai = self.simple()
                out += tok[1] + "{" + (ai if ai is not None else arg) + "}"
        return out, None

    def expression(self, closing: bool = False) -> str:
        """``E``: a sequence of ``I`` and ``I/I`` until the end (or a closing bracket when ``closing``)."""
        parts: list[str] = []
        while True:
            tok = self.peek()
            if tok is None or (closing and tok[0] == "right"):
                break
            if tok[0] == "right":  # an unmatched closing bracket
                self.pos += 1
                parts.append(tok[1])
                continue
            num, ni = self.intermediate()
            tok = self.peek()
            if tok is not None and tok[0] == "over":
                self.pos += 1
                den, di = self.intermediate()
                num = "\\frac{" + (ni if ni is not None else num) + "}{" + (di if di is not None else den) + "}"
            parts.append(num)
        return _join(parts)


def _join(parts: list[str]) -> str:
    """Tokens joined by spaces (TeX ignores them; they keep ``\\alpha x`` apart)."""
    return " ".join(p for p in parts if p)


def asciimath_to_tex(text: str) -> str:
    r"""TeX of an AsciiMath expression.

    >>> print(asciimath_to_tex("x=(-b +- sqrt(b^2 - 4ac))/(2a)"))
    x = \frac{- b \pm \sqrt{{b}^{2} - 4 a c}}{2 a}
    >>> print(asciimath_to_tex("sum_(k=1)^n k"))
    \sum_{k = 1}^{n} k
    """
    text = text.strip()
    if len(text) > MAX_CHARS:
        return "\\text{" + text + "}"
    return _Parser(_tokens(text)).expression()
