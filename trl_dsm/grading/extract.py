# Copyright 2026 The trl-dsm developers. Licensed under the Apache License, Version 2.0.
"""Final-answer extraction: the one extractor behind every reward, evaluation and demo in trl-dsm.

The DeepSeekMath paper grades chain-of-thought by the final answer (§3, §5): ``\\boxed{}`` for MATH-style
prompts, "The answer is" for GSM8K few-shot prompts, ``#### N`` in GSM8K rationales, "答案是" for the Chinese
benchmarks, the printed ``output`` block for program-of-thought. Every scan here is linear in the input
(no backtracking regex over the whole text), so 1 MB completions cost milliseconds.
"""

from __future__ import annotations

import re
from typing import Literal


Fallback = Literal["none", "last_number", "last_math"]

#: Longest answer span kept after a marker (characters); longer spans are cut.
MAX_ANSWER_CHARS = 2000
#: Boxes separated by at most this many words of text (e.g. "\\boxed{1} and \\boxed{2}") form one answer.
MAX_BOX_GAP_WORDS = 4

_BOX_RE = re.compile(r"\\(?:boxed|fbox)\b")
# Answer markers, matched case-insensitively; the last one in the text wins.
_MARKER_RE = re.compile(
    r"(?:"
    r"(?:the\s+)?(?:final\s+)?answer\s+(?:is|should\s+be|would\s+be|will\s+be)\s*:?"
    r"|final\s+answer(?:\*\*)?\s*[:：]"
    r"|(?:^|\n)[ \t]*(?:\*\*)?(?:answer|a)[ \t]*[:：](?:\*\*)?"
    r"|(?:^|\n)[ \t]*answer\b"
    r"|####"
    r"|(?:最终|所以|故|因此)?答案\s*(?:是|为|為|应为|應為|[:：])"
    r")",
    re.IGNORECASE,
)
# Marker spans that talk about the answer instead of stating it ("the answer is correct").
_NON_ANSWER_RE = re.compile(
    r"(?:correct|incorrect|right|wrong|reasonable|valid|invalid|plausible|consistent|indeed|also|not|as follows"
    r"|shown|given|below|above|that|to be|in the|because|since)\b",
    re.IGNORECASE,
)
_OUTPUT_BLOCK_RE = re.compile(r"```output[ \t]*\n(.*?)```", re.DOTALL)
# A number as written in solutions: sign, thousands separators (",", thin spaces, "{,}"), decimals,
# scientific notation, a simple fraction, a trailing percent sign. Never part of a longer word.
NUMBER_RE = re.compile(
    r"(?<![\w.])(?<!\\)"
    r"[-−+]?"
    r"(?:\d{1,3}(?:(?:,|\{,\}|\\!|\\,| |\u2009|\u202f)\d{3})+(?!\d)|(?<!\d,)\d+,\d+(?!,?\d)|\d+)?(?:\.\d+)?"
    r"(?<=\d)"
    r"(?:[eE][-+]?\d{1,4})?"
    r"(?:/\d+(?:\.\d+)?)?"
    r"(?:\s?(?:\\?%|percent\b))?"
    r"(?!\d)"
)
_DELIMITER_RE = re.compile(r"\$\$|\$|\\\(|\\\)|\\\[|\\\]")
_CLOSER = {"$$": "$$", "$": "$", "\\(": "\\)", "\\[": "\\]"}
_CHAT_TOKENS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")


