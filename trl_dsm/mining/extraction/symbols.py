# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Unicode math characters -> TeX commands, shared by the MathML and AsciiMath converters."""

from __future__ import annotations


GREEK = {
    "α": "\\alpha", "β": "\\beta", "γ": "\\gamma", "δ": "\\delta", "ε": "\\epsilon", "ϵ": "\\epsilon",
    "ζ": "\\zeta", "η": "\\eta", "θ": "\\theta", "ϑ": "\\vartheta", "ι": "\\iota", "κ": "\\kappa",
    "λ": "\\lambda", "μ": "\\mu", "ν": "\\nu", "ξ": "\\xi", "π": "\\pi", "ϖ": "\\varpi", "ρ": "\\rho",
    "ϱ": "\\varrho", "σ": "\\sigma", "ς": "\\varsigma", "τ": "\\tau", "υ": "\\upsilon", "φ": "\\varphi",
    "ϕ": "\\phi", "χ": "\\chi", "ψ": "\\psi", "ω": "\\omega", "Γ": "\\Gamma", "Δ": "\\Delta", "Θ": "\\Theta",
    "Λ": "\\Lambda", "Ξ": "\\Xi", "Π": "\\Pi", "Σ": "\\Sigma", "Υ": "\\Upsilon", "Φ": "\\Phi", "Ψ": "\\Psi",
    "Ω": "\\Omega",
}  # fmt: skip

OPERATORS = {
    "±": "\\pm", "∓": "\\mp", "×": "\\times", "÷": "\\div", "·": "\\cdot", "⋅": "\\cdot", "∗": "\\ast",
    "∘": "\\circ", "−": "-", "≤": "\\le", "≥": "\\ge", "≠": "\\ne", "≈": "\\approx", "≡": "\\equiv",
    "∼": "\\sim", "≃": "\\simeq", "≅": "\\cong", "∝": "\\propto", "≪": "\\ll", "≫": "\\gg", "∈": "\\in",
    "∉": "\\notin", "∋": "\\ni", "⊂": "\\subset", "⊃": "\\supset", "⊆": "\\subseteq", "⊇": "\\supseteq",
    "∪": "\\cup", "∩": "\\cap", "∖": "\\setminus", "∅": "\\emptyset", "∀": "\\forall", "∃": "\\exists",
    "¬": "\\neg", "∧": "\\wedge", "∨": "\\vee", "⊕": "\\oplus", "⊗": "\\otimes", "⊥": "\\perp",
    "∥": "\\parallel", "∣": "\\mid", "→": "\\to", "←": "\\leftarrow", "↔": "\\leftrightarrow",
    "⇒": "\\Rightarrow", "⇐": "\\Leftarrow", "⇔": "\\Leftrightarrow", "↦": "\\mapsto", "⟶": "\\longrightarrow",
    "∞": "\\infty", "∂": "\\partial", "∇": "\\nabla", "∑": "\\sum", "∏": "\\prod", "∐": "\\coprod",
    "∫": "\\int", "∬": "\\iint", "∭": "\\iiint", "∮": "\\oint", "⋃": "\\bigcup", "⋂": "\\bigcap",
    "√": "\\surd", "…": "\\dots", "⋯": "\\cdots", "⋮": "\\vdots", "⋱": "\\ddots", "′": "'", "″": "''",
    "⟨": "\\langle", "⟩": "\\rangle", "〈": "\\langle", "〉": "\\rangle", "⌊": "\\lfloor", "⌋": "\\rfloor",
    "⌈": "\\lceil", "⌉": "\\rceil", "ℝ": "\\mathbb{R}", "ℕ": "\\mathbb{N}", "ℤ": "\\mathbb{Z}",
    "ℚ": "\\mathbb{Q}", "ℂ": "\\mathbb{C}", "ℓ": "\\ell", "ℏ": "\\hbar", "°": "^{\\circ}", "†": "\\dagger",
    "∠": "\\angle", "△": "\\triangle", "□": "\\square", "∴": "\\therefore", "∵": "\\because",
    "\u2061": "", "\u2062": "", "\u2063": ",", "\u2064": "+", "\u00a0": " ",
}  # fmt: skip

UNICODE_TEX = {**GREEK, **OPERATORS}

# Names written upright as TeX operators (\sin x).
FUNCTIONS = frozenset(
    [
        "sin",
        "cos",
        "tan",
        "cot",
        "sec",
        "csc",
        "arcsin",
        "arccos",
        "arctan",
        "sinh",
        "cosh",
        "tanh",
        "coth",
        "log",
        "ln",
        "lg",
        "exp",
        "lim",
        "liminf",
        "limsup",
        "sup",
        "inf",
        "max",
        "min",
        "det",
        "dim",
        "ker",
        "deg",
        "gcd",
        "arg",
        "Pr",
        "hom",
        "mod",
    ]
)
# Operators that take limits below/above (\sum_{i=1}^{n}).
BIG_OPERATORS = frozenset(
    ["\\sum", "\\prod", "\\coprod", "\\int", "\\iint", "\\iiint", "\\oint", "\\bigcup", "\\bigcap", "\\lim"]
)


def join(parts) -> str:
    r"""Concatenate TeX pieces, with a space where a command word would run into a letter (``\alpha`` + ``x``).

    >>> print(join(["\\alpha", "x", "+", "\\beta", "2"]))
    \alpha x+\beta2
    """
    out: list[str] = []
    prev = ""
    for part in parts:
        if not part:
            continue
        if prev and part[0].isalpha() and _ends_with_command(prev):
            out.append(" ")
        out.append(part)
        prev = part
    return "".join(out)


def _ends_with_command(tex: str) -> bool:
    r"""Whether ``tex`` ends in a control word such as ``\alpha``."""
    i = len(tex) - 1
    while i >= 0 and tex[i].isalpha():
        i -= 1
    return i < len(tex) - 1 and i >= 0 and tex[i] == "\\"


def to_tex(text: str) -> str:
    r"""``text`` with its Unicode math characters written as TeX commands.

    >>> print(to_tex("α≤βx"))
    \alpha\le\beta x
    """
    return join(UNICODE_TEX.get(ch, ch) for ch in text)
