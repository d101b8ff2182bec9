# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""LaTeX canonicalization of an answer pair before math-verify parses it (the symbolic path of the grader).

Three rewrites, each a pure function of the pair, each linear-time (no backtracking regex over unbounded text):

* **Trailing units vs variables** (:func:`strip_trailing_unit`). ``5\\text{ cm}``, ``3\\sqrt{2}\\,\\mathrm{m}`` and
  ``\\frac{1}{2} s`` end in a unit, ``\\frac{2}{k}s`` and ``\\frac{1}{2}s`` against ``\\frac{s}{2}`` end in a
  variable. A trailing letter is a unit only when the rest of its term has no variable of its own and the other
  answer does not use that letter as a variable. (math-verify drops any of ~150 words and letters, ``s``, ``t``,
  ``c``, ``d``, ``ab`` included, after a digit, a brace or a space; its unit normalization is turned off in
  :mod:`trl_dsm.grading.symbolic` in favour of this rule.)
* **Subscripted symbols** (:func:`canonical_subscripts`). ``E_{2}`` and ``E_2``, ``e_{1}`` and ``e_1``, ``x_{n+1}``
  written twice: every symbol with a subscript becomes one opaque SymPy symbol named from its letter and its
  subscript, braces and spaces dropped, the same name on both sides. Without this the ANTLR grammar reads ``e``
  as Euler's number and ``I`` as the imaginary unit (``I_0`` came out as ``i``) and gives up on ``E_2``.