def math_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every LaTeX math span (``$..$``, ``$$..$$``, ``\\(..\\)``, ``\\[..\\]``), found
    in one left-to-right pass over the delimiters; unclosed or empty spans are skipped."""
    spans = []
    open_at, closer = -1, ""
    for m in _DELIMITER_RE.finditer(text):
        token = m.group(0)
        if open_at < 0:
            if token in _CLOSER:
                open_at, closer = m.start(), _CLOSER[token]
        elif token == closer:
            content = text[open_at + (2 if closer != "$" else 1) : m.start()]
            if content.strip():
                spans.append((open_at, m.end(), content))
            open_at = -1
    return spans


def _outside_math(text: str) -> str:
    """``text`` with its math spans replaced by a space."""
    pieces, last = [], 0
    for start, end, _ in math_spans(text):
        pieces.append(text[last:start])
        last = end
    pieces.append(text[last:])
    return " ".join(pieces)


def _strip_trailer(text: str) -> str:
    """Drop chat-template tokens and what follows them, and a closing "I hope it is correct." (linear)."""
    for token in _CHAT_TOKENS:
        cut = text.find(token)
        if cut >= 0:
            text = text[:cut]
    text = text.rstrip()
    for tail in ("I hope it is correct.", "I hope it is correct"):
        if text.endswith(tail):
            text = text[: -len(tail)].rstrip()
            break
    return text


def _last_match(pattern: re.Pattern, text: str) -> re.Match | None:
    """The last (non-overlapping, left-to-right) match of ``pattern`` in ``text``."""
    found = None
    for found in pattern.finditer(text):  # noqa: B007 - we want the final value
        pass
    return found


def _brace_pairs(text: str) -> dict[int, int]:
    """``{open index: close index}`` for every matched ``{`` (``\\{`` and ``\\}`` skipped): one linear pass."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    skip = -1
    for m in _BRACE_OR_ESCAPE_RE.finditer(text):
        i = m.start()
        if i == skip:
            continue
        ch = text[i]
        if ch == "\\":
            skip = i + 1  # the escaped character
        elif ch == "{":
            stack.append(i)
        elif stack:
            pairs[stack.pop()] = i
    return pairs


_BRACE_OR_ESCAPE_RE = re.compile(r"[{}\\]")


def _box_at(text: str, match: re.Match, pairs: dict[int, int]) -> tuple[int, int, str] | None:
    """(start, end, content) of the box whose command is ``match``; handles ``\\boxed 5`` without braces."""
    i = match.end()
    while i < len(text) and text[i] in " \t":
        i += 1
    if i < len(text) and text[i] == "{":
        close = pairs.get(i)
        if close is None:
            return None
        return match.start(), close + 1, text[i + 1 : close]
    token = re.match(r"[^\s$]+", text[i : i + 200])
    if token is None:
        return None
    return match.start(), i + token.end(), token.group(0)


_GAP_CONNECTOR_RE = re.compile(
    r"\\(?:quad|qquad|text|textbf|mathrm|mbox)\b|\\[,;:! ]|\\\(|\\\)|\\\[|\\\]|\$|[{},;]|\s+|\(\w\)"
)


_BOX_LABEL_RE = re.compile(r"[A-Za-z](?:_\{?\w{1,3}\}?)?\s*=\s*$")


def _joinable_gap(gap: str) -> bool:
    """Whether the text between two boxes only connects them ("and", ", ", "\\quad\\text{or}\\quad", a few words).

    Operators (``\\times``, ``+``, ``=``), sentence ends and paragraph breaks mean the boxes are separate."""
    if len(gap) > 120:  # checked first: the regexes below never see long text
        return False
    gap = _BOX_LABEL_RE.sub("", gap)  # "\\boxed{..} and $y_2 = \\boxed{..}": a label, not an operator
    if (
        len(gap) > 80
        or "\n\n" in gap
        or re.search(r"[.!?](?:\s|$)|[=+*/^<>]|\\(?!quad|qquad|text|textbf|mathrm|mbox|[,;:! ()\[\]])", gap)
    ):
        return False
    words = _GAP_CONNECTOR_RE.sub(" ", gap).split()
    return len(words) <= MAX_BOX_GAP_WORDS and all(w.isalpha() for w in words)


def last_boxed(text: str) -> tuple[int, str] | None:
    """(start, content) of the last ``\\boxed{}`` / ``\\fbox{}``; consecutive boxes joined by short
    connectors ("\\boxed{1} and \\boxed{2}") are returned together as ``"1, 2"``."""
    if "\\boxed" not in text and "\\fbox" not in text:
        return None
    pairs = _brace_pairs(text)
    boxes = []
    for match in _BOX_RE.finditer(text):
        box = _box_at(text, match, pairs)
        if box is not None and (not boxes or box[0] >= boxes[-1][1]):
            boxes.append(box)
    if not boxes:
        return None
    group = [boxes[-1]]  # built from the end, reversed once
    for box in reversed(boxes[:-1]):
        if not _joinable_gap(text[box[1] : group[-1][0]]):
            break
        group.append(box)
    group.reverse()
    return group[0][0], ", ".join(content.strip() for _, _, content in group)


def _answer_span(text: str, start: int) -> str:
    """The answer that follows a marker at ``start``: to the end of the sentence, outside math and braces."""
    # "The answer is:\n\n$$ ... $$": an empty rest of line continues on the next non-empty line.
    rest = text[start : start + MAX_ANSWER_CHARS * 2]
    stripped = rest.lstrip(" \t*:：")
    if stripped.startswith("\n"):
        stripped = stripped.lstrip()
    out = []
    depth = 0
    in_dollar = False
    in_display = False
    i = 0
    n = len(stripped)
    while i < n and i < MAX_ANSWER_CHARS:
        ch = stripped[i]
        if ch == "\\" and i + 1 < n:
            two = stripped[i : i + 2]
            if two in ("\\(", "\\["):
                depth += 1
            elif two in ("\\)", "\\]"):
                depth = max(depth - 1, 0)
            out.append(two)
            i += 2
            continue
        if ch == "$":
            if stripped.startswith("$$", i):
                in_display = not in_display
                out.append("$$")
                i += 2
                continue
            in_dollar = not in_dollar
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(depth - 1, 0)
        elif not in_dollar and not in_display and depth == 0:
            if ch == "\n" and (i + 1 >= n or stripped[i + 1] == "\n" or not out):
                break
            if ch in ".。!?！？" and (i + 1 >= n or stripped[i + 1] in " \n\t\"'*)"):
                break
            if ch == "\n":
                break
        out.append(ch)
        i += 1
    return "".join(out).strip()


_SENTENCE_WORD_RE = re.compile(r"(?<![\\\w])[A-Za-z]{3,}")
_UNITISH = {
    "and",
    "or",
    "units",
    "unit",
    "percent",
    "dollars",
    "dollar",
    "cents",
    "degrees",
    "meters",
    "cm",
    "inches",
    "feet",
    "miles",
    "hours",
    "minutes",
    "seconds",
    "days",
    "years",
    "square",
    "cubic",
}


def _last_number_or_math(text: str) -> str | None:
    """The last LaTeX math span or standalone number of ``text``, whichever ends later (math wins ties)."""
    window = text[-MAX_ANSWER_CHARS * 50 :]
    spans = math_spans(window)
    number = _last_match(NUMBER_RE, window)
    if spans and (number is None or spans[-1][1] >= number.end()):
        return spans[-1][2].strip()
    return number.group(0) if number is not None else None


def _reduce_sentence(answer: str) -> str:
    """Reduce a sentence after a marker ("The largest $n$ is 34") to its answer ("34")."""
    outside_math = _outside_math(answer)
    words = [w for w in _SENTENCE_WORD_RE.findall(outside_math) if w.lower() not in _UNITISH]
    if len(words) < 2:
        return answer
    tail = re.split(r"\s(?:is|are|was|equals|=)\s", answer)
    if len(tail) > 1 and tail[-1].strip():
        return _reduce_sentence(tail[-1].strip())
    return _last_number_or_math(answer) or answer


def strip_math_delimiters(answer: str) -> str:
    """``$x$`` / ``$$x$$`` / ``\\(x\\)`` / ``\\[x\\]`` → ``x``, repeatedly; ``$a$ and $b$`` is left alone (its
    first ``$`` does not close at the end)."""
    answer = answer.strip()
    changed = True
    while changed:
        changed = False
        for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
            if answer.startswith(left) and answer.endswith(right) and len(answer) >= len(left) + len(right):
                inner = answer[len(left) : len(answer) - len(right)]
                if right not in inner:
                    answer, changed = inner.strip(), True
                    break
    return answer


def last_number(text: str) -> str | None:
    """The last standalone number in ``text`` (``1,000.5``, ``-3/4``, ``12%``), or None."""
    found = _last_match(NUMBER_RE, text[-MAX_ANSWER_CHARS * 50 :])
    return found.group(0) if found is not None else None


_REMARK_RE = re.compile(r",?\s+(?:because|since|which|where|as this|as it|so that)\s|,\s+(?:so|and so|thus|hence)\s")
#: Two-letter English words: a sentence made of them ("It is 7.") is prose, not a formula.
_TWO_LETTER_WORDS = frozenset(
    ["it", "is", "so", "be", "of", "to", "in", "on", "at", "by", "as", "an", "or", "if", "we"]
)


def _is_prose(text: str) -> bool:
    """Whether ``text`` (outside its math spans) has words: 3+ letters, or common two-letter words."""
    outside = _outside_math(text)
    if _SENTENCE_WORD_RE.search(outside):
        return True
    return any(w.lower() in _TWO_LETTER_WORDS for w in re.findall(r"(?<![\\\w])[A-Za-z]{2}(?!\w)", outside))


def _last_answer_marker(text: str) -> tuple[int, str] | None:
    """(start, answer) of the last answer marker whose sentence states an answer."""
    for marker in reversed(list(_MARKER_RE.finditer(text))[-8:]):
        span = _answer_span(text, marker.end())
        # "The answer is 5, which is correct." / "... 12 because ...": the remark is not the answer.
        span = _REMARK_RE.split(span, maxsplit=1)[0].strip()
        if span and not _NON_ANSWER_RE.match(span):
            return marker.start(), span if marker.group(0).strip() == "####" else _reduce_sentence(span)
    return None


def extract_answer(text: str, fallback: Fallback = "none") -> str | None:
    """The final answer of a completion, or None if it states none.

    The last ``\\boxed{}`` / ``\\fbox{}`` wins (nested braces; boxes joined only by connectors, as in
    "\\boxed{1} and \\boxed{2}", give ``"1, 2"``). Without a box, the later of the last answer marker
    ("The answer is", "Final Answer:", "Answer:", "A:", GSM8K ``####``, "答案是", "答案：", "答案为";
    remarks such as "the answer is correct" are skipped) and the last program ``output`` block. With ``fallback="last_number"`` a completion without
    any of these yields its last number; ``"last_math"`` its last LaTeX math span or number, whichever is later.

    >>> extract_answer(r"so $x = \\boxed{\\frac{1}{2}}$.")
    '\\\\frac{1}{2}'
    >>> extract_answer("Natalia sold 48+24 = 72 clips.\\n#### 72")
    '72'
    >>> extract_answer("所以答案是 12。")
    '12'
    >>> extract_answer("He has 5 apples.") is None
    True
    >>> extract_answer("He has 5 apples.", fallback="last_number")
    '5'
    """
    if not isinstance(text, str):
        raise TypeError(f"extract_answer expects a string completion, got {type(text).__name__}")
    if "\x00" in text:
        text = text.replace("\x00", "")
    text = _strip_trailer(text)
    candidates: list[tuple[int, str]] = []
    boxed = last_boxed(text)
    if boxed is not None and boxed[1].strip():
        candidates.append(boxed)
    marker = _last_answer_marker(text)
    # After a box, a marker restating the answer wins only if it states something mathematical:
    # "Final Answer: The final answer is $10,455$" does, "the final answer is positive, because" doesn't.
    if marker is not None and (boxed is None or marker[0] < boxed[0] or re.search(r"\d|\$|\\", marker[1])):
        candidates.append(marker)
    output = _last_match(_OUTPUT_BLOCK_RE, text) if "```output" in text else None
    if output is not None and output.group(1).strip():
        lines = [line for line in output.group(1).strip().splitlines() if line.strip()]
        candidates.append((output.start(), lines[-1].strip()))
    if candidates:
        return strip_math_delimiters(max(candidates, key=lambda c: c[0])[1]) or None
    if fallback == "none":
        return None
    if fallback == "last_number":
        return last_number(text)
    if fallback == "last_math":
        bare = text.strip()
        if len(bare) <= 200 and "\n" not in bare and not _is_prose(bare):
            return strip_math_delimiters(bare) or None  # a completion that is nothing but a formula
        found = _last_number_or_math(text)
        return strip_math_delimiters(found) or None if found else None
    raise ValueError(f"fallback must be 'none', 'last_number' or 'last_math', got {fallback!r}")