* **Matrices** (:func:`canonical_matrices`). Every ``matrix``/``pmatrix``/``bmatrix``/``Bmatrix``/``smallmatrix``/
  ``array`` environment (starred or not, with column specs, ``\\hline``, ``\\\\[2pt]`` and line breaks) with any
  enclosing brackets (``(``, ``[``, ``\\{``, with or without ``\\left``/``\\right``) becomes one ``pmatrix``;
  ``vmatrix`` and ``|...|`` around a matrix become a ``vmatrix`` (a determinant). Scalar factors are left to
  SymPy (``\\frac{1}{7}M`` is a matrix product it evaluates).
"""

from __future__ import annotations

import re


# ----------------------------------------------------------------------------------------------------
# Letters that are variables
# ----------------------------------------------------------------------------------------------------
_TEXT_GROUP_RE = re.compile(r"\\(?:text\w*|mbox|operatorname\*?|begin|end)\s*\{[^{}]*\}")
_COMMAND_RE = re.compile(r"\\\\|\\[A-Za-z]+")  # a row break (two backslashes) first: no command in "b"
#: Letters that name constants, not variables, when they stand alone (Euler's number, the imaginary unit).
_CONSTANT_LETTERS = frozenset("ei")


def variable_letters(answer: str) -> set[str]:
    """The Latin letters ``answer`` uses as math symbols: text, environment names and command names removed.

    >>> sorted(variable_letters(r"\\frac{2s}{k}+\\sqrt{x}\\text{ cm}"))
    ['k', 's', 'x']
    """
    s = _COMMAND_RE.sub(" ", _TEXT_GROUP_RE.sub(" ", answer))
    return {c for c in s if "a" <= c.lower() <= "z"}


# ----------------------------------------------------------------------------------------------------
# Units
# ----------------------------------------------------------------------------------------------------
_GREEK_NAMES = (
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi "
    "omicron pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta Theta "
    "Lambda Xi Pi Sigma Upsilon Phi Psi Omega"
)
_GREEK = _GREEK_NAMES.split()
_GREEK_SET = frozenset(_GREEK)
#: Unit symbols (case-sensitive): those the numeric fast path accepts after a number (``compare._KNOWN_UNITS``),
#: whose slashed forms (``m/s``) are handled here as two symbols.
_UNIT_NAMES = (
    "mm cm dm km m nm μm um kg mg g t s ms sec min mins h hr hrs ml mL l L ft in yd mi lb lbs oz mph kph "
    "kmh sq deg rad K kW W V A J N Pa Hz"
)
UNIT_SYMBOLS = frozenset(_UNIT_NAMES.split())
#: Words after a space that are functions, not units ("2 sin" is not "2 units").
_FUNCTION_NAMES = "sin cos tan cot sec csc log ln exp lim max min gcd lcm det arcsin arccos arctan"
_FUNCTION_WORDS = frozenset(_FUNCTION_NAMES.split())
_TEXT_UNIT_RE = re.compile(
    r"(?:\\(?:text|textrm|textnormal|textit|textbf|mbox|mathrm)\s*\{([^{}]*)\})"
    r"(?:\s*(?:\^\s*\{?\s*[23]\s*\}?|[²³]))?\s*$"
)
_BARE_UNIT_RE = re.compile(r"(?<![\\A-Za-z])([A-Za-zμ]+(?:/[A-Za-z]+)?)(?:\s*(?:\^\s*\{?\s*[23]\s*\}?|[²³]))?\s*$")
_SEPARATORS = ("\\,", "\\;", "\\:", "\\!", "~", "\\qquad", "\\quad")
#: Where the term that a trailing unit belongs to starts: after the last relation or list separator.
_TERM_START_RE = re.compile(r"(?:=|<|>|\\[lg]eq?\b|\\approx\b|,|;)")


def _term_before(prefix: str) -> str:
    starts = [m.end() for m in _TERM_START_RE.finditer(prefix)]
    return prefix[starts[-1] :] if starts else prefix


def _rstrip_separators(s: str) -> str:
    """``s`` without trailing spaces and math spacing commands (one backwards pass: linear in the stripped part)."""
    end = len(s)
    while end:
        if s[end - 1].isspace():
            run = 0  # backslashes right before the space: an odd run ends in "\\ ", one spacing command
            while run < end - 1 and s[end - 2 - run] == "\\":
                run += 1
            end -= 2 if run % 2 == 1 else 1
            continue
        for sep in _SEPARATORS:
            if s.endswith(sep, 0, end):
                end -= len(sep)
                break
        else:
            break
    return s[:end]


_LAST_COMMAND_RE = re.compile(r"\\([A-Za-z]+)$")


def _ends_an_operand(prefix: str) -> bool:
    """Whether ``prefix`` ends with something a unit can follow: a number, a closing bracket or a symbol, not an
    operator or a command such as ``\\cdot`` (a Greek letter is a symbol)."""
    s = _rstrip_separators(prefix)
    if not s:
        return False
    command = _LAST_COMMAND_RE.search(s[-40:])
    if command is not None:
        return command.group(1) in _GREEK_SET or command.group(1) == "infty"
    return s[-1].isalnum() or s[-1] in ")]}|!'"


def strip_trailing_unit(answer: str, other: str) -> str:
    """``answer`` without a trailing unit, when it has one; ``other`` is the answer it is compared with.

    A ``\\text{}``/``\\mbox{}`` word is always a unit (text is not math), a ``\\mathrm{}`` group one when it holds a
    unit symbol or a word. A bare trailing letter run is a unit when it is a unit symbol (:data:`UNIT_SYMBOLS`)
    or a word of 3+ letters after a space, and: a single letter only when the rest of its term has no variable of
    its own (``\\frac{2}{k}s`` is a product, ``\\frac{1}{2}s`` a half second); never when ``other`` uses all its
    letters as variables (``\\frac{1}{2}s`` against ``\\frac{s}{2}``).

    >>> strip_trailing_unit(r"\\frac{2}{k}s", r"\\frac{2}{k}"), strip_trailing_unit(r"3\\sqrt{2}\\text{ cm}^2", "1")
    ('\\\\frac{2}{k}s', '3\\\\sqrt{2}')
    """
    others = variable_letters(other)
    s = answer.rstrip()
    for _ in range(2):  # "5 \\text{m} s"? at most two trailing unit groups, as math-verify
        text = _TEXT_UNIT_RE.search(s)
        if text is not None:
            content = text.group(1).strip()
            is_mathrm = s[text.start() :].startswith("\\mathrm")
            if (
                is_mathrm
                and content not in UNIT_SYMBOLS
                and not re.fullmatch(r"[A-Za-z]{3,}(?:\s+[A-Za-z]+)*", content)
            ):
                break
            if not re.fullmatch(r"[A-Za-z.\s/°μ]*", content):  # digits or math inside: not a unit
                break
            prefix = s[: text.start()]
            if not _ends_an_operand(prefix):
                break
            s = _rstrip_separators(prefix)
            continue
        bare = _BARE_UNIT_RE.search(s)
        if bare is None:
            break
        token = bare.group(1)
        prefix = s[: bare.start()]
        spaced = _rstrip_separators(prefix) != prefix
        if not _ends_an_operand(prefix):
            break
        letters = {c for c in token if c.isalpha()}
        if token in UNIT_SYMBOLS or token.replace("/", "") in UNIT_SYMBOLS or "/" in token:
            if "/" in token and not all(part in UNIT_SYMBOLS for part in token.split("/")):
                break
        elif not (spaced and len(token) >= 3 and token.isalpha() and token.lower() not in _FUNCTION_WORDS):
            break
        if letters <= others:  # the other answer uses these letters as variables
            break
        term_vars = variable_letters(_term_before(prefix)) - _CONSTANT_LETTERS
        if len(letters) == 1 and len(token) == 1 and term_vars:  # "\\frac{2}{k}s": s multiplies the term
            break
        s = _rstrip_separators(prefix)
    return s


# ----------------------------------------------------------------------------------------------------
# Subscripts
# ----------------------------------------------------------------------------------------------------
_SUBSCRIPT_RE = re.compile(
    r"(?<![\\A-Za-z])([A-Za-z]|\\(?:" + "|".join(sorted(_GREEK, key=len, reverse=True)) + r")(?![A-Za-z]))"
    r"\s*_\s*(\{[^{}]*\}|[A-Za-z0-9])"
)


def _subscript_key(match: re.Match) -> tuple[str, str]:
    sub = match.group(2)
    if sub.startswith("{"):
        sub = sub[1:-1]
    return match.group(1), re.sub(r"\s+|\\[,;:! ]", "", sub)


def canonical_subscripts(pred: str, gold: str) -> tuple[str, str]:
    """Both answers with every subscripted symbol (a letter or Greek letter with a one-character or braced
    subscript) replaced by one opaque symbol, named alike in both: ``E_{2}`` and ``E_2`` become the same symbol,
    ``E_2`` and ``E_3`` different ones, and neither is Euler's number.

    >>> canonical_subscripts("E_{2}-E_{1}", "E_2 - E_1")
    ('\\\\variable{E_{2}}-\\\\variable{E_{1}}', '\\\\variable{E_{2}} - \\\\variable{E_{1}}')
    """
    if "_" not in pred and "_" not in gold:
        return pred, gold
    keys = {_subscript_key(m) for text in (pred, gold) for m in _SUBSCRIPT_RE.finditer(text)}
    if not keys:
        return pred, gold
    names: dict[tuple[str, str], str] = {}
    used: set[str] = set()
    for base, sub in sorted(keys):  # plain subscripts keep their text; others get a fresh alphanumeric tag
        if re.fullmatch(r"[A-Za-z0-9]+", sub):
            names[base, sub] = f"\\variable{{{base}_{{{sub}}}}}"
            used.add(names[base, sub])
    counter = 0
    for base, sub in sorted(keys):
        if (base, sub) in names:
            continue
        while True:
            counter += 1
            name = f"\\variable{{{base}_{{s{counter}x}}}}"
            if name not in used:
                break
        names[base, sub] = name
        used.add(name)

    def rename(text: str) -> str:
        return _SUBSCRIPT_RE.sub(lambda m: names[_subscript_key(m)], text)

    return rename(pred), rename(gold)


# ----------------------------------------------------------------------------------------------------
# Matrices
# ----------------------------------------------------------------------------------------------------
_ENV_BEGIN_RE = re.compile(r"\\begin\s*\{\s*(matrix|pmatrix|bmatrix|Bmatrix|vmatrix|smallmatrix|array)(\*?)\s*\}")
_OPENERS = {"(": ")", "[": "]", "\\{": "\\}", "|": "|", "\\lbrack": "\\rbrack", "\\lbrace": "\\rbrace"}
_OPEN_BEFORE_RE = re.compile(r"(?:\\left\s*|\\[bB]igg?l?\s*)?(\(|\[|\\\{|\||\\lbrack\b|\\lbrace\b)\s*$")
_CLOSE_AFTER_RE = re.compile(r"\s*(?:\\right\s*|\\[bB]igg?r?\s*)?(\)|\]|\\\}|\||\\rbrack\b|\\rbrace\b)")
_ROW_SPACING_RE = re.compile(r"\\\\\s*\[[^\[\]]*\]")
_RULES_RE = re.compile(r"\\hline\b|\\cline\s*\{[^{}]*\}|\\hdashline\b")


def _skip_group(text: str, start: int, opener: str, closer: str) -> int:
    """Index after a balanced ``opener``...``closer`` group starting at ``start`` (after spaces), or ``start``."""
    i = start
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text) or text[i] != opener:
        return start
    depth = 0
    for j in range(i, len(text)):
        if text[j] == opener:
            depth += 1
        elif text[j] == closer:
            depth -= 1
            if depth == 0:
                return j + 1
    return start


def _matrix_body(body: str) -> str | None:
    body = _RULES_RE.sub(" ", _ROW_SPACING_RE.sub(r"\\\\", body))
    rows = [row.strip() for row in body.split("\\\\")]
    while rows and not rows[-1]:
        rows.pop()
    if not rows or any(not row for row in rows):
        return None
    return "\\\\".join("&".join(cell.strip() for cell in row.split("&")) for row in rows)


def canonical_matrices(answer: str) -> str:
    """``answer`` with every matrix written as one ``pmatrix`` and every determinant as one ``vmatrix``.

    >>> canonical_matrices("\\\\left[\\\\begin{array}{cc} 1 & 2 \\\\\\\\\\n 3 & 4 \\\\end{array}\\\\right]")
    '\\\\begin{pmatrix}1&2\\\\\\\\3&4\\\\end{pmatrix}'
    """
    if "\\begin" not in answer:
        return answer
    out: list[str] = []
    pos = 0
    for _ in range(64):  # nested or very many environments: leave the rest as written
        m = _ENV_BEGIN_RE.search(answer, pos)
        if m is None:
            break
        env, star = m.group(1), m.group(2)
        end_re = re.compile(r"\\end\s*\{\s*" + env + re.escape(star) + r"\s*\}")
        body_start = m.end()
        if star:
            body_start = _skip_group(answer, body_start, "[", "]")
        if env == "array":
            body_start = _skip_group(answer, body_start, "{", "}")
        end = end_re.search(answer, body_start)
        if end is None or _ENV_BEGIN_RE.search(answer, body_start, end.start()):
            break
        body = _matrix_body(answer[body_start : end.start()])
        if body is None:
            out.append(answer[pos : end.end()])
            pos = end.end()
            continue
        kind = "vmatrix" if env == "vmatrix" else "pmatrix"
        start, stop = m.start(), end.end()
        before = _OPEN_BEFORE_RE.search(answer, pos, m.start())
        after = _CLOSE_AFTER_RE.match(answer, end.end())
        if before and after and _OPENERS[before.group(1)] == after.group(1):
            if before.group(1) == "|":
                kind = "vmatrix"
            start, stop = before.start(), after.end()
        out.append(answer[pos:start])
        out.append(f"\\begin{{{kind}}}{body}\\end{{{kind}}}")
        pos = stop
    out.append(answer[pos:])
    return "".join(out)


def symbolic_pair(pred: str, gold: str) -> tuple[str, str]:
    """The pair as math-verify should see it: line breaks as spaces (LaTeX reads them so), matrices and
    subscripted symbols canonical, trailing units dropped where they are units."""
    pred, gold = " ".join(pred.split()), " ".join(gold.split())
    pred, gold = canonical_matrices(pred), canonical_matrices(gold)
    pred, gold = strip_trailing_unit(pred, gold), strip_trailing_unit(gold, pred)  # both judged on the originals
    return canonical_subscripts(pred, gold)
